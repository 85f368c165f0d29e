package accumulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Load counts every batch a partition holds, queued or in flight, until
// its answer lets it go; partitions and topics it has never seen count 0.
func TestLoadCountsEachPartitionsBatches(t *testing.T) {
	h := newHarness(t, nil)
	value := make([]byte, 100)
	for i := 0; i < 20; i++ {
		h.add(tp0, i, value) // three batches of at most 1024 bytes
	}
	h.add(part(2), 20, value)
	sizes := []int32{9, 9, 9, 9} // Load overwrites what is there
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{3, 0, 1, 0}, sizes)

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{3, 0, 1, 0}, sizes, "a batch in flight still counts")

	h.acc.Complete(bs[0], 0, -1, nil)
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{2, 0, 1, 0}, sizes, "an acknowledged batch no longer counts")

	h.acc.Load("elsewhere", sizes)
	require.Equal(t, []int32{0, 0, 0, 0}, sizes)
}

// Drain closes a batch outside every lock. A batch that expires meanwhile
// is delivered at once, and its sizes, which its sender may still be
// writing, are counted only when its request's answer says the sender is
// done with it. The race detector catches a count at delivery: nothing but
// the partition's lock, taken before the batch is closed, orders the drain
// here before the expiry.
func TestABatchExpiredWhileItClosesHasItsSizesCountedAtItsAnswer(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	h.add(tp0, 1, []byte("v"))
	now := h.clk.Now()
	drained := make(chan []*Batch, 1)
	go func() {
		bs, _, _ := h.acc.Drain(nil, node, []TopicPartition{tp0}, 0, 1<<20, false, now)
		drained <- bs
	}()
	waitFor(t, "the batch in flight", func() bool {
		_, inFlight := h.acc.Queued(tp0)
		return inFlight == 1
	})
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(1).Err, ErrDeliveryTimeout)
	stats := h.acc.Stats()
	require.Equal(t, int64(1), stats.Batches)
	require.Zero(t, stats.EncodedBytes, "counted before its sender is done with it")

	bs := receive(t, drained, "Drain did not return")
	require.Len(t, bs, 1)
	encoded, uncompressed := len(bs[0].Encoded()), bs[0].UncompressedSize()
	h.acc.Complete(bs[0], 0, -1, nil) // the late answer
	stats = h.acc.Stats()
	require.Equal(t, int64(encoded), stats.EncodedBytes)
	require.Equal(t, int64(uncompressed), stats.UncompressedBytes)
	require.Equal(t, int64(1), stats.Batches, "still one batch")
}
