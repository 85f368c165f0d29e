package accumulator

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/record"
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
			require.Contains(t, r.Err.Error(), "sent once")
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
	require.Contains(t, r.Err.Error(), "never sent")
}

// b0 refused for good leaves a gap, and b1, refused as out of order behind
// it, waits for the sequences to restart; its DeliveryTimeout passes
// meanwhile. The sequences restart once, after Expire fails b1: restarted
// before, b1 would be renumbered under a new epoch for nothing, and its
// failure would leave a gap in that epoch, costing another.
func TestARetryPastItsDeliveryTimeoutBehindARestartCostsOneEpoch(t *testing.T) {
	var restarts []restartEvent
	h := idempotent(t, false, func(c *Config) {
		c.DeliveryTimeout = time.Second
		restartsInto(c, &restarts)
	})
	parts := []TopicPartition{tp0}
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Complete(b0, -1, -1, errors.New("CORRUPT_MESSAGE"))
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.clk.Advance(time.Second)

	ready, wait := h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready, "a batch past its DeliveryTimeout is not ready")
	require.Equal(t, noDeadline, wait, "the sender waits for Expire's wake")
	h.drainNone("b1 is Expire's to fail")
	require.Empty(t, restarts, "no restart before the expired retry fails")

	h.acc.Expire(h.clk.Now())
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.NotErrorIs(t, r.Err, ErrMaybeWritten, "its attempt was refused")
	h.add(tp0, 2, big)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2, behind both gaps, under the next epoch")))
	require.Equal(t, []restartEvent{{tp0, ProducerID{7, 1}, 0}}, restarts, "one restart, with nothing to renumber")
}

// As above when the expired retry is not the partition's first waiting
// batch: b2 holds a record that waited for metadata (Record.Since), so its
// deadline passes before that of b1, ahead of it. The restart still waits
// for Expire, and renumbers b1 alone.
func TestAnExpiredRetryBehindOneStillWaitingCostsOneEpoch(t *testing.T) {
	var restarts []restartEvent
	h := idempotent(t, false, func(c *Config) {
		c.DeliveryTimeout = time.Second
		restartsInto(c, &restarts)
	})
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{
		Data:     record.Data{Key: []byte("2"), Value: big},
		Callback: 2,
		Since:    h.clk.Now().Add(-500 * time.Millisecond),
	})
	require.NoError(t, err)
	b0, b1, b2 := h.drainOne("b0"), h.drainOne("b1"), h.drainOne("b2")
	h.acc.Complete(b0, -1, -1, errors.New("CORRUPT_MESSAGE"))
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.acc.Retry(b2, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.clk.Advance(500 * time.Millisecond) // b2 past its deadline, b1 not

	h.drainNone("the restart waits for b2 to fail")
	require.Empty(t, restarts, "no restart before the expired retry fails")
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(2).Err, ErrDeliveryTimeout)
	b1 = h.drainOne("b1, renumbered")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, b1))
	h.acc.Complete(b1, 10, -1, nil)
	require.NoError(t, h.outcome(1).Err)
	h.add(tp0, 3, big)
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("b3, after b1 under its epoch")))
	require.Equal(t, []restartEvent{{tp0, ProducerID{7, 1}, 1}}, restarts, "one restart, renumbering b1")
}

// As above for a partition left behind by another's restart: tp1's retry,
// past its DeliveryTimeout, is not renumbered under the epoch tp0 moved
// to before Expire fails it. tp1 then catches up with that epoch once,
// and the producer's epoch is not bumped again for the gap.
func TestARetryPastItsDeliveryTimeoutInAPartitionLeftBehindCostsNoEpoch(t *testing.T) {
	var restarts []restartEvent
	h := idempotent(t, false, func(c *Config) {
		c.DeliveryTimeout = time.Second
		restartsInto(c, &restarts)
	})
	tp1 := part(1)
	b1 := bumpedByTp0(t, h)
	h.retry(b1, 0) // NOT_LEADER, say: refused, so not written
	h.clk.Advance(time.Second)
	restarts = restarts[:0] // tp0's

	bs, _ := h.drain([]TopicPartition{tp1}, 1<<20)
	require.Empty(t, bs, "b1 is Expire's to fail")
	require.Empty(t, restarts, "tp1 does not catch up before b1 fails")
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(1).Err, ErrDeliveryTimeout)

	h.add(tp1, 2, big)
	bs, _ = h.drain([]TopicPartition{tp1}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "under the epoch tp0 moved to")
	require.Equal(t, []restartEvent{{tp1, ProducerID{7, 1}, 0}}, restarts, "tp1 restarts once")
}

// A batch that times out never sent leaves no gap in its partition's
// sequences, the broker having seen none of its numbers: the next batch
// goes on under the same epoch. Broken, each batch that timed out waiting
// (for an unreachable leader, say) cost an epoch: a transactional
// producer's transaction had to abort for it (see
// TestATransactionalRestartSaysWhy), and an idempotent producer ran
// through its epochs the sooner.
func TestABatchThatTimesOutNeverSentCostsNoEpoch(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil)
	h.add(tp0, 1, big)
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(1).Err, ErrDeliveryTimeout)
	h.add(tp0, 2, big)
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, h.drainOne("b2")), "b1 spent no sequence: no new epoch")
}

// restartEvent is one Config.Restarted call.
type restartEvent struct {
	tp         TopicPartition
	id         ProducerID
	renumbered int
}

// restartsInto has c book each restart of a partition's sequences in
// events. Restarted runs on the goroutine that drains: the test's.
func restartsInto(c *Config, events *[]restartEvent) {
	c.Restarted = func(tp TopicPartition, id ProducerID, renumbered int) {
		*events = append(*events, restartEvent{tp, id, renumbered})
	}
}

// Expire walks only the partitions that may have batches awaiting their
// records' outcome, not every partition ever produced to: a producer of
// 50,000 topics, each used once, walked them all at every pass. A pass
// drops the partitions it finds without one, and a partition that starts
// a batch again is walked again, and its batch expires.
func TestExpireWalksOnlyPartitionsWithBatches(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second; c.Idempotent = false })
	parts := make([]TopicPartition, 20)
	for i := range parts {
		parts[i] = part(int32(i))
		h.add(parts[i], i, []byte("v"))
	}
	require.Equal(t, 20, h.acc.expiryWalks(), "partitions walked with a batch each")
	bs, _ := h.drain(parts, 1<<30)
	require.Len(t, bs, 20)
	for _, b := range bs[1:] {
		h.acc.Complete(b, 0, -1, nil)
	}
	h.acc.Expire(h.clk.Now())
	require.Equal(t, 1, h.acc.expiryWalks(), "partitions walked after all but one batch were answered")

	h.acc.Complete(bs[0], 0, -1, nil)
	h.add(part(5), 100, []byte("again"))
	h.acc.Expire(h.clk.Now())
	require.Equal(t, 1, h.acc.expiryWalks(), "partitions walked with one new batch")
	h.clk.Advance(time.Second)
	require.Equal(t, noDeadline, h.acc.Expire(h.clk.Now()))
	require.ErrorIs(t, h.outcome(100).Err, ErrDeliveryTimeout, "the batch of a partition walked again")
	require.Zero(t, h.acc.expiryWalks(), "partitions walked once every batch has its outcome")
}

// expiryWalks is how many partitions the next Expire pass walks.
func (a *Accumulator) expiryWalks() int {
	a.expiringMu.Lock()
	defer a.expiringMu.Unlock()
	return len(a.expiring)
}

// The set of partitions Expire walks is made anew once it holds an eighth
// of its peak: a map keeps the room it grew to, and a pass over the one
// partition left after a burst over thousands walked all of that room.
func TestExpiresSetShrinksAfterABurst(t *testing.T) {
	const burst = 1000
	h := newHarness(t, func(c *Config) {
		c.Idempotent = false
		c.DeliveryTimeout = time.Second
		c.Pool = bufferpool.New((burst+2)*c.BatchSize, c.BatchSize, c.Clock)
	})
	for i := range burst {
		h.add(part(int32(i)), i, []byte("v"))
	}
	h.clk.Advance(2 * time.Second)
	h.acc.Expire(h.clk.Now()) // every batch expires
	h.add(part(0), burst, []byte("v"))
	h.acc.Expire(h.clk.Now())
	require.Equal(t, 1, h.acc.expiryWalks())
	h.acc.expiringMu.Lock()
	peak := h.acc.expiringPeak
	h.acc.expiringMu.Unlock()
	require.LessOrEqual(t, peak, 1, "the set still counts its peak of %d: its map was not made anew", peak)
}

func TestExpireFailsQueuedAndInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.DeliveryTimeout = time.Second; c.Idempotent = false })
	total := h.pool.Available()
	tp1 := part(1)
	h.add(tp0, 1, []byte("queued"))
	h.add(tp1, 2, []byte("in flight"))
	h.acc.BeginFlush()
	bs, _ := h.drain([]TopicPartition{tp1}, 1<<20)
	h.acc.EndFlush()
	require.Len(t, bs, 1)

	require.Equal(t, time.Second, h.acc.Expire(h.clk.Now()))
	h.clk.Advance(time.Second - time.Millisecond)
	require.Equal(t, time.Millisecond, h.acc.Expire(h.clk.Now()))
	require.True(t, h.pending(1), "no expiry a millisecond early")
	h.clk.Advance(time.Millisecond)
	require.Equal(t, noDeadline, h.acc.Expire(h.clk.Now()))

	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.NotErrorIs(t, r.Err, ErrMaybeWritten, "a batch never sent was certainly not written")
	// The root's PartitionError names the partition from the result;
	// named again in the text under it, it read as two partitions.
	require.Equal(t, tp0, TopicPartition{Topic: r.Topic, Partition: r.Partition})
	require.NotContains(t, r.Err.Error(), "t-0")
	r = h.outcome(2)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout, "a batch in flight expires too (Java's getExpiredInflightBatches)")
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "its request may still write it")
	require.Less(t, h.pool.Available(), total, "its memory stays while its request may still read it")

	h.acc.Complete(bs[0], 5, -1, nil) // the late answer
	require.Equal(t, int64(-1), h.outcome(2).Offset, "still one outcome")
	require.Equal(t, total, h.pool.Available(), "the answer gives the memory back")
	require.Zero(t, h.acc.Incomplete())
}

// A record that waited before it was appended (for its topic's metadata)
// brings its own start: its batch expires DeliveryTimeout after it, not
// after the batch began.
func TestAppendSinceMovesTheDeadlineEarlier(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, []byte("fresh"))
	since := h.clk.Now().Add(-400 * time.Millisecond)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("held")}, Callback: 1, Since: since})
	require.NoError(t, err)
	require.Equal(t, 600*time.Millisecond, h.acc.Expire(h.clk.Now()))
	h.clk.Advance(599 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	require.True(t, h.pending(1), "not a millisecond early")
	h.clk.Advance(time.Millisecond)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(1).Err, ErrDeliveryTimeout)
	require.ErrorIs(t, h.outcome(0).Err, ErrDeliveryTimeout, "the batch fails as one")
}

// A record appended with a Since that brings its batch's deadline forward
// tells the expiry loop, which planned its next pass by the deadlines
// Expire saw; a record that does not, or has no Since, does not.
func TestAnAppendThatBringsADeadlineForwardSaysSo(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.DeliveryTimeout = time.Second })
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	earlier := h.acc.EarlierDeadline()
	h.add(tp0, 0, []byte("fresh"))
	require.False(t, closed(earlier), "a new batch's deadline is a full DeliveryTimeout away")

	since := h.clk.Now().Add(-400 * time.Millisecond)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("held")}, Callback: 1, Since: since})
	require.NoError(t, err)
	require.True(t, closed(earlier), "the batch's deadline came 400ms forward")

	earlier = h.acc.EarlierDeadline()
	_, err = h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("held later")}, Callback: 2, Since: since.Add(time.Millisecond)})
	require.NoError(t, err)
	require.False(t, closed(earlier), "the deadline stayed where it was")
}
