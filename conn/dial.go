package conn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Dial connects to addr within DialTimeout (over TLS if cfg.TLS is set),
// negotiates API versions and, if cfg.SASL is set, authenticates. The
// handshake requests are bounded by ctx and by RequestTimeout each.
// Connection failures wrap ErrDisconnected, and so does a SASL mechanism
// that could not start (a token provider failing); a certificate that does
// not verify, a broker that refuses ours, and refused credentials are an
// *AuthError, which is not retriable. A failure matches ctx's error only if
// ctx ended: running out of DialTimeout wraps os.ErrDeadlineExceeded
// instead, as a producer's Send says a ctx error means its caller's ctx
// ended.
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
	nc, err := connect(ctx, addr, cfg)
	if err != nil {
		return nil, err
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
		// A mechanism that cannot start fails the dial too, retriably:
		// there is no session to fall back on, and the reconnect
		// backoff paces the next try.
		session, _, err := c.authenticate(ctx, false)
		if err != nil {
			c.Close()
			return nil, err
		}
		if session.lifetime > 0 {
			c.reauthDone = make(chan struct{})
			go c.reauthenticate(session)
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
			c.featuresEpoch = av.FinalizedFeaturesEpoch
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

// errSetupTimedOut is the cause of connect's context ending at DialTimeout,
// which tells that apart from the caller's ctx ending.
var errSetupTimedOut = errors.New("connection setup timed out")

// connect opens the transport to addr, over TLS if cfg.TLS is set, within
// DialTimeout, or until ctx ends, whether or not cfg.Dial watches its ctx.
// Its failures wrap ErrDisconnected, or are an *AuthError when TLS
// refused.
func connect(ctx context.Context, addr string, cfg Config) (net.Conn, error) {
	setupCtx, cancel := clock.WithTimeoutCause(ctx, cfg.Clock, cfg.DialTimeout, errSetupTimedOut)
	defer cancel()
	// A Dialer need not watch setupCtx (an SSH tunnel's Dial takes no ctx):
	// the dial fails as setupCtx ends all the same, and a connection the
	// Dialer makes after that is closed.
	nc, err := callWithin(setupCtx, func() (net.Conn, error) {
		return cfg.Dial(setupCtx, "tcp", addr)
	}, func(late net.Conn) { late.Close() })
	if err != nil {
		// A connection beside the error is not one: a Dialer that returns
		// tls.DialWithDialer's results as they come gives a nil *tls.Conn
		// there, which Close would dereference.
		if tlsRefused(err) { // a *tls.Dialer in cfg.Dial
			return nil, &AuthError{Addr: addr, Mechanism: mechanismTLS, Err: err}
		}
		return nil, setupFailed(ctx, setupCtx, "dialing "+addr, err, cfg.DialTimeout, "")
	}
	if cfg.TLS == nil {
		return nc, nil
	}
	tc, err := handshakeTLS(setupCtx, nc, addr, cfg.TLS)
	if err != nil {
		if tlsRefused(err) {
			return nil, &AuthError{Addr: addr, Mechanism: mechanismTLS, Err: err}
		}
		return nil, setupFailed(ctx, setupCtx, "TLS handshake with "+addr, err, cfg.DialTimeout, plaintextHint(err, setupCtx))
	}
	return tc, nil
}

// setupFailed is the error of a step of connect that failed with err,
// wrapping ErrDisconnected. It matches the caller's ctx error only if ctx
// ended: a producer's Send takes context.DeadlineExceeded to mean that its
// caller gave up and the record may still be delivered. The end of
// setupCtx at DialTimeout wraps os.ErrDeadlineExceeded instead, and a
// Dialer's own timeout keeps only its text (notCtxError). hint, if any,
// ends the message.
func setupFailed(ctx, setupCtx context.Context, step string, err error, timeout time.Duration, hint string) error {
	if hint != "" {
		hint = "; " + hint
	}
	switch {
	case ctx.Err() != nil:
		// Whatever the failure looks like, the caller's giving up (or
		// a Broker abandoning the dial) caused it.
		return fmt.Errorf("%w: %s: %w", ErrDisconnected, step, context.Cause(ctx))
	case context.Cause(setupCtx) == errSetupTimedOut:
		return fmt.Errorf("%w: %s: %w: no answer within the connection setup timeout (%v)%s",
			ErrDisconnected, step, os.ErrDeadlineExceeded, timeout, hint)
	}
	// The Dialer's own timeout (net.Dialer.Timeout, which net reports as
	// matching context.DeadlineExceeded) is not the caller's.
	return fmt.Errorf("%w: %s: %w%s", ErrDisconnected, step, notCtxError(err), hint)
}

// notCtxError is err, an error of code the caller's ctx did not stop (a
// Dialer, a SASL token provider), or only its text when it matches a
// context's error: that timeout or cancellation was the code's own (a
// net.Dialer's Timeout, an HTTP client's), and a failure matches ctx's
// error only if ctx ended.
func notCtxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errors.New(err.Error())
	}
	return err
}

// plaintextHint guesses, from how a TLS handshake failed after the TCP
// connection was made, that the listener does not speak TLS: one that
// never answers the ClientHello (it waits for the rest of a "request" whose
// size is the hello's first bytes), or that hangs up on it without an alert
// (Kafka's plaintext listener refuses that size and closes). A TLS listener
// answers the hello, and refuses with an alert, which tlsRefused catches.
func plaintextHint(err error, setupCtx context.Context) string {
	if context.Cause(setupCtx) == errSetupTimedOut || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return "is it a plaintext listener?"
	}
	return ""
}
