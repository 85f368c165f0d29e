package sender

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync/atomic"
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

// A connection given up on because the sender is stopping (its ctx ended
// during the dial: the broker left the metadata, the producer closes), or
// because the broker was closed, says nothing about the broker: a batch
// that times out behind it is not said to be behind an unreachable broker,
// with the cancel or the close as the reason. The batch waits for a new
// leader, and if its timeout comes first, its error says what kept it.
func TestAConnectionGivenUpOnIsNoFailureOfTheBrokers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		connect func(r *rig, ctx context.Context) (Conn, error)
		stops   bool // Run returns once the connection failed
	}{
		{"the sender stopping", func(r *rig, ctx context.Context) (Conn, error) {
			r.cancel()
			<-ctx.Done()
			return nil, fmt.Errorf("dialing b1:9092: %w", ctx.Err())
		}, true},
		{"the broker closed", func(*rig, context.Context) (Conn, error) {
			return nil, fmt.Errorf("%w: broker 1", conn.ErrClosed)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *rig
			var attempts atomic.Int64
			r = newRigWith(t, rigConfig{
				acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second },
				sender: func(c *Config) {
					c.Hooks.Connect = func(ctx context.Context) (Conn, error) {
						attempts.Add(1)
						return tc.connect(r, ctx)
					}
				},
			})
			r.produce(parts[0], 1)
			// The failure is booked, or not, before Run returns, or before
			// the sender takes its next wake.
			if tc.stops {
				r.awaitStopped("the stopped sender's Run did not return")
			} else {
				r.passed()
			}
			require.Positive(t, attempts.Load(), "the sender never connected")
			r.clk.Advance(time.Second)
			r.acc.Expire(r.clk.Now())
			err := r.outcome(1).Err
			require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
			require.NotContains(t, err.Error(), "unreachable")
			require.NotErrorIs(t, err, context.Canceled)
			require.NotErrorIs(t, err, conn.ErrClosed)
		})
	}
}

// timedOutBehind returns the error of a record whose DeliveryTimeout passed
// while its broker's sender connected with connect, which fails.
//
// The sender books a failed connection's error with the batches after
// Connect returns, so the test waits for a second attempt, which the
// sender's one goroutine makes only once the first is booked: expired
// before that, the batch said only that it was sent 0 times.
func timedOutBehind(t *testing.T, connect func(context.Context) (Conn, error)) error {
	t.Helper()
	var attempts atomic.Int64
	r := newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second },
		sender: func(c *Config) {
			c.Hooks.Connect = func(ctx context.Context) (Conn, error) {
				attempts.Add(1)
				return connect(ctx)
			}
		},
	})
	r.produce(parts[0], 1)
	// The retry waits on the fake clock: a wake makes the next pass.
	require.Eventually(t, func() bool {
		r.s.Wake()
		return attempts.Load() >= 2
	}, 10*time.Second, time.Millisecond, "the sender did not try a second connection within 10s")
	r.clk.Advance(time.Second)
	r.acc.Expire(r.clk.Now())
	return r.outcome(1).Err
}

// A connection refused by the reconnect backoff asks for no metadata: the
// attempt that failed and started the backoff asked already, and nothing
// was learnt since. Before, every pass of the sender within the backoff
// asked again, and each refresh's wake made the next pass.
func TestAReconnectBackoffAsksForNoMetadata(t *testing.T) {
	var attempts atomic.Int64
	r := newRig(t, func(c *Config) {
		c.Hooks.Connect = func(context.Context) (Conn, error) {
			if attempts.Add(1) == 1 {
				return nil, fmt.Errorf("dialing b1:9092: %w", refused)
			}
			return nil, &conn.BackoffError{Addr: "b1:9092", Until: time.Unix(1_800_000_000, 0), Err: refused}
		}
	})
	r.produce(parts[0], 1)
	const passes = 5
	for range passes {
		before := attempts.Load()
		r.s.Wake()
		require.Eventually(t, func() bool { return attempts.Load() > before }, 10*time.Second, time.Millisecond,
			"the woken sender tried no connection within 10s")
	}
	require.Equal(t, []string{"broker unreachable"}, r.refreshesAsked(),
		"refreshes asked over %d connections, the first one failed, the rest refused by the backoff", attempts.Load())
}
