package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/clock"
)

// TestReadyAndDrainVisitOnlyPartitionsWithBatchesWaiting pins that Ready
// and Drain take the lock of only the partitions that have a batch waiting
// to be sent (or sequences to restart), not of every partition the broker
// leads: with thousands led and memory short, every new batch wakes the
// sender, and a pass that locked each of them cost more than the records
// it sent.
func TestReadyAndDrainVisitOnlyPartitionsWithBatchesWaiting(t *testing.T) {
	const n = 1000
	h := newHarness(t, func(cfg *Config) {
		cfg.Pool = bufferpool.New((n+2)*cfg.BatchSize, cfg.BatchSize, clock.NewFake(time.Unix(0, 0)))
	})
	parts := make([]TopicPartition, n)
	for i := range parts {
		parts[i] = part(int32(i))
		h.add(parts[i], i, []byte("v"))
	}
	// Everything lingers: each partition has a batch waiting.
	h.clk.Advance(10 * time.Millisecond)
	first, _ := h.drain(parts, 1<<30)
	require.Len(t, first, len(parts), "every lingered batch goes")

	// Now every batch is in flight: nothing waits. One partition gets a
	// new batch.
	h.add(parts[500], n, []byte("v"))
	before := h.acc.visits.Load()
	ready, next := h.acc.Ready(node, parts, true, h.clk.Now())
	require.False(t, ready, "the new batch waits for the answers (busy)")
	require.Equal(t, noDeadline, next, "the new batch waits for an answer, which no timer foresees")
	require.LessOrEqual(t, h.acc.visits.Load()-before, uint64(1), "Ready visits the partition with a batch waiting, and no other: %d visited", h.acc.visits.Load()-before)

	before = h.acc.visits.Load()
	h.clk.Advance(10 * time.Millisecond)
	bs, _ := h.drain(parts, 1<<30)
	require.Len(t, bs, 1, "the new batch goes once it lingered")
	require.Equal(t, parts[500], bs[0].TP)
	require.LessOrEqual(t, h.acc.visits.Load()-before, uint64(1), "Drain visits the partition with a batch waiting, and no other: %d visited", h.acc.visits.Load()-before)

	// A retry makes its partition waiting again: it is visited, and goes.
	require.Equal(t, parts[7], first[7].TP)
	h.retry(first[7], 0)
	before = h.acc.visits.Load()
	bs, _ = h.drain(parts, 1<<30)
	require.Len(t, bs, 1, "the retry goes")
	require.Equal(t, parts[7], bs[0].TP)
	require.LessOrEqual(t, h.acc.visits.Load()-before, uint64(1), "Drain visits the retried partition alone: %d visited", h.acc.visits.Load()-before)
}

// A partition left behind an epoch, with nothing waiting but a batch whose
// sequence is in doubt (expired in flight, its answer lost), goes along to
// the new epoch at the next pass, letting go of the batch: a settled batch
// kept keeps its pending flag set. Passed by, it stayed behind until its
// next record, the batch with it.
func TestAPartitionLeftBehindAnEpochCatchesUpAtTheNextPass(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	tp1 := part(1)
	parts := []TopicPartition{tp0, tp1}
	h.add(tp1, 0, big)
	b := h.drainOneOf(tp1, "tp1's batch")
	h.clk.Advance(2 * time.Second)
	h.acc.Expire(h.clk.Now())
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errors.New("request timed out"), MaybeWritten: true})
	h.acc.Ready(node, parts, false, h.clk.Now()) // nothing of tp1 waits to be sent
	require.True(t, h.acc.SequencesInDoubt(), "tp1's sequence is in doubt")

	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 1}) // a newer epoch
	h.add(tp0, 1, big)
	bs, _ := h.drain(parts, 1<<20)
	require.Len(t, bs, 1)
	p := h.acc.partition(tp1)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Equal(t, ProducerID{ID: 7, Epoch: 1}, p.producer, "the pass moves tp1 to the new epoch")
	require.Empty(t, p.batches, "and lets go of its settled batch")
}
