package sender

import (
	"context"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
)

// refused is the error of a dial to a port nobody listens on.
var refused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

// A broker that refuses every connection keeps its batches waiting until
// their DeliveryTimeout, and their error then names the broker and the
// refusal. Before, it said only that they were sent 0 times: the failed
// connections were logged at Debug and nowhere else.
func TestATimeoutBehindAnUnreachableBrokerNamesItAndWhy(t *testing.T) {
	const addr = "b1:9092"
	refuse := func(context.Context, string, string) (net.Conn, error) { return nil, refused }
	err := timedOutBehind(t, func(ctx context.Context) (Conn, error) {
		c, err := conn.Dial(ctx, addr, conn.Config{Dial: refuse})
		if err != nil {
			return nil, err
		}
		return c, nil
	})
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.Contains(t, err.Error(), "broker 1 unreachable")
	require.Contains(t, err.Error(), addr)
}

// Within the broker's reconnect backoff, the failure named is the one that
// started the backoff, not the wait.
func TestATimeoutBehindAReconnectBackoffNamesTheFailureBeforeIt(t *testing.T) {
	err := timedOutBehind(t, func(context.Context) (Conn, error) {
		return nil, &conn.BackoffError{Addr: "b1:9092", Until: time.Unix(1_800_000_000, 0), Err: refused}
	})
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NotErrorIs(t, err, conn.ErrBackoff)
	require.Contains(t, err.Error(), "broker 1 unreachable")
}

// timedOutBehind returns the error of a record whose DeliveryTimeout passed
// while its broker's sender connected with connect, which fails.
func timedOutBehind(t *testing.T, connect func(context.Context) (Conn, error)) error {
	t.Helper()
	r := newRigWith(t, rigConfig{
		acc:    func(c *accumulator.Config) { c.DeliveryTimeout = time.Second },
		sender: func(c *Config) { c.Hooks.Connect = connect },
	})
	r.produce(parts[0], 1)
	// The sender asks for metadata once the connection has failed.
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return slices.Contains(r.refreshes, "broker unreachable")
	}, 10*time.Second, time.Millisecond, "the sender tried no connection within 10s")
	r.clk.Advance(time.Second)
	r.acc.Expire(r.clk.Now())
	return r.outcome(1).Err
}
