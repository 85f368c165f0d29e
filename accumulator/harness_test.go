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

// idempotent is a harness whose batches hold one 600-byte record each, with
// producer id 7 already assigned unless noID. Its broker then knows the
// producer on tp0, as if it had acknowledged a batch of it before: tp0
// keeps several requests in flight from its first batch (see knownTo).
func idempotent(t *testing.T, noID bool, mod func(*Config)) *harness {
	h := newHarness(t, func(c *Config) {
		c.Idempotent = true
		c.Linger = 0
		if mod != nil {
			mod(c)
		}
	})
	if !noID {
		h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 0})
		h.knownTo(node, tp0)
	}
	return h
}

// knownTo books that broker n acknowledged a batch of tp under the
// producer's current id, as its latest answer to a request sent just now:
// tp may send another request to n while one is in flight, for
// PipelineIdle.
func (h *harness) knownTo(n int32, tp TopicPartition) {
	id, ok := h.acc.ProducerID()
	require.True(h.t, ok, "a broker knows the producer only by its id")
	p := h.acc.partition(tp)
	p.mu.Lock()
	p.producer, p.acked, p.ackedBy, p.lastSent = id, true, n, h.clk.Now()
	p.mu.Unlock()
}

var big = make([]byte, 600) // one record per 1024-byte batch

// stamp is what a drained batch's bytes say about its producer.
type stampOf struct {
	id    int64
	epoch int16
	seq   int32
}

func stamped(t *testing.T, b *Batch) stampOf {
	t.Helper()
	d, _, err := record.DecodeBatch(b.Encoded())
	require.NoError(t, err)
	return stampOf{d.ProducerID, d.ProducerEpoch, d.BaseSequence}
}

// drainOne drains tp0 and returns its batch, failing unless there is
// exactly one.
func (h *harness) drainOne(what string) *Batch {
	h.t.Helper()
	return h.drainOneOf(tp0, what)
}

// drainOneOf is drainOne for tp.
func (h *harness) drainOneOf(tp TopicPartition, what string) *Batch {
	h.t.Helper()
	bs, _ := h.drain([]TopicPartition{tp}, 1<<20)
	require.Len(h.t, bs, 1, what)
	return bs[0]
}

func (h *harness) drainNone(what string) {
	h.t.Helper()
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(h.t, bs, what)
}
