package conn

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Dial connects to addr within DialTimeout (over TLS if cfg.TLS is set),
// negotiates API versions and, if cfg.SASL is set, authenticates. The
// handshake requests are bounded by ctx and by RequestTimeout each.
// Connection failures wrap ErrDisconnected; a certificate that does not
// verify, a broker that refuses ours, and refused credentials are an
// *AuthError, which is not retriable.
//
// Negotiation sends ApiVersions at the highest version this client speaks.
// A broker that does not speak it answers UNSUPPORTED_VERSION in a v0
// response listing the ApiVersions versions it does speak (KIP-511); Dial
// retries once at the best common one, or at v0, which every broker since
// 0.10 speaks.
func Dial(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	if cfg.Events.Dialed == nil && cfg.Events.Closed == nil {
		return dialConfigured(ctx, addr, cfg)
	}
	return dialObserved(ctx, addr, cfg)
}

// dialConfigured is Dial with cfg's defaults filled.
func dialConfigured(ctx context.Context, addr string, cfg Config) (*Conn, error) {
	dialCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	nc, err := cfg.Dial(dialCtx, "tcp", addr)
	if err == nil && cfg.TLS != nil {
		nc, err = handshakeTLS(dialCtx, nc, addr, cfg.TLS)
	}
	cancel()
	if err != nil {
		if tlsRefused(err) {
			return nil, &AuthError{Addr: addr, Mechanism: mechanismTLS, Err: err}
		}
		return nil, fmt.Errorf("%w: dialing %s: %w", ErrDisconnected, addr, err)
	}
	c := newConn(nc, addr, cfg)
	if err := c.negotiate(ctx); err != nil {
		c.Close()
		if tlsRefused(err) {
			// With TLS 1.3 the broker judges our certificate after the
			// client's handshake ends: its refusal comes at the first read.
			return nil, &AuthError{Addr: addr, Mechanism: mechanismTLS, Err: err}
		}
		return nil, err
	}
	if cfg.SASL != nil {
		began := cfg.Clock.Now()
		// A mechanism that cannot start fails the dial too: there is
		// no session to fall back on.
		lifetime, _, err := c.authenticate(ctx)
		if err != nil {
			c.Close()
			return nil, err
		}
		if lifetime > 0 {
			c.reauthDone = make(chan struct{})
			go c.reauthenticate(lifetime, began.Add(lifetime))
		}
	}
	c.log.Debug("kafka connection established", "apis", len(c.versions))
	return c, nil
}

// negotiate runs the ApiVersions exchange and stores the broker's ranges.
func (c *Conn) negotiate(ctx context.Context) error {
	req := &protocol.ApiVersionsRequest{
		ClientSoftwareName:    c.cfg.SoftwareName,
		ClientSoftwareVersion: c.cfg.SoftwareVersion,
	}
	v := protocol.Supported(protocol.ApiVersions).Max
	for retried := false; ; retried = true {
		resp, err := c.RequestVersion(ctx, req, v)
		if err != nil {
			return fmt.Errorf("ApiVersions v%d to %s: %w", v, c.addr, err)
		}
		av := resp.(*protocol.ApiVersionsResponse)
		if av.ErrorCode == 0 {
			c.versions = protocol.NewBrokerVersions(av)
			c.features = make(map[string]int16, len(av.FinalizedFeatures))
			for _, f := range av.FinalizedFeatures {
				c.features[f.Name] = f.MaxVersionLevel
			}
			return nil
		}
		if av.ErrorCode == kerr.UnsupportedVersion.Code && !retried && v > 0 {
			next := protocol.ApiVersionsRetryVersion(av)
			if next >= v {
				next = 0 // the broker contradicts itself; fall back all the way
			}
			c.log.Debug("broker rejected ApiVersions version, retrying", "version", v, "retry", next)
			v = next
			continue
		}
		return fmt.Errorf("ApiVersions v%d to %s: %w", v, c.addr, kerr.ForCode(av.ErrorCode))
	}
}
