package sender

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
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

// notSentOnceConn fails its first request inside SendVersion as never sent
// (conn's ErrNotSent: say, a re-authentication refused before its write),
// as conn does, and answers the next ones there too.
type notSentOnceConn struct{ calls atomic.Int32 }

func (c *notSentOnceConn) SendVersion(_ context.Context, req protocol.Request, _ int16, done func(protocol.Response, error)) {
	if c.calls.Add(1) == 1 {
		done(nil, fmt.Errorf("%w: re-authenticating", conn.ErrNotSent))
		return
	}
	done(answer(req.(*protocol.ProduceRequest), 0, 7), nil)
}

func (c *notSentOnceConn) Version(protocol.APIKey) (int16, error) { return 11, nil }

func (c *notSentOnceConn) Paused(time.Duration) {}

// Written is told of each request that left, and of no other: not of one
// that never left (conn's ErrNotSent), whose Answered says why. Its retry
// is built in the same flight, which the sender reuses, and is told of
// all the same: the flight forgets that its last request never left.
func TestWrittenIsToldOfTheRequestsThatLeftAlone(t *testing.T) {
	var mu sync.Mutex
	written := 0
	var answered []error
	c := &notSentOnceConn{}
	r := newRig(t, func(cfg *Config) {
		cfg.Hooks.Connect = func(context.Context) (Conn, error) { return c, nil }
		cfg.Events.Written = func(int32, []*accumulator.Batch, time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			written++
		}
		cfg.Events.Answered = func(_ int32, _ []*accumulator.Batch, _, _ time.Duration, err error) {
			mu.Lock()
			defer mu.Unlock()
			answered = append(answered, err)
		}
	})
	r.produce(parts[0], 1)
	// The retry waits out its backoff on the fake clock.
	require.Eventually(t, func() bool {
		r.clk.Advance(10 * time.Millisecond)
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.outcomes[1]) > 0
	}, 10*time.Second, time.Millisecond, "record 1 got no outcome within 10s")
	require.Equal(t, int64(7), r.outcome(1).Offset)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, answered, 2)
	require.ErrorIs(t, answered[0], conn.ErrNotSent)
	require.NoError(t, answered[1])
	require.Equal(t, 1, written, "requests Written was told of")
}
