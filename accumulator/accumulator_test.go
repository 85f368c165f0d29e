package accumulator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// InUse names a partition as buffered while any of its batches is
// unsettled: lingering, in flight, or sent back for a retry; the metadata
// loop keeps asking for its topic, and for a leader of it, until then.
func TestInUseNamesAPartitionBufferedUntilItsBatchesSettle(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour })
	buffered := func() []TopicPartition {
		b, _ := h.acc.InUse(h.clk.Now())
		return b
	}
	require.Empty(t, buffered())
	other := TopicPartition{Topic: "u", Partition: 1}
	h.add(tp0, 1, []byte("v"))
	h.add(other, 2, []byte("v"))
	require.ElementsMatch(t, []TopicPartition{tp0, other}, buffered(), "lingering")

	h.acc.BeginFlush()
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.EndFlush()
	require.Len(t, bs, 1)
	require.ElementsMatch(t, []TopicPartition{tp0, other}, buffered(), "in flight")
	h.retry(bs[0], 0)
	require.ElementsMatch(t, []TopicPartition{tp0, other}, buffered(), "awaiting a retry")

	again, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, again, 1)
	h.acc.Complete(again[0], 0, -1, nil)
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, []TopicPartition{other}, buffered(), "settled")
}

// InUse names a topic as used while it is buffered, and after, until the
// given time passes the start of its latest batch: its metadata is kept for
// the producer's next records (MetadataMaxIdle).
func TestInUseNamesATopicUsedSinceItsLatestBatchStarted(t *testing.T) {
	h := newHarness(t, nil)
	h.add(tp0, 1, []byte("v"))
	started := h.clk.Now()
	h.clk.Advance(30 * time.Second) // within its DeliveryTimeout: it is still sent
	_, used := h.acc.InUse(started.Add(time.Hour))
	require.Equal(t, []string{"t"}, used, "a buffered topic is used whatever its age")

	h.acc.BeginFlush()
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.EndFlush()
	require.Len(t, bs, 1)
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, h.outcome(1).Err)

	buffered, used := h.acc.InUse(started)
	require.Empty(t, buffered)
	require.Equal(t, []string{"t"}, used, "its latest batch started at the time given")
	_, used = h.acc.InUse(started.Add(time.Millisecond))
	require.Empty(t, used, "its latest batch started before the time given")
}

// An idempotent batch that expired in flight, and whose request then got
// no answer either, keeps its sequence number in its partition until the
// next batch restarts the sequences; but every record of the partition has
// its outcome and nothing needs a leader. InUse no longer names the
// partition as buffered once the request is answered, nor its topic as
// used once its latest batch is older than the time given, and Load counts
// no batch: the metadata loop lets the topic go after MetadataMaxIdle, and
// stops polling for the leader of a deleted topic. Before, the kept batch
// made the partition buffered, and its topic used, for as long as no
// record came for it again. The sequence is still settled by the restart.
func TestABatchKeptOnlyForItsSequenceLeavesItsPartitionUnbuffered(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 1, big)
	started := h.clk.Now()
	b := h.drainOne("record 1")
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(1).Err, ErrMaybeWritten)
	buffered, _ := h.acc.InUse(h.clk.Now())
	require.Equal(t, []TopicPartition{tp0}, buffered, "its request is in flight")

	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true}) // timed out
	buffered, used := h.acc.InUse(started.Add(time.Millisecond))
	require.Empty(t, buffered, "every outcome is known, nothing is in flight")
	require.Empty(t, used, "its latest batch started before the time given")
	sizes := []int32{9}
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{0}, sizes)

	h.add(tp0, 2, big)
	buffered, _ = h.acc.InUse(h.clk.Now())
	require.Equal(t, []TopicPartition{tp0}, buffered, "a new batch lingers")
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{1}, sizes)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("record 2")), "the sequences restart under a new epoch")
}

// A batch kept only for its sequence does not hide the batches of its
// partition that still wait: one expired behind a batch that waits for a
// retry (record 2 waited for its metadata first, so its DeliveryTimeout
// ends sooner), the partition stays buffered until that one has its
// outcome too.
func TestABatchKeptOnlyForItsSequenceLeavesTheOthersBuffered(t *testing.T) {
	h := idempotent(t, false, nil) // DeliveryTimeout 1 minute
	h.add(tp0, 1, big)
	b1 := h.drainOne("record 1")
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Key: []byte("2"), Value: big}, Callback: 2,
		Since: h.clk.Now().Add(-50 * time.Second)})
	require.NoError(t, err)
	b2 := h.drainOne("record 2")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b2, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.clk.Advance(10 * time.Second) // record 2's DeliveryTimeout, not 1's
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(2).Err, ErrDeliveryTimeout)

	buffered, _ := h.acc.InUse(h.clk.Now())
	require.Equal(t, []TopicPartition{tp0}, buffered, "record 1 waits for its retry")
	sizes := []int32{9}
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{1}, sizes, "record 1's batch, not record 2's")

	h.acc.Complete(h.drainOne("record 1's retry"), 100, -1, nil)
	require.Equal(t, int64(100), h.outcome(1).Offset)
	buffered, _ = h.acc.InUse(h.clk.Now())
	require.Empty(t, buffered)
	h.acc.Load("t", sizes)
	require.Equal(t, []int32{0}, sizes)
}
