package conn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/plain"
)

// A re-authentication that fails kills the connection before it lets go
// of the write lock (so that nothing is written behind it), but the
// callbacks of what that death fails, Events.Closed and the requests in
// flight, run only once it has let go, as no callback runs under a lock.
// Before, they ran under it, both for a refusal and for a write of the
// exchange that failed half-way.
func TestTheCallbacksOfAFailedExchangeRunOutsideTheWriteLock(t *testing.T) {
	for _, failure := range []string{"refused", "torn write"} {
		t.Run(failure, func(t *testing.T) {
			fake := clock.NewFake(time.Unix(1000, 0))
			fb := newFakeBroker(t)
			var c atomic.Pointer[Conn]
			lockHeld := func() bool { return len(c.Load().writeLock) != 0 }
			closedUnderLock := make(chan bool, 1)
			var tc atomic.Pointer[tearingConn]
			cfg := Config{SASL: plain.New("u", testPassword), Clock: fake, RequestTimeout: 2 * time.Minute,
				Dial:   tearingDial(&tc),
				Events: Events{Closed: func(int32, string, error) { closedUnderLock <- lockHeld() }}}
			done := dialAsync(t, fb, cfg)
			bc := fb.conn(t)
			acceptPlain(t, bc, time.Minute)
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			c.Store(r.c)

			var inFlight *outcome
			doneUnderLock := make(chan bool, 1)
			if failure == "torn write" {
				// A refusal comes after the answers to every request
				// before the exchange; a torn write may leave some
				// unanswered.
				inFlight = newOutcome()
				r.c.Send(context.Background(), &protocol.MetadataRequest{}, func(resp protocol.Response, err error) {
					doneUnderLock <- lockHeld()
					inFlight.done(resp, err)
				})
				expect(t, bc, protocol.Metadata) // left unanswered
				tc.Load().tear.Store(true)       // the handshake's write
			}
			awaitReauthTimer(t, fake, fake.Now(), time.Minute)
			fake.Advance(time.Minute)
			if failure == "refused" {
				bc.reply(expect(t, bc, protocol.SaslHandshake), &protocol.SaslHandshakeResponse{})
				bc.reply(expect(t, bc, protocol.SaslAuthenticate), &protocol.SaslAuthenticateResponse{
					ErrorCode: kerr.SASLAuthenticationFailed.Code, AuthBytes: []byte{}})
			} else {
				if res := inFlight.wait(t, "the request in flight"); !errors.Is(res.err, ErrDisconnected) {
					t.Errorf("the request in flight failed with %v, want ErrDisconnected", res.err)
				}
				if <-doneUnderLock {
					t.Error("the done of the request in flight ran under the write lock")
				}
			}
			select {
			case held := <-closedUnderLock:
				if held {
					t.Error("Events.Closed ran under the write lock")
				}
			case <-time.After(waitTime):
				t.Fatal("Events.Closed was not called within the wait time")
			}
		})
	}
}

// A write of the exchange that fails ends the Dial at once, retriably,
// with the write's error: the request's callback comes with the teardown
// of the connection, which the exchange runs only once it has let go of
// the write lock, so the exchange answers itself from the teardown its
// write returns. Waiting for the callback, it waited out the Dial's ctx.
func TestADialWhoseExchangeWriteFailsEndsAtOnce(t *testing.T) {
	fb := newFakeBroker(t)
	var tc atomic.Pointer[tearingConn]
	answer := fb.apiVersions
	fb.apiVersions = func(bc *brokerConn, r request) {
		tc.Load().tear.Store(true) // the next write: the SaslHandshake's
		answer(bc, r)
	}
	done := dialAsyncWithin(t, fb, Config{SASL: plain.New("u", testPassword), Dial: tearingDial(&tc)}, 4*waitTime)
	r := bounded.Receive(t, done, waitTime, "Dial after its handshake's write failed")
	if !errors.Is(r.err, ErrDisconnected) || !IsRetriable(r.err) || errors.Is(r.err, ErrNotSent) {
		t.Fatalf("Dial error %v, want a retriable ErrDisconnected, possibly written", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "PLAIN") || !strings.Contains(msg, "connection reset by peer") {
		t.Errorf("Dial error %v, want it to name PLAIN and the write's error", r.err)
	}
}

// A broker that hangs up while the mechanism takes its step fails the
// Dial at once, retriably: the step's request, which finds the connection
// dead, is refused unwritten, and the exchange, which holds the write lock
// and no in-flight slot, lets go of the lock alone. Written on the dead
// connection, the request was never answered nor failed, and the Dial
// waited out its ctx.
func TestADialWhoseBrokerHangsUpDuringAStepEndsAtOnce(t *testing.T) {
	fb := newFakeBroker(t)
	mech := &hangUpStep{stepping: make(chan struct{}, 1), transportClosed: make(chan struct{})}
	cfg := Config{SASL: mech, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &closeNoticingConn{Conn: nc, closed: mech.transportClosed}, nil
	}}
	done := dialAsyncWithin(t, fb, cfg, 4*waitTime)
	bc := fb.conn(t)
	bc.reply(expectHandshake(t, bc, "PLAIN"), &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	bounded.Receive(t, mech.stepping, waitTime, "the mechanism's step")
	bc.nc.Close()
	r := bounded.Receive(t, done, waitTime, "Dial after the broker hung up during a step")
	if !errors.Is(r.err, ErrNotSent) || !errors.Is(r.err, ErrDisconnected) || !IsRetriable(r.err) {
		t.Fatalf("Dial error %v, want a retriable ErrDisconnected, not sent", r.err)
	}
}

// hangUpStep is PLAIN whose step lasts until the connection has died of
// the broker's hang-up: until the connection closed its transport, which
// it does once it has marked itself dead.
type hangUpStep struct {
	stepping        chan struct{}
	transportClosed chan struct{}
}

func (m *hangUpStep) Name() string { return "PLAIN" }

func (m *hangUpStep) Start(context.Context, string) (sasl.Session, error) { return m, nil }

func (m *hangUpStep) Step(context.Context, []byte) ([]byte, bool, error) {
	m.stepping <- struct{}{}
	select {
	case <-m.transportClosed:
	case <-time.After(waitTime):
		return nil, false, errors.New("the connection never closed its transport")
	}
	return []byte("\x00u\x00" + testPassword), false, nil
}

// closeNoticingConn is a net.Conn that closes closed when it is closed.
type closeNoticingConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNoticingConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
