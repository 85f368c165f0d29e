package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/partitioner"
)

// Records for a topic that does not exist yet wait for it (within
// MaxBlock); once it is created they are delivered, in the order they were
// produced, and records produced right after the creation queue behind them.
func TestFaultsUnknownTopicAppearsLater(t *testing.T) {
	const topic, partitions, held = "late", 3, 200
	c := startCluster(t, embedded.Options{}) // no automatic topic creation
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.MaxBlock = testTimeout / 2 // ample: the topic appears within milliseconds
	})

	asked := observeMetadata(c, topic)
	recs := recordsFor(topic, 2*held, keyOwnedBy(1, 10))
	o := newOutcomes(len(recs))
	ctx := testCtx(t)
	for i := range held {
		p.Produce(ctx, recs[i], o.callback(i))
	}
	// The broker answered UNKNOWN_TOPIC_OR_PARTITION to a request for the
	// topic before it is created: the cluster handles requests and
	// administration one at a time, in order.
	require.NoError(t, asked.Wait(ctx, 1), "the producer never asked for the topic's metadata")
	asked.Remove()
	o.mu.Lock()
	for i := range held {
		require.Zero(t, o.byID[i].calls, "record %d has an outcome before its topic exists: %v", i, o.byID[i].err)
	}
	o.mu.Unlock()

	require.NoError(t, c.CreateTopic(topic, partitions))
	for i := held; i < len(recs); i++ {
		p.Produce(ctx, recs[i], o.callback(i))
	}
	outs := o.wait(t)
	requireAllAcked(t, outs)

	// In order: within each partition, offsets follow the order of Produce.
	last := map[int32]int{}
	for i, out := range outs {
		require.Equal(t, partitioner.KeyPartition(recs[i].Key, partitions), out.md.Partition, "record %d: partition of key %q", i, recs[i].Key)
		if j, ok := last[out.md.Partition]; ok {
			require.Less(t, outs[j].md.Offset, out.md.Offset, "partition %d: record %d written after record %d", out.md.Partition, j, i)
		}
		last[out.md.Partition] = i
	}
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "there were no faults once the topic existed")
}

// Records for a topic that never appears fail with ErrUnknownTopic, naming
// the topic, once MaxBlock has passed; records for other topics are
// delivered meanwhile.
func TestFaultsUnknownTopicNeverAppears(t *testing.T) {
	const missing, present = "never-created", "present"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{present: 2}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.MaxBlock = time.Second
	})

	lost := recordsFor(missing, 50, nil)
	good := recordsFor(present, 50, nil)
	o := newOutcomes(len(lost) + len(good))
	ctx := testCtx(t)
	for i := range lost {
		p.Produce(ctx, lost[i], o.callback(i))
		p.Produce(ctx, good[i], o.callback(len(lost)+i))
	}
	outs := o.wait(t)

	for i, out := range outs[:len(lost)] {
		require.ErrorIs(t, out.err, producer.ErrUnknownTopic, "record %d", i)
		assert.Contains(t, out.err.Error(), missing, "record %d: the error names the topic", i)
		assert.Contains(t, out.err.Error(), "MaxBlock", "record %d: the error says what ran out", i)
		var pe *producer.PartitionError
		if assert.ErrorAs(t, out.err, &pe, "record %d", i) {
			assert.Equal(t, missing, pe.Topic)
			assert.Equal(t, int32(-1), pe.Partition, "record %d never had a partition", i)
		}
		assert.Equal(t, int64(-1), out.md.Offset, "record %d", i)
	}
	goodOuts := outs[len(lost):]
	requireAllAcked(t, goodOuts)
	d := checkDelivery(t, seeds, present, good, goodOuts)
	d.requireNoDuplicates(t, "there were no faults")
	assert.Equal(t, int32(-1), c.Leader(missing, 0), "the producer must not create %s", missing)
}

// Records held for a topic that does not exist yet may fill BufferMemory
// (they are counted against it); once the topic appears they must still be
// delivered. Appending them needs batch buffers from the same pool: the
// goroutine that appends them must turn the held records' memory into
// batches, not wait for memory that only it can free (before 8e5c2c5 it gave
// back one record's reservation at a time and waited MaxBlock for a whole
// batch buffer, so the first records failed with ErrBufferFull).
func TestFaultsUnknownTopicAppearsWithBufferMemoryFull(t *testing.T) {
	const topic, recordSize, memory, batch = "late-and-full", 4000, 64 << 10, 16 << 10
	c := startCluster(t, embedded.Options{})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.BufferMemory = memory
		cfg.BatchSize = batch
		cfg.MaxBlock = time.Second // how long each stalled record waits
	})

	// As many records as may wait for metadata without blocking Produce:
	// BufferMemory less one batch, so that a batch fits beside them.
	n := 0
	for (n+1)*(recordSize+100) < memory-batch {
		n++
	}
	recs := recordsFor(topic, n, nil)
	for _, r := range recs {
		r.Value = append(r.Value, make([]byte, recordSize-len(r.Value))...)
	}
	asked := observeMetadata(c, topic)
	o := newOutcomes(len(recs))
	ctx := testCtx(t)
	for i, r := range recs {
		p.Produce(ctx, r, o.callback(i))
	}
	require.NoError(t, asked.Wait(ctx, 1), "the producer never asked for the topic's metadata")
	asked.Remove()
	require.NoError(t, c.CreateTopic(topic, 1))

	outs := o.wait(t)
	requireAllAcked(t, outs)
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "there were no faults once the topic existed")
}

// The same while many goroutines keep producing to the topic: records
// produced while earlier ones are still held must queue behind them (to
// keep their order), so they are held too, and take the memory the
// appending goroutine has just given back before it can allocate a batch.
// Once held records fill BufferMemory again, the only goroutine that could
// turn them into batches waits for memory that only they hold: nothing
// moves until MaxBlock ends the waits with ErrBufferFull.
func TestFaultsBugHeldRecordsStarveTheirOwnAppend(t *testing.T) {
	const topic, recordSize, workers, perWorker = "late-and-busy", 1000, 8, 300
	c := startCluster(t, embedded.Options{})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.BufferMemory = 128 << 10
		cfg.BatchSize = 16 << 10
		cfg.MaxBlock = 2 * time.Second // how long a stalled wait lasts
	})

	recs := recordsFor(topic, workers*perWorker, nil)
	for _, r := range recs {
		r.Value = append(r.Value, make([]byte, recordSize-len(r.Value))...)
	}
	asked := observeMetadata(c, topic)
	o := newOutcomes(len(recs))
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				p.Produce(ctx, recs[i], o.callback(i))
			}
		}()
	}
	require.NoError(t, asked.Wait(ctx, 1), "the producer never asked for the topic's metadata")
	asked.Remove()
	require.NoError(t, c.CreateTopic(topic, 3))

	// A healthy producer delivers them in well under a second; a stalled
	// one only fails some after each MaxBlock, for minutes.
	if !outcomesWithin(t, o, 10*time.Second) {
		closeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = p.Close(closeCtx) // fails what is left, so the goroutines end
		waitGroup(t, &wg, "producing goroutines")
		return
	}
	waitGroup(t, &wg, "producing goroutines")
	outs := o.wait(t)
	requireAllAcked(t, outs)
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "there were no faults once the topic existed")
}
