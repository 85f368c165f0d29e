package accumulator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A batch refused with an error the broker gives before appending it
// (NOT_ENOUGH_REPLICAS), whose DeliveryTimeout passes while it waits out
// its retry backoff, is not sent again by a sender that wakes before Expire:
// sent after its deadline, it would break DeliveryTimeout, and Expire,
// finding it in flight, would fail it as maybe written when it was not.
// The sender is told to wait for a wake, not to look again at once, and
// Expire fails it as certainly not written, then wakes the sender.
func TestARetryWhoseDeliveryTimeoutPassedDuringItsBackoffIsNotSentAgain(t *testing.T) {
	for _, idem := range []bool{false, true} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			mod := func(c *Config) { c.Linger, c.DeliveryTimeout = 0, time.Second }
			h := newHarness(t, mod)
			if idem {
				h = idempotent(t, false, mod)
			}
			parts := []TopicPartition{tp0}
			h.add(tp0, 0, big)
			b0 := h.drainOne("b0")
			h.clk.Advance(900 * time.Millisecond)
			h.retry(b0, 200*time.Millisecond)     // refused, certainly not written
			h.clk.Advance(200 * time.Millisecond) // past the backoff and the deadline

			ready, wait := h.acc.Ready(node, parts, false, h.clk.Now())
			require.False(t, ready, "a batch past its DeliveryTimeout is not ready")
			require.Equal(t, noDeadline, wait, "the sender waits for Expire's wake rather than spin")
			bs, next := h.drain(parts, 1<<20)
			require.Empty(t, bs, "a batch past its DeliveryTimeout is not sent again")
			require.Equal(t, noDeadline, next)

			h.mu.Lock()
			h.woken = nil
			h.mu.Unlock()
			h.acc.Expire(h.clk.Now())
			r := h.outcome(0)
			require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
			require.NotErrorIs(t, r.Err, ErrMaybeWritten, "its only attempt was refused")
			require.Contains(t, r.Err.Error(), "sent 1 times")
			require.Equal(t, []TopicPartition{tp0}, h.woken, "Expire wakes the sender")

			h.add(tp0, 1, big)
			want := stampOf{-1, -1, -1}
			if idem {
				want = stampOf{7, 1, 0} // the gap it leaves restarts the sequences
			}
			require.Equal(t, want, stamped(t, h.drainOne("the next batch goes")))
		})
	}
}

// A batch whose DeliveryTimeout passed before it was ever sent, while it
// waited for its partition's batch in flight, is not drained either: it
// is Expire's to fail, as never sent.
func TestAQueuedBatchPastItsDeliveryTimeoutIsNotDrained(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger, c.DeliveryTimeout, c.MaxInFlight = 0, time.Second, 1 })
	parts := []TopicPartition{tp0}
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.add(tp0, 1, big)
	h.clk.Advance(time.Second)
	h.acc.Complete(b0, 0, -1, nil)

	ready, wait := h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready, "a batch past its DeliveryTimeout is not ready")
	require.Equal(t, noDeadline, wait)
	h.drainNone("a batch past its DeliveryTimeout is not sent")
	h.acc.Expire(h.clk.Now())
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.NotErrorIs(t, r.Err, ErrMaybeWritten)
	require.Contains(t, r.Err.Error(), "sent 0 times")
}
