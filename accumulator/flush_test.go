package accumulator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
)

func TestFlushWaitsForBatchesBeforeMark(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour })
	h.add(tp0, 1, []byte("v"))
	mark := h.acc.BeginFlush()
	defer h.acc.EndFlush()

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1, "a flush makes lingering batches ready")

	// AwaitBatches asks for its ctx's Done only once it has found a batch
	// to wait for: the look at done waits for that or for its return. Made
	// at once, it came before AwaitBatches ran at all, and let through an
	// AwaitBatches that waited for no batch in flight.
	done := make(chan error, 1)
	wctx := bounded.NewWaitedOn(context.Background())
	go func() { done <- h.acc.AwaitBatches(wctx, mark) }()
	select {
	case err := <-done:
		t.Fatalf("flush returned before the batch completed: %v", err)
	case <-wctx.Asked():
	case <-time.After(waitTime):
		t.Fatalf("flush neither waited for the batch nor returned within %v", waitTime)
	}
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, receive(t, done, "flush did not return after the batch completed"))

	ctx, cancel := context.WithCancel(context.Background())
	h.add(tp0, 2, []byte("v"))
	cancel()
	require.ErrorIs(t, h.acc.AwaitBatches(ctx, h.acc.BeginFlush()), context.Canceled)
	h.acc.EndFlush()
}
