package integration

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/sender"
)

// A sender must return once its context is cancelled and nothing is in
// flight, whenever the cancellation happens. Producer.Close cancels the
// senders' context and waits for them, so a sender that misses the
// cancellation hangs Close forever. Before 2401a6f, Run read ctx.Err twice
// per pass and, cancelled between the two readings, waited on nothing;
// TestMultiBrokerLeaderMoves hung that way about once in 250 runs under
// -race on a loaded machine.
//
// The cancellation here happens at the sender's n-th look at ctx.Err (or
// after 100ms, for a sender that stops looking and waits on ctx.Done), for
// every n up to 8: that reaches each point of Run's loop deterministically.
func TestFaultsSenderReturnsWhenCancelledAnywhere(t *testing.T) {
	for n := int32(1); n <= 8; n++ {
		ctx := newCancelOnErr(n, 100*time.Millisecond)
		s := idleSender()
		returned := make(chan struct{})
		go func() {
			defer close(returned)
			s.Run(ctx)
		}()
		select {
		case <-returned:
		case <-time.After(5 * time.Second):
			// The sender goroutine is left blocked: nothing can wake it.
			t.Errorf("cancelled at its look number %d at ctx.Err, an idle sender did not return "+
				"(ctx.Err was called %d times)", n, ctx.calls.Load())
		}
	}
}

// idleSender is a sender with nothing to send, connected to a broker that
// never answers (nothing is ever sent to it).
func idleSender() *sender.Sender {
	clk := clock.Real{}
	acc := accumulator.New(accumulator.Config{
		BatchSize: 16 << 10, DeliveryTimeout: time.Minute, MaxBlock: time.Second,
		Pool: bufferpool.New(1<<20, 16<<10, clk), Clock: clk,
		Deliver: func(any, *accumulator.Result) {},
	})
	return sender.New(sender.Config{
		Node: 0, Acks: -1, Timeout: time.Second, MaxRequestSize: 1 << 20, MaxInFlight: 1,
		RetryBackoff: 10 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond,
		Accumulator: acc, Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Hooks: sender.Hooks{
			Partitions:      func() []accumulator.TopicPartition { return nil },
			Connect:         func(context.Context) (sender.Conn, error) { return silentConn{}, nil },
			RefreshMetadata: func(string) {},
			LeaderHint:      func(string, wire.UUID, int32, int32, int32, *protocol.ProduceResponseNodeEndpoint) bool { return false },
		},
	})
}

// silentConn is a connection no request is ever sent on.
type silentConn struct{}

func (silentConn) SendVersion(_ context.Context, _ protocol.Request, _ int16, done func(protocol.Response, error)) {
	done(nil, io.ErrClosedPipe)
}

func (silentConn) Version(protocol.APIKey) (int16, error) { return 11, nil }

func (silentConn) Paused(time.Duration) {}

// cancelOnErr is a context cancelled at its n-th Err call, as if another
// goroutine had cancelled it at that very moment, or after a delay if that
// comes first.
type cancelOnErr struct {
	context.Context // Deadline and Value of Background
	n               int32
	calls           atomic.Int32
	done            chan struct{}
	once            sync.Once
	cancelled       atomic.Bool
}

func newCancelOnErr(n int32, after time.Duration) *cancelOnErr {
	c := &cancelOnErr{Context: context.Background(), n: n, done: make(chan struct{})}
	time.AfterFunc(after, c.cancel)
	return c
}

func (c *cancelOnErr) cancel() {
	c.once.Do(func() {
		c.cancelled.Store(true)
		close(c.done)
	})
}

func (c *cancelOnErr) Done() <-chan struct{} { return c.done }

func (c *cancelOnErr) Err() error {
	if c.calls.Add(1) >= c.n {
		c.cancel()
	}
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}
