package conn

import (
	"context"
	"time"
)

// Events tell the producer's hooks of connections opening and closing.
// Each is optional (nil costs nothing) and runs on the goroutine where it
// happened (a dialer, a connection's reader, whoever closed it), so it must
// not block: the producer only queues what it is told.
type Events struct {
	// Dialed: an attempt to connect to broker node at addr ended after
	// took, with a connection ready for requests (err nil: dialed, secured,
	// versions negotiated, authenticated) or not.
	Dialed func(node int32, addr string, took time.Duration, err error)
	// Closed: a connection Dialed announced has died: closed, or broken
	// (err says which). Each such connection is closed exactly once, after
	// its Dialed.
	Closed func(node int32, addr string, err error)
}

// dialObserved is Dial when Events watch: Dialed comes before the
// connection can die, and Closed exactly once after it, whichever
// goroutine kills it.
func dialObserved(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	start := cfg.Clock.Now()
	c, err := dialConfigured(ctx, addr, cfg)
	if cfg.Events.Dialed != nil {
		cfg.Events.Dialed(cfg.NodeID, addr, cfg.Clock.Now().Sub(start), err)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.opened = true
	died := c.err
	c.mu.Unlock()
	if died != nil && cfg.Events.Closed != nil {
		// It broke between its handshake and now: fail, which ran before
		// opened was set, left its Closed to us.
		cfg.Events.Closed(cfg.NodeID, addr, died)
	}
	return c, nil
}
