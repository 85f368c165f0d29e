package accumulator

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blockingHarness is a harness whose callback for record id 0 runs inside
// on the delivery goroutine and blocks until release is closed.
func blockingHarness(t *testing.T, inside func(h *harness)) (h *harness, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	h = newHarness(t, func(c *Config) {
		c.Linger = 0
		deliver := c.Deliver
		c.Deliver = func(cb any, r *Result) {
			if id, ok := cb.(int); ok && id == 0 {
				if inside != nil {
					inside(h)
				}
				close(entered)
				<-release
			}
			deliver(cb, r)
		}
	})
	return h, entered, release
}

func TestABlockedCallbackHoldsUpOnlyCallbacksAndMemory(t *testing.T) {
	var inCallback bool
	h, entered, release := blockingHarness(t, func(h *harness) { inCallback = h.acc.InCallback() })
	total := h.pool.Available()
	h.add(tp0, 0, big)
	h.add(part(1), 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, part(1)}, 1<<20)
	require.Len(t, bs, 2)

	h.acc.Complete(bs[0], 0, -1, nil)
	receive(t, entered, "the first callback did not start")
	require.True(t, inCallback, "callbacks run on the delivery goroutine")
	require.False(t, h.acc.InCallback())

	// The sender goes on while the callback blocks: it completes, drains
	// and retries without waiting for it.
	h.acc.Complete(bs[1], 0, -1, nil)
	h.add(tp0, 2, big)
	h.drainOne("a new batch: draining does not wait for callbacks")
	require.Equal(t, total-3*1024, h.pool.Available(), "batches keep their memory until their callbacks have run")

	close(release)
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, []int{0, 1}, h.order, "callbacks run in the order the batches completed")
	require.Equal(t, total-1024, h.pool.Available(), "then it goes back")
}

func TestCloseAndAwaitFromInsideACallbackDoNotWaitForThemselves(t *testing.T) {
	returned := make(chan error, 2)
	h, entered, release := blockingHarness(t, func(h *harness) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		returned <- h.acc.AwaitBatches(ctx, h.acc.BeginFlush())
		h.acc.EndFlush()
		returned <- h.acc.Close(ctx)
	})
	h.add(tp0, 0, big)
	h.add(part(1), 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, part(1)}, 1<<20)
	h.acc.Complete(bs[0], 0, -1, nil)
	h.acc.Complete(bs[1], 0, -1, nil)
	receive(t, entered, "the callback did not return from AwaitBatches and Close")
	for range 2 {
		require.NoError(t, receive(t, returned, "AwaitBatches or Close called from a callback waits for the callbacks behind it"))
	}
	close(release)
	// The delivery goroutine, told to stop, exits once the callbacks behind
	// have run; a marker queued now (h.outcome's) might find it gone.
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	require.NoError(t, h.acc.Close(ctx), "the delivery goroutine stops once the callbacks behind have run")
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.results[1], 1, "the callbacks behind run once the callback returns")
	require.NoError(t, h.results[1][0].Err)
}

// AwaitOutcomes, for a caller the callbacks may be waiting for, counts a
// batch once its outcome is queued; AwaitBatches waits for its callback,
// here held up behind a blocked one.
func TestAwaitOutcomesDoesNotWaitForCallbacks(t *testing.T) {
	h, entered, release := blockingHarness(t, nil)
	defer close(release)
	h.add(tp0, 0, big)
	h.add(part(1), 1, big)
	mark := h.acc.BeginFlush()
	defer h.acc.EndFlush()
	bs, _ := h.drain([]TopicPartition{tp0, part(1)}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Complete(bs[0], 0, -1, nil)
	receive(t, entered, "the first callback did not start")

	ended, cancel := context.WithCancel(context.Background())
	cancel() // neither may wait: what each counts as done decides
	require.ErrorIs(t, h.acc.AwaitOutcomes(ended, mark), context.Canceled, "the second batch has no outcome")
	h.acc.Complete(bs[1], 0, -1, nil)
	require.NoError(t, h.acc.AwaitOutcomes(ended, mark), "both batches have their outcomes")
	require.ErrorIs(t, h.acc.AwaitBatches(ended, mark), context.Canceled, "the second batch's callback waits behind the first")
}

func TestDeliverQueuesBehindBatches(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 0, big)
	b := h.drainOne("b0")
	h.acc.Complete(b, 0, -1, nil)
	h.acc.Deliver(1, Result{Offset: -1, Err: errRetry})
	require.ErrorIs(t, h.outcome(1).Err, errRetry)
	require.Equal(t, []int{0, 1}, h.order)
}

// A Close that gave up waiting can leave behind a goroutine that still
// fails a record (one appending records that waited for metadata): its
// outcome, queued after the delivery goroutine stopped, still runs.
func TestAnOutcomeQueuedAfterCloseIsStillDelivered(t *testing.T) {
	h := newHarness(t, nil)
	require.NoError(t, h.acc.Close(context.Background()))
	h.acc.Deliver(7, Result{Offset: -1, Err: errRetry})
	require.ErrorIs(t, h.outcome(7).Err, errRetry)
	require.NoError(t, h.acc.Close(context.Background()), "a second Close")
}

// A delivery goroutine restarted after Close for a straggler's outcome is
// waited for by a later Close, as the first goroutine was.
func TestCloseAgainWaitsForARestartedDeliveryGoroutine(t *testing.T) {
	h, entered, release := blockingHarness(t, nil)
	require.NoError(t, h.acc.Close(context.Background()))
	h.acc.Deliver(0, Result{Offset: -1, Err: errRetry})
	receive(t, entered, "the straggler's callback did not start")

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.acc.Close(short), context.DeadlineExceeded, "Close while the straggler's callback runs")

	close(release)
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	require.NoError(t, h.acc.Close(ctx))
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.results[0], 1, "Close returned before the straggler's callback had run")
}

// A batch's failure is told to Config.Failed as it is decided, not when its
// callbacks run: a transaction committed from a callback must learn of a
// failure queued behind that callback.
func TestAFailureIsToldBeforeItsCallbacksRun(t *testing.T) {
	var mu sync.Mutex
	var failed []error
	entered, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, func(c *Config) {
		c.Linger = 0
		c.Failed = func(_ TopicPartition, err error) {
			mu.Lock()
			failed = append(failed, err)
			mu.Unlock()
		}
		deliver := c.Deliver
		c.Deliver = func(cb any, r *Result) {
			if id, ok := cb.(int); ok && id == 0 {
				close(entered)
				<-release
			}
			deliver(cb, r)
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	h.add(tp0, 0, big)
	h.add(part(1), 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, part(1)}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Complete(bs[0], 0, -1, nil)
	receive(t, entered, "the first callback did not start")

	h.acc.Complete(bs[1], -1, -1, errRetry)
	mu.Lock()
	require.Len(t, failed, 1, "the failure is told while the callback before it still runs")
	require.ErrorIs(t, failed[0], errRetry)
	mu.Unlock()
	h.mu.Lock()
	require.Empty(t, h.results[1], "its callback waits behind the running one")
	h.mu.Unlock()

	close(release)
	require.ErrorIs(t, h.outcome(1).Err, errRetry)
	mu.Lock()
	require.Len(t, failed, 1, "a success is not told, a failure once")
	mu.Unlock()
}
