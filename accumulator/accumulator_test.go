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
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/slot"
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
	order   []int            // record ids in the order their callbacks ran
	woken   []TopicPartition // Config.Wake calls
	asked   int              // Config.NeedProducerID calls
}

// node is the broker the harness's sender drains for.
const node = 1

func newHarness(t *testing.T, mod func(*Config)) *harness {
	h := &harness{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), results: map[int][]Result{}}
	cfg := Config{
		BatchSize:       1024,
		Linger:          10 * time.Millisecond,
		DeliveryTimeout: time.Minute,
		MaxBlock:        time.Second,
		MaxInFlight:     5,
		Clock:           h.clk,
		Deliver: func(cb any, r *Result) {
			if done, ok := cb.(chan struct{}); ok { // sync's marker
				close(done)
				return
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			id := cb.(int)
			h.results[id] = append(h.results[id], *r)
			h.order = append(h.order, id)
		},
		Wake: func(tp TopicPartition) {
			h.mu.Lock()
			h.woken = append(h.woken, tp)
			h.mu.Unlock()
		},
		NeedProducerID: func() {
			h.mu.Lock()
			h.asked++
			h.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	if cfg.Pool == nil {
		cfg.Pool = bufferpool.New(64*cfg.BatchSize, cfg.BatchSize, h.clk)
	}
	h.pool = cfg.Pool
	h.acc = New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTime)
		defer cancel()
		require.NoError(t, h.acc.Close(ctx), "the delivery goroutine did not stop")
	})
	return h
}

var tp0 = part(0)

// part is partition i of topic "t".
func part(i int32) TopicPartition { return TopicPartition{Topic: "t", Partition: i} }

// add appends a record with id as its callback value.
func (h *harness) add(tp TopicPartition, id int, value []byte) AppendResult {
	h.t.Helper()
	res, err := h.acc.Append(context.Background(), tp, nil, &Record{Data: record.Data{TimestampMs: h.clk.Now().UnixMilli(), Key: []byte(fmt.Sprint(id)), Value: value}, Callback: id})
	require.NoError(h.t, err)
	return res
}

func (h *harness) drain(parts []TopicPartition, maxBytes int) ([]*Batch, time.Duration) {
	bs, next, _ := h.acc.Drain(nil, node, parts, 0, maxBytes, false, h.clk.Now())
	return bs, next
}

// retry sends b back, due again after d.
func (h *harness) retry(b *Batch, d time.Duration) {
	h.acc.Retry(b, Retry{At: h.clk.Now().Add(d), Cause: errRetry})
}

// sync waits until every outcome queued so far has been delivered: the
// delivery goroutine runs them in order, so a marker queued now comes last.
func (h *harness) sync() {
	h.t.Helper()
	done := make(chan struct{})
	h.acc.Deliver(done, Result{})
	receive(h.t, done, "the delivery goroutine delivered nothing")
}

// outcome returns record id's only outcome, after the deliveries queued so
// far.
func (h *harness) outcome(id int) Result {
	h.t.Helper()
	h.sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	rs := h.results[id]
	require.Len(h.t, rs, 1, "record %d must have exactly one outcome", id)
	return rs[0]
}

// pending reports whether record id has no outcome yet.
func (h *harness) pending(id int) bool {
	h.t.Helper()
	h.sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.results[id]) == 0
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

func TestDrainIsFairAndPacksUpToMaxBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	parts := []TopicPartition{part(0), part(1), part(2)}
	value := make([]byte, 300)
	for i, tp := range parts {
		h.add(tp, i, value)
	}
	one := record.BatchHeaderSize + record.RecordSize(0, 0, []byte("0"), value, nil)

	bs, next, start := h.acc.Drain(nil, node, parts, 0, 2*one+10, false, h.clk.Now())
	require.Len(t, bs, 2, "two batches fit the request")
	require.Equal(t, int32(0), bs[0].TP.Partition)
	require.Equal(t, int32(1), bs[1].TP.Partition)
	require.Equal(t, 2, start, "the next request starts where this one stopped")
	require.Zero(t, next, "more is ready now")

	for i := range parts {
		h.add(parts[i], 10+i, value)
	}
	bs, _, _ = h.acc.Drain(nil, node, parts, start, 2*one+10, false, h.clk.Now())
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
	_, inFlight := h.acc.Queued(tp0)
	require.Zero(t, inFlight, "a second Complete changed the in-flight count")
}

// Each record's outcome gives its own sizes and timestamp, whether its
// facts took a byte each or longer varints (a value of 127 bytes or more,
// a timestamp before the batch's first), as delivery reads them.
func TestCompleteGivesEachRecordItsFacts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	values := [][]byte{[]byte("v"), make([]byte, 300), nil, make([]byte, 126), make([]byte, 127), []byte("w")}
	now := h.clk.Now().UnixMilli()
	timestamps := []int64{now, now, now - 1000, now, now + 5, now}
	for i, v := range values {
		_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{TimestampMs: timestamps[i], Key: []byte(fmt.Sprint(i)), Value: v}, Callback: i})
		require.NoError(t, err)
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.acc.Complete(bs[0], 100, -1, nil)
	for i, v := range values {
		r := h.outcome(i)
		require.Equal(t, int64(100+i), r.Offset, "record %d", i)
		require.Equal(t, int32(1), r.KeySize, "record %d", i)
		require.Equal(t, sizeOf(v), r.ValueSize, "record %d", i)
		require.Equal(t, timestamps[i], r.Timestamp, "record %d", i)
	}
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

func TestRetryWaitsForBackoffAndKeepsBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	first := append([]byte(nil), bs[0].Encoded()...)
	h.retry(bs[0], 100*time.Millisecond)
	require.Equal(t, []TopicPartition{tp0}, h.woken, "a retry wakes the partition's leader's sender")

	again, next := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, again)
	require.Equal(t, 100*time.Millisecond, next)
	h.clk.Advance(100 * time.Millisecond)
	again, _ = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, again, 1)
	require.Equal(t, first, again[0].Encoded(), "a retry resends the same bytes")
}

func TestMaxInFlightOneMutesPartitionWhileInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.MaxInFlight = 1 })
	h.add(tp0, 1, make([]byte, 600))
	h.add(tp0, 2, make([]byte, 600)) // does not fit: second batch
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	none, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, none, "the second batch must wait for the first")
	h.retry(bs[0], 0)
	retry, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, retry, 1)
	require.Same(t, bs[0], retry[0], "the retried batch goes before the later one")
	h.acc.Complete(retry[0], 0, -1, nil)
	second, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, second, 1)
	require.Equal(t, 1, second[0].Records())
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

func TestSplitKeepsCallbacksAndOrder(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	total := h.pool.Available()
	for i := 0; i < 5; i++ {
		h.add(tp0, i, []byte(fmt.Sprintf("value-%d", i)))
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.True(t, h.acc.Split(bs[0], errRetry, nil))
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
	require.False(t, h.acc.Split(lone[0], errRetry, nil), "one record cannot be split")
	require.ErrorIs(t, h.outcome(9).Err, errRetry, "and fails with the broker's error")
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
	require.NoError(t, receive(t, done, "flush did not return after the batch completed"))

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
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Callback: 2})
	require.ErrorIs(t, err, ErrClosed)
	h.sync()
	require.Equal(t, total, h.pool.Available())
}

// An Append after Abort reads as the abort's cause, as the batches Abort
// fails do, and matches ErrClosed: it said "accumulator closed", which
// reached a callback racing the producer's Close as "producer closed:
// accumulator closed", naming a part of the producer its user never sees.
func TestAnAppendAfterAbortReadsAsTheAbortsCause(t *testing.T) {
	h := newHarness(t, nil)
	boom := errors.New("shutting down")
	h.acc.Abort(boom)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Callback: 1})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, boom)
	require.EqualError(t, err, boom.Error())
}

func TestMemoryPressureMakesBatchesReady(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.MaxBlock = time.Hour })
	// Fill the pool: 64 partitions take one 1024-byte buffer each.
	var parts []TopicPartition
	for i := int32(0); i < 64; i++ {
		tp := part(i)
		parts = append(parts, tp)
		h.add(tp, int(i), []byte("v"))
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := h.acc.Append(context.Background(), part(64), nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: 64})
		blocked <- err
	}()
	waitFor(t, "an appender to wait for memory", func() bool { return h.pool.Waiters() == 1 })

	bs, _ := h.drain(parts, 1<<20)
	require.Len(t, bs, 64, "with a waiter for memory every batch is ready despite Linger")
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, receive(t, blocked, "the blocked append did not get memory after a batch completed"))
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

// waitTime bounds every wait for another goroutine in these tests, so that
// a hang fails with what was awaited rather than the binary's timeout.
const waitTime = 10 * time.Second

// waitFor polls cond until it holds, failing after waitTime with what was
// awaited.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitTime, time.Millisecond, "timed out after %v waiting for %s", waitTime, what)
}

// receive returns what ch gives (the zero value once it is closed), failing
// with what if nothing comes within waitTime.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return bounded.Receive(t, ch, waitTime, what)
}

var errRetry = errors.New("retriable broker error")

func TestRetryAfterAbortFailsTheBatch(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Abort(errors.New("closing"))
	h.retry(bs[0], 0)
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrClosed)
	require.ErrorIs(t, r.Err, errRetry, "the reason for the retry is kept")
	_, inFlight := h.acc.Queued(tp0)
	require.Zero(t, inFlight)
	h.sync()
	require.Zero(t, h.acc.Incomplete())
}

func TestReadyWithoutDraining(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{tp0, part(1)}
	ready, next := h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, noDeadline, next, "nothing queued: nothing to wait for")

	h.add(tp0, 1, []byte("v"))
	ready, next = h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 10*time.Millisecond, next, "the linger of the only batch")

	h.clk.Advance(10 * time.Millisecond)
	ready, _ = h.acc.Ready(node, parts, false, h.clk.Now())
	require.True(t, ready)
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 1, queued, "Ready takes nothing")
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

// A batch that times out without ever being sent says what kept its
// partition from sending: the partition's last error.
func TestATimeoutOfANeverSentBatchNamesThePartitionsLastError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second; c.MaxInFlight = 1 })
	h.add(tp0, 0, make([]byte, 600))
	h.add(tp0, 1, make([]byte, 600)) // a batch of its own, behind
	b0, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.retry(b0[0], time.Hour) // NOT_ENOUGH_REPLICAS, say; the backoff outlasts the timeout
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, errRetry, "the never-sent batch names the partition's last error")
	require.Contains(t, r.Err.Error(), "1 record had no outcome")
	require.Contains(t, r.Err.Error(), "never sent", "it said \"1 records\", \"sent 0 times\"")
}

// A batch that times out never sent, with no error of its own or of its
// partition (its topic's metadata was refused: no leader, no sender ever
// drained it), names its topic's metadata error, which says why; it said
// only that it was sent 0 times.
func TestATimeoutOfANeverSentBatchNamesItsTopicsMetadataError(t *testing.T) {
	refusal := errors.New("TOPIC_AUTHORIZATION_FAILED")
	h := newHarness(t, func(c *Config) {
		c.DeliveryTimeout = time.Second
		c.TopicErr = func(topic string) error {
			if topic == tp0.Topic {
				return refusal
			}
			return nil
		}
	})
	h.add(tp0, 0, []byte("v"))
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, refusal, "the never-sent batch names its topic's metadata error")
	require.Contains(t, r.Err.Error(), "1 record had no outcome")
	require.Contains(t, r.Err.Error(), "never sent", "it said \"1 records\", \"sent 0 times\"")
}

// A request that goes anyway takes the node's lingering batches along (the
// Java client's drain), whichever side of the ready batch they are on; a
// batch waiting out a retry backoff stays.
func TestARequestTakesTheLingeringBatchesAlong(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1), part(2), part(3)}
	h.add(part(0), 0, []byte("lingering before"))
	h.add(part(1), 1, make([]byte, 1100)) // full: ready now
	h.add(part(2), 2, []byte("lingering after"))
	h.add(part(3), 3, []byte("to retry"))
	h.clk.Advance(10 * time.Millisecond)
	bs, _ := h.drain([]TopicPartition{part(3)}, 1<<20)
	require.Len(t, bs, 1)
	h.retry(bs[0], time.Second)

	h.add(part(3), 4, []byte("behind the retry"))
	bs, _ = h.drain(parts, 1<<20)
	var got []int32
	for _, b := range bs {
		got = append(got, b.TP.Partition)
	}
	require.ElementsMatch(t, []int32{0, 1, 2}, got, "the full batch and both lingering ones; not the one in backoff")

	h.add(part(0), 5, []byte("alone"))
	bs, next := h.drain(parts, 1<<20)
	require.Empty(t, bs, "with nothing ready, a lingering batch waits")
	require.Equal(t, 10*time.Millisecond, next)
}

// While its broker has a request of ours in flight (busy), a batch that
// is not full waits for the answer even once its linger is over: the
// broker would hold a request sent behind the other until then. A full
// batch goes, and takes the waiting ones along; so do retries.
func TestABusyBrokerIsSentOnlyFullBatchesAndRetries(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1), part(2)}
	busyDrain := func() []int32 {
		bs, _, _ := h.acc.Drain(nil, node, parts, 0, 1<<20, true, h.clk.Now())
		var got []int32
		for _, b := range bs {
			got = append(got, b.TP.Partition)
		}
		return got
	}
	h.add(part(0), 0, []byte("lingered long enough"))
	h.clk.Advance(10 * time.Millisecond)
	ready, next := h.acc.Ready(node, parts, true, h.clk.Now())
	require.False(t, ready, "a batch that is not full waits for the answer in flight")
	require.Equal(t, noDeadline, next, "the answer, not a timer, lets it go")
	require.Empty(t, busyDrain())
	ready, _ = h.acc.Ready(node, parts, false, h.clk.Now())
	require.True(t, ready, "once nothing is in flight, its linger decides")

	h.add(part(1), 1, make([]byte, 1100)) // full: ready now
	require.ElementsMatch(t, []int32{0, 1}, busyDrain(), "the full batch goes and takes the waiting one along")

	h.add(part(2), 2, []byte("to retry"))
	h.clk.Advance(10 * time.Millisecond)
	bs, _ := h.drain([]TopicPartition{part(2)}, 1<<20)
	require.Len(t, bs, 1)
	h.retry(bs[0], time.Second)
	h.clk.Advance(time.Second)
	require.Equal(t, []int32{2}, busyDrain(), "a retry does not wait for answers to other requests")
}

// A batch held while its broker is busy goes along with a full batch only
// if it fits beside it. One left out for lack of room waits no longer for
// the answer in flight, only for its linger, and goes in the next request:
// full batches that each left it no room would otherwise keep the broker
// busy, and the batch waiting, until its DeliveryTimeout.
func TestABatchLeftOutOfABusyRequestGoesInTheNext(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1)}
	big := make([]byte, 1100) // a batch of its own, full
	maxBytes := record.BatchHeaderSize + record.RecordSize(0, 0, []byte("1"), big, nil) + 10
	busyDrain := func(start int) ([]int32, int) {
		bs, _, next := h.acc.Drain(nil, node, parts, start, maxBytes, true, h.clk.Now())
		var got []int32
		for _, b := range bs {
			got = append(got, b.TP.Partition)
		}
		return got, next
	}
	h.add(part(0), 0, []byte("small"))
	h.add(part(1), 1, big)
	got, start := busyDrain(0)
	require.Equal(t, []int32{1}, got, "the full batch goes; the waiting one does not fit beside it")

	ready, wait := h.acc.Ready(node, parts, true, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 10*time.Millisecond, wait, "left out, the batch waits for its linger, not for the answer in flight")
	h.clk.Advance(10 * time.Millisecond)
	ready, _ = h.acc.Ready(node, parts, true, h.clk.Now())
	require.True(t, ready, "its linger over, the batch left out goes though the broker is busy")

	h.add(part(1), 2, big)
	got, start = busyDrain(start)
	require.Equal(t, []int32{0}, got, "the batch left out goes first; the next full batch does not fit beside it")
	got, _ = busyDrain(start)
	require.Equal(t, []int32{1}, got)
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

// A broker unreachable for a while is named by a timeout only until the
// partition is written to again: a batch that times out after an
// acknowledgement does not blame the old outage.
func TestAnAcknowledgementClearsAnUnreachableBrokersError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, h.outcome(0).Err)

	h.add(tp0, 1, nil) // never sent
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(1).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.NotErrorIs(t, err, outage, "the outage ended with the acknowledgement")
}

// Why InitProducerId gave no id is booked for every partition: the batches
// that time out waiting for the id name it, where they said only that they
// were sent 0 times.
func TestBatchesTimingOutWithoutAProducerIDNameWhyNoneCame(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Idempotent = true; c.Linger = 0; c.DeliveryTimeout = time.Second })
	noID := errors.New("no producer id: InitProducerId: COORDINATOR_NOT_AVAILABLE")
	parts := []TopicPartition{part(0), part(1)}
	for i, tp := range parts {
		h.add(tp, i, nil)
	}
	bs, _ := h.drain(parts, 1<<20)
	require.Empty(t, bs, "nothing goes without a producer id")
	require.Equal(t, 1, h.asked)
	h.acc.NoProducerID(noID)
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	for i := range parts {
		err := h.outcome(i).Err
		require.ErrorIs(t, err, ErrDeliveryTimeout)
		require.ErrorIs(t, err, noID, "record %d names why it was never sent", i)
	}
}

// Why InitProducerId gave no id is named only while the producer has none:
// once the id came, a batch that times out for another reason names that
// reason (here its topic's access, revoked), not a failure the id's coming
// ended. Before, the booking outlived the id as the partitions' last error.
func TestAnIDThatCameIsNotBlamedForATimeout(t *testing.T) {
	refusal := errors.New("TOPIC_AUTHORIZATION_FAILED")
	revoked := false
	h := newHarness(t, func(c *Config) {
		c.Idempotent, c.Linger, c.DeliveryTimeout = true, 0, time.Second
		c.TopicErr = func(string) error {
			if revoked {
				return refusal
			}
			return nil
		}
	})
	noID := errors.New("no producer id: InitProducerId: COORDINATOR_NOT_AVAILABLE")
	h.add(tp0, 0, nil)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, bs, "nothing goes without a producer id")
	h.acc.NoProducerID(noID)                         // the first InitProducerId failed
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 0}) // the next gave the id
	revoked = true                                   // no leader from now on: never drained
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.NotErrorIs(t, err, noID, "the id came; it did not keep the batch")
	require.ErrorIs(t, err, refusal, "the topic's metadata error kept it")
}

// An unreachable broker's error is booked only for partitions with a batch
// waiting to be sent: one whose batches are all in flight waits for their
// answers, not for a connection, and a batch that joins it later is the
// next connection's to name.
func TestUnreachableSkipsAPartitionWithNothingWaiting(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.drain([]TopicPartition{tp0}, 1<<20) // in flight
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	h.add(tp0, 1, nil)
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.NotErrorIs(t, h.outcome(0).Err, outage)
	require.NotErrorIs(t, h.outcome(1).Err, outage)
}

// An unreachable broker's error, booked while a batch waited, does not
// explain that batch's timeout once it was sent: the batch expires in
// flight as maybe written, not blaming an outage that ended before.
func TestABatchSentAfterAnOutageTimesOutInFlightWithoutNamingIt(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	h.drain([]TopicPartition{tp0}, 1<<20) // in flight, unanswered
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.NotErrorIs(t, err, outage, "the broker was reached: the batch was sent")
}
