package conn

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gokafka/producer/internal/backoff"
)

// Broker is the producer's handle on one broker node: it holds at most one
// live Conn, dials lazily when asked for one, and paces reconnection with
// exponential backoff. It is safe for concurrent use.
//
// While backing off, Conn fails at once with a *BackoffError saying when the
// next attempt is allowed, rather than waiting: the sender can move on to
// other brokers' partitions and the metadata refresher to another broker,
// as the Java client's NetworkClient does when a node is not ready.
type Broker struct {
	nodeID    int32
	cfg       Config
	log       *slog.Logger
	reconnect backoff.Exponential

	// ctx ends with Close, abandoning a dial in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu          sync.Mutex
	addr        string
	conn        *Conn
	dialing     *dialAttempt // the dial in progress, shared by all callers
	failures    int          // consecutive failed or lost connections
	lastAttempt time.Time    // when the last dial started
	nextAttempt time.Time    // no dial before this
	lastErr     error        // why the last connection failed or ended
	closed      bool
	// workers counts dial goroutines and goroutines closing dead
	// connections; Close waits for them.
	workers sync.WaitGroup
}

// dialAttempt is one dial, awaited by every caller that wanted a connection
// while it ran.
type dialAttempt struct {
	done chan struct{}
	err  error // set before done is closed; nil when callers should look again
	// cancel abandons the dial, which runs under a ctx of its own so that
	// a move can end it without closing the Broker.
	cancel context.CancelFunc
}

// NewBroker returns a Broker for node nodeID at addr. It does not dial.
func NewBroker(nodeID int32, addr string, cfg Config) *Broker {
	cfg = cfg.withDefaults()
	cfg.NodeID = nodeID
	ctx, cancel := context.WithCancel(context.Background())
	return &Broker{
		nodeID:    nodeID,
		cfg:       cfg,
		log:       cfg.Logger.With("node", nodeID),
		reconnect: backoff.Exponential{Base: cfg.ReconnectBackoff, Max: cfg.ReconnectBackoffMax},
		ctx:       ctx,
		cancel:    cancel,
		addr:      addr,
	}
}

// NodeID is the broker's node id (negative for bootstrap addresses, by the
// producer's convention).
func (b *Broker) NodeID() int32 { return b.nodeID }

// Addr is the address the next dial will use.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Live returns the live connection, if there is one, without dialing or
// waiting.
func (b *Broker) Live() (*Conn, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn == nil {
		return nil, false
	}
	select {
	case <-b.conn.Done():
		return nil, false
	default:
		return b.conn, true
	}
}

// Conn returns a live connection, dialing if there is none. Concurrent
// callers share one dial, which runs on its own goroutine bounded by
// DialTimeout, the Broker's lifetime and its address (SetAddr abandons a
// dial to the old one), not by any caller's ctx: a caller whose ctx ends
// stops waiting (with ctx's error) without cancelling the dial for the
// others. Within the backoff after a failure Conn fails at once with a
// *BackoffError. Dial failures wrap ErrDisconnected; after Close, Conn fails
// with ErrClosed.
func (b *Broker) Conn(ctx context.Context) (*Conn, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, fmt.Errorf("%w: broker %d", ErrClosed, b.nodeID)
		}
		if c := b.conn; c != nil {
			select {
			case <-c.Done():
				b.lost(c)
			default:
				b.mu.Unlock()
				return c, nil
			}
		}
		a := b.dialing
		if a == nil {
			now := b.cfg.Clock.Now()
			if now.Before(b.nextAttempt) {
				err := &BackoffError{Addr: b.addr, Until: b.nextAttempt, Err: b.lastErr}
				b.mu.Unlock()
				return nil, err
			}
			a = b.startDial(now)
		}
		b.mu.Unlock()

		select {
		case <-a.done:
			if a.err != nil {
				return nil, a.err
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a connection to broker %d: %w", b.nodeID, context.Cause(ctx))
		}
	}
}

// NextAttempt is when Conn may dial again: after a failed or lost
// connection, the end of the reconnect backoff, the Until of the
// *BackoffError that Conn fails with before then. A time already past
// means at once.
func (b *Broker) NextAttempt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nextAttempt
}

// Readiness is how soon a Broker can carry a request, best first.
type Readiness int

const (
	// Connected: it holds a live connection.
	Connected Readiness = iota
	// Dialable: Conn would dial at once (or find a dead connection,
	// which it may replace at once or back off from).
	Dialable
	// Unready: a dial is under way, which Conn would join (up to
	// DialTimeout to a host that stopped answering), or the reconnect
	// backoff lasts, or the Broker is closed; or its live connection is
	// to an address the node has moved from (SetAddr), often a host gone
	// without a reset, where a request would wait out RequestTimeout.
	Unready
)

// Readiness says how soon Conn could return a connection, so that a
// request any broker may answer goes to one that can take it now, as the
// Java client's leastLoadedNode prefers a node with a ready connection and
// avoids one connecting or backing off.
func (b *Broker) Readiness() Readiness {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed || b.dialing != nil:
		return Unready
	case b.conn != nil:
		select {
		case <-b.conn.Done():
			return Dialable
		default:
		}
		if b.conn.Addr() != b.addr {
			return Unready
		}
		return Connected
	case b.cfg.Clock.Now().Before(b.nextAttempt):
		return Unready
	}
	return Dialable
}

// lost forgets a connection that died and schedules the next attempt the
// way the Java client does: counted as a failure, paced from when that
// connection was dialed, so a long-lived connection is replaced at once and
// one dropped right after connecting waits the backoff. A connection to an
// address the node has since moved from is no failure: its loss says
// nothing of the new address, dialed at once as after any move. b.mu is
// held.
func (b *Broker) lost(c *Conn) {
	b.conn = nil
	b.log.Debug("kafka connection lost", "addr", c.Addr(), "reason", c.Err())
	b.reap(c)
	if c.Addr() != b.addr {
		return
	}
	b.failures++
	b.lastErr = c.Err()
	b.nextAttempt = b.lastAttempt.Add(b.reconnect.Delay(b.failures))
}

// reap closes c on a goroutine Close waits for. Not inline: the caller may
// be running on c's own reader goroutine (a done callback that asks for a
// connection or moves the broker), and Conn.Close waits for that goroutine.
// b.mu is held and b is not closed, so the WaitGroup cannot be mid-Wait.
func (b *Broker) reap(c *Conn) {
	b.workers.Add(1)
	go func() {
		defer b.workers.Done()
		c.Close()
	}()
}

// startDial starts a dial to the current address on a goroutine Close
// waits for. b.mu is held and b is not closed.
func (b *Broker) startDial(now time.Time) *dialAttempt {
	ctx, cancel := context.WithCancel(b.ctx)
	a := &dialAttempt{done: make(chan struct{}), cancel: cancel}
	b.dialing = a
	b.lastAttempt = now
	b.workers.Add(1)
	go b.dial(ctx, a, b.addr)
	return a
}

// abandonDial ends the dial in progress, if any, for an address nobody
// wants any more, and lets its callers look again at once rather than when
// the dial gives up: a dial to a host that stopped answering lasts
// DialTimeout. b.mu is held.
func (b *Broker) abandonDial() {
	a := b.dialing
	if a == nil {
		return
	}
	b.dialing = nil
	a.cancel()
	close(a.done)
}

// dial runs one attempt and publishes its outcome, unless the attempt was
// abandoned meanwhile.
func (b *Broker) dial(ctx context.Context, a *dialAttempt, addr string) {
	defer b.workers.Done()
	c, err := Dial(ctx, addr, b.cfg)
	a.cancel() // releases ctx's resources

	b.mu.Lock()
	if b.dialing != a {
		// Moved or closed while dialing: abandonDial has let the callers
		// go, and the outcome concerns an address nobody wants, so it is
		// no failure to back off from, and a connection made anyway is
		// closed.
		b.mu.Unlock()
		if c != nil {
			c.Close()
		}
		return
	}
	b.dialing = nil
	switch {
	case err != nil:
		b.failures++
		b.lastErr = err
		b.nextAttempt = b.cfg.Clock.Now().Add(b.reconnect.Delay(b.failures))
		a.err = err
		b.log.Debug("kafka connection failed", "addr", addr, "err", err, "failures", b.failures, "retry_at", b.nextAttempt)
	default:
		b.conn = c
		b.failures = 0
		b.lastErr = nil
	}
	b.mu.Unlock()
	close(a.done)
}

// SetAddr points the Broker's next dial at a new address, as metadata says
// the node has moved. A live connection stays in use for every request
// until it breaks, as the Java client keys its connections by node id: it
// reaches the same broker process, whose node id cannot have changed.
// Closed, it would fail its requests in flight, which the broker may still
// write, written twice when retried; and a second connection beside it
// would let a partition's batches overtake each other. A dial to the old
// address, which carries no request yet, is abandoned, and callers waiting
// for it dial the new one. That dial, and the one after the live
// connection breaks, happen at once: failures at the old address say
// nothing about the new one.
func (b *Broker) SetAddr(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addr == addr || b.closed {
		return
	}
	b.addr = addr
	b.abandonDial()
	b.failures = 0
	b.nextAttempt = time.Time{}
	b.lastErr = nil
	b.log.Debug("kafka broker moved", "addr", addr)
}

// Close closes the connection, abandons a dial in progress and waits for
// every goroutine the Broker started, but not for a Dialer's or a SASL
// mechanism's call that ignores its ctx: such a call is left to run on by
// itself, and a connection a Dialer returns too late is closed. Later Conn
// calls fail with ErrClosed.
// Close is idempotent. Like Conn.Close, it must not be called from a done
// callback of the Broker's connection.
func (b *Broker) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	// The dial's Dialer and SASL calls are left to run on (callWithin).
	b.abandonDial()
	old := b.conn
	b.conn = nil
	b.mu.Unlock()
	b.cancel()
	if old != nil {
		old.Close()
	}
	b.workers.Wait()
}
