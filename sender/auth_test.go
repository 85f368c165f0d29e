package sender

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

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
