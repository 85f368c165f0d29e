package conn

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
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
				Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err != nil {
						return nil, err
					}
					torn := &tearingConn{Conn: nc, err: errors.New("connection reset by peer")}
					tc.Store(torn)
					return torn, nil
				},
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
