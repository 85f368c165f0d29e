package producer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/record"
)

// The sticky partitioner keeps its partition until a batch's worth of bytes
// has gone there and one of its batches is full. A batch that left early
// (here a Flush sends it; in production a request that went anyway takes
// it along) does not end the partition's turn halfway through the next
// batch: that batch would never fill, and synchronous senders whose
// records sit in it would wait out the linger.
func TestStickyTurnEndsWithAFullBatch(t *testing.T) {
	const perBatch = 10
	value := make([]byte, 100)
	// Every record has the same size: the same timestamp, and offset
	// deltas below 64, so that exactly perBatch records fill a batch.
	at := time.Unix(1_700_000_000, 0)
	size := record.RecordSize(0, 0, nil, value, nil)
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"sticky": 6}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = record.BatchHeaderSize + perBatch*size
		cfg.Linger = time.Minute // only a Flush or a full batch sends
	})
	produce := func(n int) []int32 {
		t.Helper()
		o := newOutcomes(n)
		for i := range n {
			p.Produce(ctx(t), &Record{Topic: "sticky", Value: value, Timestamp: at}, o.cb(i))
		}
		require.NoError(t, p.Flush(ctx(t)))
		o.wait(t, "the records")
		partitions := make([]int32, n)
		for i, got := range o.got {
			require.NoError(t, got[0].err, "record %d", i)
			partitions[i] = got[0].md.Partition
		}
		return partitions
	}

	first := produce(perBatch / 2) // half a batch, sent by the Flush
	sticky := first[0]
	require.Equal(t, []int32{sticky, sticky, sticky, sticky, sticky}, first, "the first records stick")

	// A batch's worth of bytes is reached 6 records into the next batch;
	// the turn goes on until that batch is full, and then ends.
	next := produce(perBatch + 1)
	for i, partition := range next[:perBatch] {
		require.Equal(t, sticky, partition, "record %d of the second batch", i)
	}
	require.NotEqual(t, sticky, next[perBatch], "the record after the full batch")
}
