package main

import (
	"context"
	"sync"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/cmd/kprod/internal/payload"
)

// stallingSink acknowledges every record at once, as a broker would, but
// its Produce blocks once, for stall, at its stallAt-th call (a full
// buffer, a GC pause, a descheduled goroutine); stallAt -1 never stalls.
// It notes when each Produce was called.
type stallingSink struct {
	stallAt int
	stall   time.Duration

	mu    sync.Mutex
	calls []time.Time
}

func (s *stallingSink) Produce(_ context.Context, _ *producer.Record, cb producer.Callback) {
	s.mu.Lock()
	n := len(s.calls)
	s.calls = append(s.calls, time.Now())
	s.mu.Unlock()
	if n == s.stallAt {
		time.Sleep(s.stall) // the stall itself, not a wait for something
	}
	cb(producer.RecordMetadata{}, nil)
}

func (s *stallingSink) Send(ctx context.Context, r *producer.Record) (producer.RecordMetadata, error) {
	var err error
	s.Produce(ctx, r, func(_ producer.RecordMetadata, e error) { err = e })
	return producer.RecordMetadata{}, err
}

// With --throughput 1000, a 200 ms stall in the 51st Produce leaves the
// ~200 records due meanwhile to go out back to back once it ends. Timed
// from their own Produce calls they would look as fast as any, and p99
// would hide the stall (coordinated omission); timed from when they were
// due, the 20 due in its first 20 ms, 7% of the run, took at least
// 180 ms, however slow the machine, and p99 is at least that (less a
// margin for the histogram's rounding).
func TestPacedLatencyCountsTheStallOfTheRecordsDueDuringIt(t *testing.T) {
	const stall = 200 * time.Millisecond
	sink := &stallingSink{stallAt: 50, stall: stall}
	o := &perfOptions{numRecords: 300, throughput: 1000, concurrency: 1}
	o.topic = "t"
	m := newMeter(o.concurrency)
	runGenerators(context.Background(), context.Background(), sink, m, o, payload.New(payload.Config{Size: 10}))

	h := m.latency()
	p99 := time.Duration(atNearestRank(h, 990)) * time.Microsecond
	maxLatency := time.Duration(h.Max()) * time.Microsecond
	if h.TotalCount() != o.numRecords || p99 < stall*8/10 {
		t.Errorf("%d records, one Produce stalled %v: p99 %v, max %v; want p99 at least %v",
			h.TotalCount(), stall, p99, maxLatency, stall*8/10)
	}
}
