package main

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
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

	h, _ := m.latency()
	p99 := time.Duration(atNearestRank(h, 990)) * time.Microsecond
	maxLatency := time.Duration(h.Max()) * time.Microsecond
	if h.TotalCount() != o.numRecords || p99 < stall*8/10 {
		t.Errorf("%d records, one Produce stalled %v: p99 %v, max %v; want p99 at least %v",
			h.TotalCount(), stall, p99, maxLatency, stall*8/10)
	}
}

// --throughput 1000 --concurrency 50: the goroutines take turns on one
// schedule, a record every millisecond, rather than each starting its own
// at once. Every record goes out no earlier than its due time, less the
// millisecond that pacing lets go at once, so the k-th record to go out
// does so at least k ms less one after the start: no 50 records together
// at the start, and no rate above 1,000/s over the run.
func TestPacedGoroutinesTakeTurnsOnOneSchedule(t *testing.T) {
	sink := &stallingSink{stallAt: -1}
	o := &perfOptions{numRecords: 200, throughput: 1000, concurrency: 50}
	o.topic = "t"
	m := newMeter(o.concurrency)
	start := time.Now()
	runGenerators(context.Background(), context.Background(), sink, m, o, payload.New(payload.Config{Size: 10}))

	if len(sink.calls) != int(o.numRecords) {
		t.Fatalf("%d records produced, want %d", len(sink.calls), o.numRecords)
	}
	// The sink notes the calls in order, under its mutex.
	step := time.Second / time.Duration(o.throughput)
	early := 0
	for k, at := range sink.calls {
		if at.Sub(start) < time.Duration(k)*step-pacePeriod {
			early++
		}
	}
	if early > 0 {
		last := sink.calls[len(sink.calls)-1].Sub(start)
		t.Errorf("%d of %d records went out more than %v before their turn, the last %v after the start (--throughput %v --concurrency %d)",
			early, len(sink.calls), pacePeriod, last, o.throughput, o.concurrency)
	}
}

// runSteppedWorker runs n records paced a millisecond apart on one
// worker whose pacing clock reads the wall clock step behind the meter's,
// as it would have for a run started before the wall clock stepped by
// step (NTP, a VM resumed); the monotonic clock, which pacing waits on,
// does not step.
func runSteppedWorker(sink recordSink, m *meter, n int64, step time.Duration) {
	var stopping atomic.Bool
	before := func() time.Time { return time.Now().Add(-step) }
	w := &worker{p: sink, m: m, src: payload.New(payload.Config{Size: 10}).Source(0), s: m.shard(0), topic: "t",
		n: n, stopping: &stopping, now: before, start: before(),
		interval: time.Millisecond, paceEach: 1}
	w.run(context.Background(), context.Background())
}

// The wall clock steps a minute forward just after a paced run starts. The
// sink acknowledges every record at once, so each took microseconds; timed
// from a due time on the wall clock as it read at the start, each took a
// minute.
func TestPacedLatencyIgnoresAWallClockStepForward(t *testing.T) {
	m := newMeter(1)
	runSteppedWorker(&stallingSink{stallAt: -1}, m, 100, time.Minute)

	h, _ := m.latency()
	p50 := time.Duration(atNearestRank(h, 500)) * time.Microsecond
	if h.TotalCount() != 100 || p50 > time.Second {
		t.Errorf("%d records acknowledged at once, wall clock stepped +1m: p50 %v, max %v; want p50 under 1s",
			h.TotalCount(), p50, time.Duration(h.Max())*time.Microsecond)
	}
}

// The wall clock steps a minute back just after a paced run starts, then
// the 51st Produce stalls for 200 ms: the records due during the stall
// must still count it, as in
// TestPacedLatencyCountsTheStallOfTheRecordsDueDuringIt. Their due times
// on the wall clock as it read at the start would lie a minute ahead of
// their Produce calls, and each record would be timed from its call.
func TestPacedLatencyCountsAStallAfterAWallClockStepBack(t *testing.T) {
	const stall = 200 * time.Millisecond
	m := newMeter(1)
	runSteppedWorker(&stallingSink{stallAt: 50, stall: stall}, m, 300, -time.Minute)

	h, _ := m.latency()
	p99 := time.Duration(atNearestRank(h, 990)) * time.Microsecond
	if h.TotalCount() != 300 || p99 < stall*8/10 {
		t.Errorf("%d records, wall clock stepped -1m, one Produce stalled %v: p99 %v, max %v; want p99 at least %v",
			h.TotalCount(), stall, p99, time.Duration(h.Max())*time.Microsecond, stall*8/10)
	}
}

// A paced goroutine looks at the clock once per millisecond's worth of
// records, and at every record when each takes a millisecond or more.
func TestPaceEvery(t *testing.T) {
	for interval, want := range map[time.Duration]int64{
		4 * time.Microsecond: 250, // 250,000 records/s
		time.Millisecond:     1,
		time.Second:          1,
		3 * time.Microsecond: 333,
	} {
		if got := paceEvery(interval); got != want {
			t.Errorf("paceEvery(%v) = %d, want %d", interval, got, want)
		}
	}
}

// A throughput above 10^9 records/s per goroutine, which none reaches, is
// not paced: its interval rounds to 0, and paceEvery divided by it.
func TestRunGeneratorsBeyondEveryGoroutinesReachDoesNotPace(t *testing.T) {
	for _, throughput := range []float64{2e9, 1e12, math.Inf(1)} {
		const n = 10
		o := &perfOptions{numRecords: n, throughput: throughput, concurrency: 1}
		o.topic = "t"
		m := newMeter(o.concurrency)
		runGenerators(context.Background(), context.Background(), ackingSink{}, m, o, payload.New(payload.Config{Size: 10}))
		if c := m.counts(); c.sent != n || c.acked != n {
			t.Errorf("--throughput %v: %d sent, %d acked; want %d", throughput, c.sent, c.acked, n)
		}
	}
}

// A positive throughput, however low, paces, or is refused: the interval
// is positive up to the longest time.Duration, and beyond it not ok. 0 and
// -1 are unlimited.
func TestPaceInterval(t *testing.T) {
	for _, tc := range []struct {
		throughput  float64
		concurrency int
		want        time.Duration
		ok          bool
	}{
		{250_000, 1, 4 * time.Microsecond, true},
		{250_000, 4, 16 * time.Microsecond, true},
		{2e-10, 1, 5e18, true},
		{1e-10, 1, 0, false},
		{2e-10, 2, 0, false},
		{0, 1, 0, true},
		{-1, 1, 0, true},
	} {
		got, ok := paceInterval(tc.throughput, tc.concurrency)
		if got != tc.want || ok != tc.ok {
			t.Errorf("paceInterval(%v, %d) = %v, %t; want %v, %t", tc.throughput, tc.concurrency, got, ok, tc.want, tc.ok)
		}
	}
}
