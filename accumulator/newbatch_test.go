package accumulator

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// Goroutines that find their partition without an open batch at the same
// time start one batch between them: the first takes its memory and the
// others append to it. Each taking a buffer of its own, to give it back on
// finding the batch started, took memory that no batch needed: hundreds of
// buffers at once with thousands of goroutines producing, which raised the
// process's resident memory by up to BufferMemory and failed records that
// may not wait for memory (or whose MaxBlock ended) though there was room
// for them. Here one batch's memory is free and sixty-four goroutines,
// started together, append a record each that may not wait: one batch
// holds them all, so none may fail. How many find the partition without a
// batch together is the scheduler's doing, so the test runs many rounds;
// with the memory taken outside the partition's lock, some failed in most
// runs of it (eight to ten of ten) on two cores.
func TestGoroutinesStartingABatchTogetherTakeOneBuffer(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps: on one, the goroutines take turns, and seldom find the partition without a batch together")
	}
	const goroutines, rounds = 64, 50
	for round := range rounds {
		h := newHarness(t, nil)
		for h.pool.Available() > h.acc.cfg.BatchSize {
			_, err := h.pool.Allocate(context.Background(), h.acc.cfg.BatchSize, 0)
			require.NoError(t, err)
		}
		start := make(chan struct{})
		appended := make(chan error, goroutines)
		for id := range goroutines {
			go func() {
				<-start
				_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: id, NoWait: true})
				appended <- err
			}()
		}
		close(start)
		for range goroutines {
			require.NoError(t, receive(t, appended, "an append did not return"),
				"round %d: a record failed for want of memory while the batch another goroutine started had room for it", round)
		}
		require.Equal(t, 0, h.pool.Available(), "round %d: memory went missing", round)
	}
}

// Goroutines queued for memory to start a partition's batch are served one
// at a time: the first starts the batch, and the others need memory only
// to give it back on finding it. One whose MaxBlock ends in the queue is
// appended to that batch if it fits, as it needs no memory, rather than
// failed beside it.
func TestARecordWhoseWaitForMemoryEndsJoinsTheBatchStartedMeanwhile(t *testing.T) {
	h := newHarness(t, nil)
	var taken [][]byte
	for h.pool.Available() > 0 {
		buf, err := h.pool.Allocate(context.Background(), h.acc.cfg.BatchSize, 0)
		require.NoError(t, err)
		taken = append(taken, buf)
	}
	appendOne := func(id int) <-chan error {
		appended := make(chan error, 1)
		go func() {
			_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: id})
			appended <- err
		}()
		return appended
	}
	first := appendOne(1)
	waitFor(t, "the first record to wait for memory", func() bool { return h.pool.Waiters() == 1 })
	second := appendOne(2)
	waitFor(t, "the second record to wait for memory", func() bool { return h.pool.Waiters() == 2 })

	h.pool.Deallocate(taken[0]) // one batch's memory: the first record starts tp0's batch with it
	require.NoError(t, receive(t, first, "the first record's append"))
	h.clk.Advance(h.acc.cfg.MaxBlock)
	require.NoError(t, receive(t, second, "the second record's append"),
		"a record whose MaxBlock ended failed for want of memory beside a batch with room for it")

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1, "both records in the one batch")
	require.Equal(t, 2, bs[0].Records(), "records in the batch")
	require.Equal(t, 0, h.pool.Available(), "memory went missing")
}

// TestABatchStartsWithRoomForItsPredecessorsRecords holds the entries'
// sizing: a partition's next batch starts with room for as many records as
// its previous one took, so a steady workload never grows the slice. With
// 4-byte values a 64 KiB batch takes thousands of records, more than a
// fresh pooled slice holds.
func TestABatchStartsWithRoomForItsPredecessorsRecords(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BatchSize = 64 << 10 })
	p := h.acc.partition(tp0)
	// roomAfterFirst is the first batch's record count and the second's
	// room once the second exists.
	roomAfterFirst := func() (took, room entriesRoom, ok bool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.batches) < 2 {
			return took, room, false
		}
		next := p.batches[1].entries
		return p.batches[0].entries.room(), entriesRoom{records: cap(next.cbs), facts: cap(next.facts)}, true
	}
	for i := 0; ; i++ {
		require.Less(t, i, 100_000, "no second batch after %d records", i)
		h.add(tp0, i, []byte("abcd"))
		took, room, ok := roomAfterFirst()
		if !ok {
			continue
		}
		require.Greater(t, took.records, 256, "the first batch should hold more records than a fresh slice has room for")
		require.GreaterOrEqual(t, room.records, took.records, "the second batch's callbacks start with less room than the first batch's records")
		require.GreaterOrEqual(t, room.facts, took.facts, "the second batch's facts start with less room than the first batch's")
		return
	}
}
