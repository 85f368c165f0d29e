package accumulator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/record"
)

// harness is an accumulator on a fake clock whose callbacks record outcomes.
type harness struct {
	t    *testing.T
	clk  *clock.Fake
	pool *bufferpool.Pool
	acc  *Accumulator

	mu      sync.Mutex
	results map[int][]Result // record id -> every outcome it got
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	h := &harness{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), results: map[int][]Result{}}
	cfg := Config{
		BatchSize:       1024,
		Linger:          10 * time.Millisecond,
		DeliveryTimeout: time.Minute,
		MaxBlock:        time.Second,
		Clock:           h.clk,
		Complete: func(cb any, r Result) {
			h.mu.Lock()
			defer h.mu.Unlock()
			id := cb.(int)
			h.results[id] = append(h.results[id], r)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	h.pool = bufferpool.New(64*cfg.BatchSize, cfg.BatchSize, h.clk)
	cfg.Pool = h.pool
	h.acc = New(cfg)
	return h
}

var tp0 = TopicPartition{Topic: "t", Partition: 0}

// add appends a record with id as its callback value.
func (h *harness) add(tp TopicPartition, id int, value []byte) AppendResult {
	h.t.Helper()
	res, err := h.acc.Append(context.Background(), tp, h.clk.Now().UnixMilli(), []byte(fmt.Sprint(id)), value, nil, id)
	require.NoError(h.t, err)
	return res
}

func (h *harness) drain(parts []TopicPartition, maxBytes int) ([]*Batch, time.Duration) {
	bs, next, _ := h.acc.Drain(parts, 0, maxBytes, h.clk.Now())
	return bs, next
}

func (h *harness) outcome(id int) Result {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.results[id]
	require.Len(h.t, rs, 1, "record %d must have exactly one outcome", id)
	return rs[0]
}

func TestLingerMakesBatchReady(t *testing.T) {
	h := newHarness(t, nil)
	res := h.add(tp0, 1, []byte("v"))
	require.True(t, res.Wake, "a new batch must wake the sender to arm its linger timer")
	require.Positive(t, res.Bytes)

	bs, next := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, bs, "a batch is not ready before Linger")
	require.Equal(t, 10*time.Millisecond, next)

	h.clk.Advance(4 * time.Millisecond)
	_, next = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Equal(t, 6*time.Millisecond, next)

	h.clk.Advance(6 * time.Millisecond)
	bs, _ = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, 1, bs[0].Records())
	decoded, _, err := record.DecodeBatch(bs[0].Encoded())
	require.NoError(t, err)
	require.Equal(t, []byte("v"), decoded.Records[0].Value)
}

func TestFullBatchIsReadyAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	value := make([]byte, 100)
	var woke int
	for i := 0; i < 20; i++ {
		if h.add(tp0, i, value).Wake {
			woke++
		}
	}
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 3, queued, "20 records of ~110 bytes make three batches of at most 1024 bytes")
	require.GreaterOrEqual(t, woke, 3)

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1, "one batch per partition per drain")
	require.LessOrEqual(t, len(bs[0].Encoded()), 1024)
	require.Greater(t, len(bs[0].Encoded())+110, 1024, "the batch was sealed only when the next record did not fit")
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

func TestDrainIsFairAndPacksUpToMaxBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	parts := []TopicPartition{{"t", 0}, {"t", 1}, {"t", 2}}
	value := make([]byte, 300)
	for i, tp := range parts {
		h.add(tp, i, value)
	}
	one := record.BatchHeaderSize + record.RecordSize(0, 0, []byte("0"), value, nil)

	bs, next, start := h.acc.Drain(parts, 0, 2*one+10, h.clk.Now())
	require.Len(t, bs, 2, "two batches fit the request")
	require.Equal(t, int32(0), bs[0].TP.Partition)
	require.Equal(t, int32(1), bs[1].TP.Partition)
	require.Equal(t, 2, start, "the next request starts where this one stopped")
	require.Zero(t, next, "more is ready now")

	for i := range parts {
		h.add(parts[i], 10+i, value)
	}
	bs, _, _ = h.acc.Drain(parts, start, 2*one+10, h.clk.Now())
	require.Equal(t, int32(2), bs[0].TP.Partition, "the partition left out last time goes first")
	require.Len(t, bs, 1, "partition 2's batch, now of two records, leaves no room for another")
}

func TestDrainReturnsOneBatchLargerThanMaxBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, make([]byte, 500))
	bs, _ := h.drain([]TopicPartition{tp0}, 100)
	require.Len(t, bs, 1, "a lone batch is sent even when larger than maxBytes; the record size check bounds it")
}

func TestCompleteGivesOffsetsAndReturnsMemory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	total := h.pool.Available()
	for i := 0; i < 5; i++ {
		h.add(tp0, i, []byte("v"))
	}
	require.Less(t, h.pool.Available(), total)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.acc.Complete(bs[0], 100, -1, nil)
	for i := 0; i < 5; i++ {
		r := h.outcome(i)
		require.NoError(t, r.Err)
		require.Equal(t, int64(100+i), r.Offset)
		require.Equal(t, int32(1), r.KeySize)
		require.Equal(t, int32(1), r.ValueSize)
	}
	require.Equal(t, total, h.pool.Available(), "the batch's buffer went back to the pool")
	h.acc.Complete(bs[0], 200, -1, nil)
	h.outcome(0) // still exactly one outcome after a second Complete
	require.Zero(t, h.acc.Incomplete())
}

func TestLogAppendTimeReplacesTimestamp(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, nil)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Complete(bs[0], 7, 1234, nil)
	r := h.outcome(1)
	require.Equal(t, int64(1234), r.Timestamp)
	require.Equal(t, int32(-1), r.ValueSize, "nil value has size -1")
}

func TestReenqueueWaitsForBackoffAndKeepsBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	first := append([]byte(nil), bs[0].Encoded()...)
	bs[0].MarkSent()
	h.acc.Reenqueue(bs[0], h.clk.Now().Add(100*time.Millisecond), errRetry)

	again, next := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, again)
	require.Equal(t, 100*time.Millisecond, next)
	h.clk.Advance(100 * time.Millisecond)
	again, _ = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, again, 1)
	require.Equal(t, first, again[0].Encoded(), "a retry resends the same bytes")
}

func TestStrictOrderMutesPartitionWhileInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.StrictOrder = true })
	h.add(tp0, 1, make([]byte, 600))
	h.add(tp0, 2, make([]byte, 600)) // does not fit: second batch
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	none, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, none, "the second batch must wait for the first")
	h.acc.Reenqueue(bs[0], h.clk.Now(), errRetry)
	retry, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, retry, 1)
	require.Same(t, bs[0], retry[0], "the retried batch goes before the later one")
	h.acc.Complete(retry[0], 0, -1, nil)
	second, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, second, 1)
	require.Equal(t, 1, second[0].Records())
}

func TestExpireFailsQueuedButNotInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.DeliveryTimeout = time.Second })
	tp1 := TopicPartition{"t", 1}
	h.add(tp0, 1, []byte("queued"))
	h.add(tp1, 2, []byte("in flight"))
	h.acc.BeginFlush()
	bs, _ := h.drain([]TopicPartition{tp1}, 1<<20)
	h.acc.EndFlush()
	require.Len(t, bs, 1)

	require.Equal(t, time.Second, h.acc.Expire(h.clk.Now()))
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())

	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.Contains(t, r.Err.Error(), "t-0")
	h.mu.Lock()
	require.Empty(t, h.results[2], "a batch in flight is never expired")
	h.mu.Unlock()
	h.acc.Complete(bs[0], 5, -1, nil)
	require.NoError(t, h.outcome(2).Err)
}

func TestSplitKeepsCallbacksAndOrder(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	total := h.pool.Available()
	for i := 0; i < 5; i++ {
		h.add(tp0, i, []byte(fmt.Sprintf("value-%d", i)))
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	split, err := h.acc.Split(bs[0], errRetry)
	require.NoError(t, err)
	require.True(t, split)
	require.Equal(t, total, h.pool.Available(), "the parent's pooled buffer is returned at once")

	first, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, first, 1)
	require.Equal(t, 2, first[0].Records())
	second, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, second, 1)
	require.Equal(t, 3, second[0].Records())

	d, _, err := record.DecodeBatch(second[0].Encoded())
	require.NoError(t, err)
	require.Equal(t, []byte("value-2"), d.Records[0].Value)

	h.acc.Complete(first[0], 10, -1, nil)
	h.acc.Complete(second[0], 12, -1, nil)
	for i := 0; i < 5; i++ {
		require.Equal(t, int64(10+i), h.outcome(i).Offset)
	}

	h.add(tp0, 9, []byte("alone"))
	lone, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	split, err = h.acc.Split(lone[0], errRetry)
	require.NoError(t, err)
	require.False(t, split, "one record cannot be split")
}

func TestFlushWaitsForBatchesBeforeMark(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour })
	h.add(tp0, 1, []byte("v"))
	mark := h.acc.BeginFlush()
	defer h.acc.EndFlush()

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1, "a flush makes lingering batches ready")

	done := make(chan error, 1)
	go func() { done <- h.acc.AwaitBatches(context.Background(), mark) }()
	select {
	case err := <-done:
		t.Fatalf("flush returned before the batch completed: %v", err)
	default:
	}
	h.acc.Complete(bs[0], 0, -1, nil)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("flush did not return within 10s of the batch completing")
	}

	ctx, cancel := context.WithCancel(context.Background())
	h.add(tp0, 2, []byte("v"))
	cancel()
	require.ErrorIs(t, h.acc.AwaitBatches(ctx, h.acc.BeginFlush()), context.Canceled)
	h.acc.EndFlush()
}

func TestAbortFailsQueuedAndLaterAppends(t *testing.T) {
	h := newHarness(t, nil)
	total := h.pool.Available()
	h.add(tp0, 1, []byte("v"))
	boom := errors.New("shutting down")
	h.acc.Abort(boom)
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrClosed)
	require.ErrorIs(t, r.Err, boom)
	_, err := h.acc.Append(context.Background(), tp0, 0, nil, nil, nil, 2)
	require.ErrorIs(t, err, ErrClosed)
	require.Equal(t, total, h.pool.Available())
}

func TestMemoryPressureMakesBatchesReady(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.MaxBlock = time.Hour })
	// Fill the pool: 64 partitions take one 1024-byte buffer each.
	var parts []TopicPartition
	for i := int32(0); i < 64; i++ {
		tp := TopicPartition{"t", i}
		parts = append(parts, tp)
		h.add(tp, int(i), []byte("v"))
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := h.acc.Append(context.Background(), TopicPartition{"t", 64}, 0, nil, []byte("v"), nil, 64)
		blocked <- err
	}()
	waitFor(t, "an appender to wait for memory", func() bool { return h.pool.Waiters() == 1 })

	bs, _ := h.drain(parts, 1<<20)
	require.Len(t, bs, 64, "with a waiter for memory every batch is ready despite Linger")
	h.acc.Complete(bs[0], 0, -1, nil)
	select {
	case err := <-blocked:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked append did not get memory within 10s of a batch completing")
	}
}

func TestConcurrentAppendsEachGetOneOutcome(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	const writers, perWriter = 8, 500
	parts := []TopicPartition{{"t", 0}, {"t", 1}, {"t", 2}}
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				id := w*perWriter + i
				_, err := h.acc.Append(context.Background(), parts[id%3], 0, nil, []byte("0123456789"), nil, id)
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
			bs, _, _ := h.acc.Drain(parts, 0, 1<<20, h.clk.Now())
			for _, b := range bs {
				h.acc.Complete(b, offset, -1, nil)
				offset += int64(b.Records())
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
	<-drained
	for id := 0; id < writers*perWriter; id++ {
		require.NoError(t, h.outcome(id).Err)
	}
}

// waitFor polls cond until it holds, failing after 10s with what was awaited.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 10s waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var errRetry = errors.New("retriable broker error")

func TestReenqueueAfterAbortFailsTheBatch(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Abort(errors.New("closing"))
	h.acc.Reenqueue(bs[0], h.clk.Now(), errRetry)
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrClosed)
	require.ErrorIs(t, r.Err, errRetry, "the reason for the retry is kept")
	_, inFlight := h.acc.Queued(tp0)
	require.Zero(t, inFlight)
	require.Zero(t, h.acc.Incomplete())
}

func TestReadyWithoutDraining(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{tp0, {"t", 1}}
	ready, next := h.acc.Ready(parts, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, noDeadline, next, "nothing queued: nothing to wait for")

	h.add(tp0, 1, []byte("v"))
	ready, next = h.acc.Ready(parts, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 10*time.Millisecond, next, "the linger of the only batch")

	h.clk.Advance(10 * time.Millisecond)
	ready, _ = h.acc.Ready(parts, h.clk.Now())
	require.True(t, ready)
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 1, queued, "Ready takes nothing")
}
