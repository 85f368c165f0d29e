package sender

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol/kerr"
)

// A connection the broker refuses to authenticate fails the ready batches
// at once, and so does the reconnect backoff that follows the refusal.
func TestAuthErrorFailsReadyBatches(t *testing.T) {
	refused := &conn.AuthError{Addr: "b1:9093", Mechanism: "SCRAM-SHA-512", Err: kerr.SaslAuthenticationFailed}
	var connectErr atomic.Pointer[error]
	set := func(err error) { connectErr.Store(&err) }
	set(refused)
	r := newRig(t, func(cfg *Config) {
		cfg.Hooks.Connect = func(context.Context) (Conn, error) { return nil, *connectErr.Load() }
	})
	r.produce(parts[0], 1)
	r.produce(parts[1], 2)
	for _, id := range []int{1, 2} {
		err := r.outcome(id).Err
		require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
		require.ErrorIs(t, err, conn.ErrAuthentication)
		require.Contains(t, err.Error(), "broker 1")
	}

	// Behind the broker's backoff the refusal still fails batches.
	set(&conn.BackoffError{Addr: "b1:9093", Err: refused})
	r.produce(parts[0], 3)
	require.ErrorIs(t, r.outcome(3).Err, kerr.SaslAuthenticationFailed)
}

// A request that waited on its connection while a re-authentication was
// refused never left (conn's ErrNotSent, wrapping the *conn.AuthError): its
// batch was never sent, and when the broker refuses the next connection
// too it fails with the refusal, as the batches never drained do. Before,
// its attempt counted as a send: the refusal left it alone, and it waited
// for its DeliveryTimeout, said to have been "sent 1 times".
func TestAuthErrorFailsABatchWhoseRequestNeverLeft(t *testing.T) {
	refused := &conn.AuthError{Addr: "b1:9093", Mechanism: "SCRAM-SHA-512", Err: kerr.SaslAuthenticationFailed}
	var live atomic.Pointer[fakeConn]
	r := newRigWith(t, rigConfig{
		acc: func(cfg *accumulator.Config) { cfg.DeliveryTimeout = time.Hour },
		sender: func(cfg *Config) {
			cfg.Hooks.Connect = func(context.Context) (Conn, error) {
				if c := live.Load(); c != nil {
					return c, nil
				}
				return nil, refused
			}
		},
	})
	live.Store(r.conn)
	r.produce(parts[0], 1)
	c := r.next()
	live.Store(nil) // the connection died of the refusal; so will the next
	c.done(nil, fmt.Errorf("%w: %w", conn.ErrNotSent, refused))

	// The retry's backoff passes, and the redial is refused.
	var err error
	require.Eventually(t, func() bool {
		r.clk.Advance(100 * time.Millisecond)
		r.mu.Lock()
		defer r.mu.Unlock()
		if rs := r.outcomes[1]; len(rs) > 0 {
			err = rs[0].Err
			return true
		}
		return false
	}, 10*time.Second, time.Millisecond, "no outcome within 10s, the clock moving 100ms a try")
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	require.ErrorIs(t, err, conn.ErrAuthentication)
	require.NotErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.NotErrorIs(t, err, accumulator.ErrMaybeWritten)
}
