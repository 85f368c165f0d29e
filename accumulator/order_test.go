package accumulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol/kerr"
)

// orderOf is the record ids in the order their callbacks ran.
func (h *harness) orderOf() []int {
	h.sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.order...)
}

// maybeWrittenAhead drains records 1, 2 and 3 in batches of their own,
// pipelined; record 1's attempt may have been written (the broker timed it
// out waiting for its replicas) and waits for its retry, and the batches
// behind it are acknowledged, which proves record 1 written too.
func maybeWrittenAhead(t *testing.T, mod func(*Config)) *harness {
	h := idempotent(t, false, mod)
	var bs []*Batch
	for id := 1; id <= 3; id++ {
		h.add(tp0, id, big)
		bs = append(bs, h.drainOne("batch of record "+string(rune('0'+id))))
	}
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(bs[1], 101, -1, nil)
	h.acc.Complete(bs[2], 102, -1, nil)
	return h
}

// The callbacks of batches acknowledged while a batch before them waits for
// its retry run after that batch's, in offset order. Before, records 2 and
// 3 (offsets 101 and 102) had their callbacks before record 1 (offset 100),
// whose retry came back a duplicate later.
func TestCallbacksBehindAMaybeWrittenBatchWaitForIt(t *testing.T) {
	h := maybeWrittenAhead(t, nil)
	require.Empty(t, h.orderOf(), "callbacks ran before those of the batch ahead of them")
	h.acc.Complete(h.drainOne("the retry of record 1"), 100, -1, nil)
	require.Equal(t, []int{1, 2, 3}, h.orderOf())
	for id, offset := range map[int]int64{1: 100, 2: 101, 3: 102} {
		require.Equal(t, offset, h.outcome(id).Offset)
	}
}

// A batch ahead that fails (its DeliveryTimeout passed while it waited for
// its retry) releases the callbacks behind it just the same.
func TestCallbacksBehindABatchThatFailsRunAfterIt(t *testing.T) {
	h := maybeWrittenAhead(t, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.Equal(t, []int{1, 2, 3}, h.orderOf())
	require.ErrorIs(t, h.outcome(1).Err, ErrDeliveryTimeout)
	require.NoError(t, h.outcome(2).Err)
	require.NoError(t, h.outcome(3).Err)
}

// A batch ahead split by its retry's answer hands the callbacks behind it to
// its second half.
func TestCallbacksBehindASplitBatchFollowItsSecondHalf(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.BatchSize = 4096 })
	small := make([]byte, 100)
	for id := 1; id <= 4; id++ {
		h.add(tp0, id, small)
	}
	first := h.drainOne("records 1 to 4")
	h.add(tp0, 5, make([]byte, 3500)) // fills a batch of its own
	behind := h.drainOne("record 5")
	h.acc.Retry(first, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(behind, 104, -1, nil)
	require.True(t, h.acc.Split(h.drainOne("the retry of records 1 to 4"), kerr.MessageTooLarge, nil))

	h.acc.Complete(h.drainOne("the first half"), 100, -1, nil)
	require.Equal(t, []int{1, 2}, h.orderOf(), "record 5 ran before the second half")
	h.acc.Complete(h.drainOne("the second half"), 102, -1, nil)
	require.Equal(t, []int{1, 2, 3, 4, 5}, h.orderOf())
	require.Equal(t, int64(104), h.outcome(5).Offset)
}

// The answer MESSAGE_TOO_LARGE that comes after a batch's DeliveryTimeout,
// before the expiry pass, fails the batch as a retriable error would:
// halves sent then would go past the timeout.
func TestSplitPastDeliveryTimeoutFails(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	for id := range 4 {
		h.add(tp0, id, []byte("v"))
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.clk.Advance(time.Second)
	require.False(t, h.acc.Split(bs[0], kerr.MessageTooLarge, nil), "split past its DeliveryTimeout")
	again, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, again, "a half went past DeliveryTimeout")
	for id := range 4 {
		err := h.outcome(id).Err
		require.ErrorIs(t, err, ErrDeliveryTimeout)
		require.ErrorIs(t, err, kerr.MessageTooLarge, "the last error is kept")
	}
}

// Split builds the halves before it takes the partition's lock, and they
// copy whether the batch may be written, which an expiry pass writes under
// that lock: here the pass runs while Split builds, with nothing ordering
// the two but the lock Split takes later. The race detector reported the
// copy as racing with the expiry's write (run with -race); the batch's
// records fail as expired either way.
func TestSplitReadsWhatExpiryWritesOnlyUnderTheLock(t *testing.T) {
	clk := &clockWaitingFor{}
	h := newHarness(t, func(c *Config) {
		c.Linger, c.DeliveryTimeout = 0, time.Second
		clk.Fake, c.Clock = c.Clock.(*clock.Fake), clk
	})
	for id := range 4 {
		h.add(tp0, id, []byte("v"))
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.clk.Advance(time.Second)
	now := h.clk.Now()
	expired := make(chan struct{})
	clk.until, clk.t = expired, t
	go func() {
		defer close(expired)
		h.acc.Expire(now)
	}()
	require.False(t, h.acc.Split(bs[0], kerr.MessageTooLarge, nil), "split after its expiry")
	for id := range 4 {
		err := h.outcome(id).Err
		require.ErrorIs(t, err, ErrDeliveryTimeout)
		require.ErrorIs(t, err, ErrMaybeWritten, "it expired in flight")
	}
}

// clockWaitingFor is a fake clock whose Now waits for until to close
// first, once until is set: Split reads the clock between building the
// halves and taking the partition's lock, so a test can hold it there
// without ordering anything it did before.
type clockWaitingFor struct {
	*clock.Fake
	until <-chan struct{}
	t     *testing.T
}

func (c *clockWaitingFor) Now() time.Time {
	if c.until != nil {
		receive(c.t, c.until, "the expiry pass did not end")
	}
	return c.Fake.Now()
}

// A duplicate answered before any first attempt of the partition was
// carries the batch's maximum timestamp, not an append time, on a
// CreateTime topic: the records keep their own timestamps. Before, every
// record of the batch was reported with the latest one's.
func TestADuplicateBeforeAnyFirstAnswerKeepsTheRecordsTimestamps(t *testing.T) {
	h := idempotent(t, false, nil)
	first := h.clk.Now().UnixMilli()
	h.add(tp0, 1, []byte("v"))
	h.clk.Advance(10 * time.Millisecond)
	h.add(tp0, 2, []byte("v"))
	b := h.drainOne("records 1 and 2")
	require.Equal(t, 2, b.Records())
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(h.drainOne("their retry"), 100, first+10, nil) // the duplicate's answer: the batch's maximum
	require.Equal(t, first, h.outcome(1).Timestamp)
	require.Equal(t, first+10, h.outcome(2).Timestamp)

	// On a LogAppendTime topic the broker's time differs, and is taken.
	h.add(tp0, 3, []byte("v"))
	b = h.drainOne("record 3")
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(h.drainOne("its retry"), 102, first+5000, nil)
	require.Equal(t, first+5000, h.outcome(3).Timestamp)
}

// A batch kept for its sequence numbers after its callbacks ran gives its
// entries back outside the partition's lock; a new batch sizing its entries
// on it must not read them. Run with -race.
func TestANewBatchDoesNotReadTheEntriesOfADeliveredOne(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	for i := range 50 {
		h.add(tp0, 2*i, big)
		b := h.drainOne("a batch")
		h.acc.Retry(b, Retry{At: h.clk.Now().Add(time.Hour), Cause: kerr.RequestTimedOut, MaybeWritten: true})
		h.clk.Advance(2 * time.Second)
		h.acc.Expire(h.clk.Now()) // completed, kept; its delivery gives its entries back
		h.add(tp0, 2*i+1, big)    // a new batch, sized on the last one
		h.sync()
		h.acc.FailAllUnsent(kerr.RequestTimedOut)
		h.sync()
	}
}

// Without idempotence, batches that a broker refuses together are written
// in order once it recovers. A failure that hits a partition hits every
// request of it in flight (NOT_ENOUGH_REPLICAS while its replicas are out
// of sync, say), and the broker answers them one at a time: the retry of
// the first batch refused, and a new batch behind it, wait until the
// requests sent before that refusal are answered (partition.stale), since
// those answers may send batches back too. Sent in the meantime, they
// reached the broker ahead of those batches' retries, and it wrote record
// 4 (offset 101) before records 2 and 3. Waiting, only a broker that
// refuses a batch and writes the one pipelined behind it reorders records,
// which MaxInFlight 1 avoids.
func TestBatchesRefusedTogetherWithoutIdempotenceAreWrittenInOrder(t *testing.T) {
	const backoff = 100 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	broker := &pipelinedBroker{h: h, offset: 100}
	refuse := func() {
		h.acc.Retry(broker.answer(), Retry{At: h.clk.Now().Add(backoff), Cause: kerr.NotEnoughReplicas})
	}

	for id := 1; id <= 3; id++ {
		h.add(tp0, id, big)
	}
	broker.send()
	require.Len(t, broker.sent, 3, "records 1, 2 and 3, pipelined in batches of their own")
	refuse()
	h.add(tp0, 4, big)
	h.clk.Advance(backoff)
	broker.send() // record 1's backoff is over; records 2 and 3 are still unanswered
	refuse()
	refuse()
	h.clk.Advance(backoff)
	for broker.send(); len(broker.sent) > 0; broker.send() {
		for len(broker.sent) > 0 {
			broker.write(broker.answer()) // the broker has recovered
		}
	}
	require.Equal(t, []int64{100, 101, 102, 103}, h.offsets(1, 4), "the offsets of records 1 to 4")
}

// The same holds for a batch split while a batch sent after it is in flight
// (MESSAGE_TOO_LARGE, after the topic's max.message.bytes was lowered): its
// halves, and a new batch behind them, wait for the answer to that batch,
// which may split it too. Sent at once, the halves of records 1 and 2 and
// the new batch of record 5 would go ahead of the halves of records 3 and
// 4, and the broker would write record 5 before them: offsets 100, 101,
// 103, 104, 102.
func TestBatchesSplitTogetherWithoutIdempotenceAreWrittenInOrder(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	broker := &pipelinedBroker{h: h, offset: 100}
	value := make([]byte, 400) // two records a batch
	for id := 1; id <= 4; id++ {
		h.add(tp0, id, value)
	}
	broker.send()
	require.Len(t, broker.sent, 2, "records 1 and 2, then 3 and 4")
	require.True(t, h.acc.Split(broker.answer(), kerr.MessageTooLarge, nil))
	h.add(tp0, 5, value)
	broker.send() // records 3 and 4 are still unanswered
	for len(broker.sent) > 0 {
		// The broker takes a batch of one record only.
		if b := broker.answer(); b.Records() > 1 {
			require.True(t, h.acc.Split(b, kerr.MessageTooLarge, nil))
		} else {
			broker.write(b)
		}
		broker.send()
	}
	require.Equal(t, []int64{100, 101, 102, 103, 104}, h.offsets(1, 5), "the offsets of records 1 to 5")
}

// pipelinedBroker answers tp0's requests in the order they were sent, and
// writes the batches it takes from offset on.
type pipelinedBroker struct {
	h      *harness
	sent   []*Batch // drained, unanswered
	offset int64
}

// send drains tp0 for as long as it gives batches.
func (pb *pipelinedBroker) send() {
	for {
		bs, _ := pb.h.drain([]TopicPartition{tp0}, 1<<20)
		if len(bs) == 0 {
			return
		}
		pb.sent = append(pb.sent, bs...)
	}
}

// answer takes the oldest batch sent, for its answer.
func (pb *pipelinedBroker) answer() *Batch {
	b := pb.sent[0]
	pb.sent = pb.sent[1:]
	return b
}

// write acknowledges b at the log's next offset.
func (pb *pipelinedBroker) write(b *Batch) {
	n := b.Records() // before Complete hands b to delivery, which releases its entries
	pb.h.acc.Complete(b, pb.offset, -1, nil)
	pb.offset += int64(n)
}

// offsets returns the offsets of records first to last.
func (h *harness) offsets(first, last int) []int64 {
	h.t.Helper()
	var offsets []int64
	for id := first; id <= last; id++ {
		offsets = append(offsets, h.outcome(id).Offset)
	}
	return offsets
}
