package accumulator

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/slot"
	"github.com/gokafka/producer/record"
)

// Append says when it fills a batch, for the sticky partitioner, which
// waits for a full batch before it switches: when a record takes the last
// of the room in its batch, and when a record does not fit in what room the
// open batch has left (it seals that batch and starts the next).
func TestAppendReportsTheBatchesItFills(t *testing.T) {
	value := make([]byte, 100)
	size := record.RecordSize(0, 0, nil, value, nil) // the same for every record below
	for _, tc := range []struct {
		name      string
		batchSize int
		filledBy  int // the first record whose append fills a batch
		batches   int // the partition's batches after it
	}{
		{"exactly full", record.BatchHeaderSize + 3*size, 2, 1},
		{"a byte short of a fourth record", record.BatchHeaderSize + 4*size - 1, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.BatchSize = tc.batchSize })
			for id := 0; id <= tc.filledBy; id++ {
				res, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{TimestampMs: h.clk.Now().UnixMilli(), Value: value}, Callback: id})
				require.NoError(t, err)
				require.Equal(t, id == tc.filledBy, res.Filled, "record %d", id)
			}
			queued, _ := h.acc.Queued(tp0)
			require.Equal(t, tc.batches, queued)
			bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
			require.Len(t, bs, 1, "the full batch is ready")
			require.Equal(t, 3, bs[0].Records())
		})
	}
}

func TestRecordLargerThanBatchSizeGetsItsOwnBatch(t *testing.T) {
	h := newHarness(t, nil)
	h.add(tp0, 1, []byte("small"))
	h.add(tp0, 2, make([]byte, 3000))
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 2, queued)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, 1, bs[0].Records(), "the first batch was sealed by the big record")
	bs2, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs2, 1)
	require.Greater(t, len(bs2[0].Encoded()), 3000)
}

func TestConcurrentAppendsEachGetOneOutcome(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	const writers, perWriter = 8, 500
	parts := []TopicPartition{part(0), part(1), part(2)}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id := w*perWriter + i
				_, err := h.acc.Append(context.Background(), parts[id%3], nil, &Record{Data: record.Data{Value: []byte("0123456789")}, Callback: id})
				if err != nil {
					t.Errorf("append %d: %v", id, err)
				}
			}
		}()
	}
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		offset := int64(0)
		for {
			bs, _, _ := h.acc.Drain(nil, node, parts, 0, 1<<20, false, h.clk.Now())
			for _, b := range bs {
				n := b.Records() // the batch is not ours once completed
				h.acc.Complete(b, offset, -1, nil)
				offset += int64(n)
			}
			if len(bs) == 0 {
				select {
				case <-stop:
					if h.acc.Incomplete() == 0 {
						return
					}
				default:
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	receive(t, drained, "the drain loop did not end: batches left incomplete")
	for id := 0; id < writers*perWriter; id++ {
		require.NoError(t, h.outcome(id).Err)
	}
}

// TestAppendThroughASlotReachesTheSamePartition holds the handle kept in a
// topic's metadata slot: records appended through the slot and by name
// share the partition's batch, and the slot then holds the accumulator's
// own state for the topic, so later appends look nothing up.
func TestAppendThroughASlotReachesTheSamePartition(t *testing.T) {
	h := newHarness(t, nil)
	var topic slot.Slot
	for id, via := range []*slot.Slot{nil, &topic, &topic, nil} {
		_, err := h.acc.Append(context.Background(), tp0, via, &Record{Data: record.Data{Value: []byte("v")}, Callback: id})
		require.NoError(t, err)
	}
	p := h.acc.lookup(tp0)
	p.mu.Lock()
	batches, records := len(p.batches), p.batches[0].Records()
	p.mu.Unlock()
	require.Equal(t, 1, batches, "appends through the slot and by name went to different queues")
	require.Equal(t, 4, records)
	held := slot.Of(&topic, &h.acc.owner, "t", func(string) *topicPartitions {
		t.Fatal("the slot does not hold the accumulator's state after an append through it")
		return nil
	})
	require.Same(t, h.acc.topic("t"), held)
}

// A record that waited before it was appended waits for a new batch's
// memory only as long as its DeliveryTimeout, which runs from its Since,
// leaves, and then fails with ErrDeliveryTimeout rather than the pool's
// timeout, which would say that MaxBlock passed.
func TestAppendSinceBoundsTheWaitForMemory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.DeliveryTimeout, c.MaxBlock = 10*time.Second, 8*time.Second })
	for h.pool.Available() > 0 {
		_, err := h.pool.Allocate(context.Background(), 1024, 0)
		require.NoError(t, err)
	}
	since := h.clk.Now().Add(-9 * time.Second)
	appended := make(chan error, 1)
	go func() {
		_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("held")}, Callback: 1, Since: since})
		appended <- err
	}()
	waitFor(t, "the append waiting for memory", func() bool { return h.pool.Waiters() == 1 })
	h.clk.Advance(time.Second)
	err := receive(t, appended, "the append still waits for memory after the record's DeliveryTimeout")
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.NotErrorIs(t, err, bufferpool.ErrTimeout, "MaxBlock did not pass")
}

// A NoWait record gets a new batch's memory if it is free, and fails at
// once with the pool's timeout if not, where another would wait MaxBlock.
func TestAppendNoWaitFailsAtOnceWithoutMemory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBlock = time.Hour })
	noWait := func(tp TopicPartition, id int) error {
		_, err := h.acc.Append(context.Background(), tp, nil, &Record{Data: record.Data{Value: big}, Callback: id, NoWait: true})
		return err
	}
	require.NoError(t, noWait(tp0, 0), "memory is free")
	for h.pool.Available() > 0 {
		_, err := h.pool.Allocate(context.Background(), 1024, 0)
		require.NoError(t, err)
	}
	appended := make(chan error, 1)
	go func() { appended <- noWait(part(1), 1) }()
	require.ErrorIs(t, receive(t, appended, "a NoWait append waits for memory"), bufferpool.ErrTimeout)
}
