package main

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	producer "github.com/gokafka/producer"
)

// Latencies are recorded in microseconds from 1µs to 10 minutes with three
// significant digits: p99.9 of 12.345 ms is reported as 12.34x ms.
const (
	latencyMinMicros = 1
	latencyMaxMicros = int64(10 * time.Minute / time.Microsecond)
	latencySigFigs   = 3
	// maxShards bounds the memory of the histograms (about 150 KiB each)
	// when --concurrency is large; goroutines beyond it share shards.
	maxShards = 16
)

// meter counts what happened to the records of one run: how many were
// handed to the producer, acknowledged and failed, their bytes, why they
// failed, and the latency from Produce to the callback.
//
// Each producing goroutine owns a shard. A shard's counters are atomics read
// by the progress display; its histogram has a mutex because callbacks run on
// the producer's goroutines, not on the one that produced the record. The
// mutex is rarely contended (one producing goroutine per shard, callbacks
// from a few sender goroutines). BenchmarkMeterRecord measures it: on a
// 2-core machine the update costs 5 ns, 18 ns with the mutex, and the whole
// of tracking a record about 100 ns, most of it the two clock readings.
type meter struct {
	base   time.Time // latencies are measured on its monotonic clock
	shards []*shard
	pool   sync.Pool // of *tracker

	errMu    sync.Mutex
	errCount map[string]int64
	errFirst map[string]error // one example per name, for the report
	// errCause, when set, says what the library last logged; it is taken
	// with the first failure of each name, as that failure's likely cause.
	errCause  func() string
	errCauses map[string]string
}

type shard struct {
	sent   atomic.Int64
	acked  atomic.Int64
	failed atomic.Int64
	bytes  atomic.Int64 // key and value bytes of acknowledged records

	mu   sync.Mutex
	hist *hdrhistogram.Histogram

	_ [64]byte // keep neighbouring shards off this one's cache lines
}

func newMeter(shards int) *meter {
	shards = max(1, min(shards, maxShards))
	m := &meter{
		base:      time.Now(),
		errCount:  make(map[string]int64),
		errFirst:  make(map[string]error),
		errCauses: make(map[string]string),
	}
	for range shards {
		m.shards = append(m.shards, &shard{hist: newHistogram()})
	}
	m.pool.New = func() any {
		t := &tracker{m: m}
		t.callback = t.done // bound once, reused with the tracker
		return t
	}
	return m
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMinMicros, latencyMaxMicros, latencySigFigs)
}

// shard returns the shard of producing goroutine i.
func (m *meter) shard(i int) *shard { return m.shards[i%len(m.shards)] }

// now is the time since the meter started, on the monotonic clock.
func (m *meter) now() time.Duration { return time.Since(m.base) }

// tracker carries one in-flight record's start time to its callback. Trackers
// are pooled together with their bound callback, so tracking a record does
// not allocate and allocs_per_record is the library's, not kprod's.
type tracker struct {
	m        *meter
	s        *shard
	start    time.Duration
	size     int64
	callback func(producer.RecordMetadata, error)
}

// track counts a record as sent on shard s and returns the callback to hand
// to Produce with it.
func (m *meter) track(s *shard, size int) func(producer.RecordMetadata, error) {
	t := m.pool.Get().(*tracker)
	t.s, t.size = s, int64(size)
	s.sent.Add(1)
	t.start = m.now()
	return t.callback
}

func (t *tracker) done(_ producer.RecordMetadata, err error) {
	t.m.finish(t.s, t.start, t.size, err)
	t.s = nil
	t.m.pool.Put(t)
}

// finish records the outcome of one record produced at start.
func (m *meter) finish(s *shard, start time.Duration, size int64, err error) {
	if err != nil {
		s.failed.Add(1)
		m.recordError(err)
		return
	}
	us := int64((m.now() - start) / time.Microsecond)
	s.mu.Lock()
	// Values above the range are clamped rather than dropped: a record that
	// took longer than ten minutes is still the maximum.
	_ = s.hist.RecordValue(min(max(us, latencyMinMicros), latencyMaxMicros))
	s.mu.Unlock()
	s.bytes.Add(size)
	s.acked.Add(1)
}

// recordError counts a failure under its name; errors are rare enough for
// one mutex.
func (m *meter) recordError(err error) {
	name := producer.ErrorName(err)
	m.errMu.Lock()
	m.errCount[name]++
	if _, ok := m.errFirst[name]; !ok {
		m.errFirst[name] = err
		if m.errCause != nil {
			m.errCauses[name] = m.errCause()
		}
	}
	m.errMu.Unlock()
}

// counts is a consistent-enough snapshot of the counters for the progress
// display and the summary.
type counts struct {
	sent, acked, failed, bytes int64
}

func (m *meter) counts() counts {
	var c counts
	for _, s := range m.shards {
		c.sent += s.sent.Load()
		c.acked += s.acked.Load()
		c.failed += s.failed.Load()
		c.bytes += s.bytes.Load()
	}
	return c
}

// cause is what the library had last logged when the first failure named
// name happened, or "".
func (m *meter) cause(name string) string {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.errCauses[name]
}

// errors returns the failure counts by name and one example of each.
func (m *meter) errors() (map[string]int64, map[string]error) {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	count := make(map[string]int64, len(m.errCount))
	first := make(map[string]error, len(m.errFirst))
	for k, v := range m.errCount {
		count[k] = v
	}
	for k, v := range m.errFirst {
		first[k] = v
	}
	return count, first
}

// latency merges the shards' histograms.
func (m *meter) latency() *hdrhistogram.Histogram {
	all := newHistogram()
	for _, s := range m.shards {
		s.mu.Lock()
		all.Merge(s.hist)
		s.mu.Unlock()
	}
	return all
}
