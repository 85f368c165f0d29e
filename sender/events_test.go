package sender

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
)

// quickConn writes a request in took, on the fake clock, and its broker
// answers before SendVersion has returned: on a fast local broker the
// answer can come while the writing goroutine is still on its way out.
type quickConn struct {
	clk  *clock.Fake
	took time.Duration
}

func (c *quickConn) SendVersion(_ context.Context, req protocol.Request, _ int16, done func(protocol.Response, error)) {
	c.clk.Advance(c.took)
	done(answer(req.(*protocol.ProduceRequest), 0, 7), nil)
}

func (c *quickConn) Version(protocol.APIKey) (int16, error) { return 11, nil }

func (c *quickConn) Paused(time.Duration) {}

// A request answered before SendVersion returned is timed from its handing
// to the connection: timed from SendVersion's return, its latency came out
// negative and was reported as 0.
func TestAnAnswerBeforeSendVersionReturnedHasItsLatency(t *testing.T) {
	latencies := make(chan time.Duration, 1)
	var r *rig
	r = newRig(t, func(cfg *Config) {
		cfg.Hooks.Connect = func(context.Context) (Conn, error) { return &quickConn{clk: r.clk, took: 3 * time.Millisecond}, nil }
		cfg.Events.Answered = func(_ int32, _ []*accumulator.Batch, latency, _ time.Duration, err error) {
			require.NoError(t, err)
			latencies <- latency
		}
	})
	r.produce(parts[0], 1)
	select {
	case l := <-latencies:
		require.Equal(t, 3*time.Millisecond, l)
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
	}
	require.Equal(t, int64(7), r.outcome(1).Offset)
}
