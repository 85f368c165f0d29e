package main

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/internal/clock"
)

// Latencies are recorded in microseconds from 1µs to 10 minutes with three
// significant digits: p99.9 of 12.345 ms is reported as 12.34x ms.
const (
	latencyMinMicros = 1
	latencyMaxMicros = int64(10 * time.Minute / time.Microsecond)
	latencySigFigs   = 3
	// maxTallies bounds the memory of the histograms (about 150 KiB each)
	// when --concurrency is large; goroutines beyond it share tallies.
	maxTallies = 16
)

// meter counts what happened to the records of one run: how many were
// handed to the producer, acknowledged and failed, their bytes, why they
// failed, and the latency from Produce (or, paced, from the record's due
// time; see worker.run) to the callback.
//
// It must not weigh on what it measures, so the path of a record takes no
// mutex, never waits, allocates nothing and reads the clock once more than
// the bare library does (see now):
//
//   - Each producing goroutine owns a shard: its count of records sent, and
//     the slots that carry each record's start to its callback (slot.go).
//     Only that goroutine writes them.
//   - Callbacks of acknowledged records count into a tally: their count,
//     bytes and a latency histogram. The library runs the callbacks of
//     buffered records on its one delivery goroutine, one at a time (see
//     Produce's documentation), so a tally's histogram has one writer.
//     The meter relies on that for speed, not for safety: the writer takes
//     the histogram with one uncontended compare-and-swap, and a callback
//     that finds it taken (a second goroutine calling back, as --sync
//     workers do) records into a spare histogram under a mutex instead of
//     waiting.
//   - Failures are rare: they are counted, in total and by name, under one
//     mutex, so that a reading of the two always agrees.
//   - The summary merges the histograms at the end, and takes the largest
//     of the tallies' exact maxima: a histogram's max is the top of its
//     bucket, up to 0.1% above the longest latency.
//
// BenchmarkMeterPerRecord measures the whole of it against a bare callback.
type meter struct {
	shards  []*shard
	tallies []*tally

	// spare counts the acknowledgements whose tally was taken.
	spareMu    sync.Mutex
	spare      *hdrhistogram.Histogram
	spareAcked int64
	spareBytes int64
	spareMax   int64 // the longest latency counted in the spare, in µs

	errMu    sync.Mutex
	failed   int64 // the sum of errCount
	errCount map[string]int64
	errFirst map[string]error // one example per name, for the report
	// errCause, when set, says what the library last logged; it is taken
	// with the first failure of each name, as that failure's likely cause.
	errCause  func() string
	errCauses map[string]string
	// stoppedBy is the first failure saying that the producer can send
	// nothing more, and onStopped what it calls then (see producerStopped).
	stoppedBy error
	onStopped func()
}

// shard is one producing goroutine's part of the meter.
type shard struct {
	sent  atomic.Int64 // read by the progress display
	tally *tally       // where its records' callbacks count them
	slots slots        // carry its records' starts to their callbacks

	_ [64]byte // keep neighbouring shards off this one's cache lines
}

// tally is what the callbacks of some shards' records count.
type tally struct {
	// writing is held by whoever updates or reads acked, bytes and hist.
	writing atomic.Bool
	acked   int64
	bytes   int64 // key and value bytes of acknowledged records
	hist    *hdrhistogram.Histogram
	max     int64 // the longest latency in hist, exactly, in µs

	_ [64]byte
}

// take holds t.writing for a reader, who may wait: a writer holds it for
// one update.
func (t *tally) take() {
	for !t.writing.CompareAndSwap(false, true) {
		runtime.Gosched()
	}
}

// newMeter returns a meter for shards producing goroutines; each must use
// its own shard.
func newMeter(shards int) *meter {
	shards = max(1, shards)
	m := &meter{
		spare:     newHistogram(),
		errCount:  make(map[string]int64),
		errFirst:  make(map[string]error),
		errCauses: make(map[string]string),
	}
	for range min(shards, maxTallies) {
		m.tallies = append(m.tallies, &tally{hist: newHistogram()})
	}
	for i := range shards {
		s := &shard{tally: m.tallies[i%len(m.tallies)]}
		s.slots.init(m, s)
		m.shards = append(m.shards, s)
	}
	return m
}

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMinMicros, latencyMaxMicros, latencySigFigs)
}

// shard returns the shard of producing goroutine i, which only that
// goroutine may use.
func (m *meter) shard(i int) *shard { return m.shards[i] }

// now is the clock latencies are measured on, in microseconds: the wall
// clock, which is the cheapest to read (one vDSO call on linux/amd64,
// where the monotonic clock costs more than twice as much) and is the
// clock of a record's timestamp, so that one reading serves both. A step
// of the wall clock during a run (NTP corrects by slewing, not stepping)
// would skew the latencies of the records in flight across it; a negative
// one counts as the minimum.
func (m *meter) now() int64 { return clock.WallMicros() }

// timestamp is the record timestamp of at, a reading of now: the library
// then reads no clock for the record.
func timestamp(at int64) time.Time { return time.UnixMicro(at) }

// track counts a record of size bytes as sent on shard s now and returns
// the callback to hand to Produce with it. Only s's goroutine may call it.
func (m *meter) track(s *shard, size int) func(producer.RecordMetadata, error) {
	return m.trackAt(s, size, m.now())
}

// trackAt is track for a record produced at start, a reading of now.
func (m *meter) trackAt(s *shard, size int, start int64) func(producer.RecordMetadata, error) {
	s.sent.Add(1)
	return s.slots.take(start, int64(size))
}

// finish records the outcome of one record of shard s produced at start.
func (m *meter) finish(s *shard, start int64, size int64, err error) {
	if err != nil {
		m.recordError(err)
		return
	}
	m.acked(s.tally, m.now()-start, size)
}

// acked counts an acknowledged record of size bytes that took us
// microseconds, in t or, if another goroutine holds t, in the spare.
func (m *meter) acked(t *tally, us, size int64) {
	// Values above the range are clamped rather than dropped: a record that
	// took longer than ten minutes is still the maximum, which keeps its
	// true value.
	us = max(us, latencyMinMicros)
	inRange := min(us, latencyMaxMicros)
	if t.writing.CompareAndSwap(false, true) {
		_ = t.hist.RecordValue(inRange)
		t.max = max(t.max, us)
		t.acked++
		t.bytes += size
		t.writing.Store(false)
		return
	}
	m.spareMu.Lock()
	_ = m.spare.RecordValue(inRange)
	m.spareMax = max(m.spareMax, us)
	m.spareAcked++
	m.spareBytes += size
	m.spareMu.Unlock()
}

// recordError counts a failure under its name; errors are rare enough for
// one mutex.
func (m *meter) recordError(err error) {
	name := producer.ErrorName(err)
	m.errMu.Lock()
	m.failed++
	m.errCount[name]++
	if _, ok := m.errFirst[name]; !ok {
		m.errFirst[name] = err
		if m.errCause != nil {
			m.errCauses[name] = m.errCause()
		}
	}
	if m.stoppedBy == nil && producerStopped(err) {
		m.stoppedBy = err
		if m.onStopped != nil {
			m.onStopped()
		}
	}
	m.errMu.Unlock()
}

// producerStopped says whether err is the failure of a producer that can
// send nothing more: the cluster stopped it for good, or its transactions
// cannot continue. Every record handed to it after fails at once.
func producerStopped(err error) bool {
	return errors.Is(err, producer.ErrProducerStopped) || errors.Is(err, producer.ErrTransactionFatal)
}

// whenStopped has the first failure that says the producer can send
// nothing more call f, which must not block: it runs in a callback.
func (m *meter) whenStopped(f func()) {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	m.onStopped = f
}

// stopped is the first failure that said the producer can send nothing
// more, or nil.
func (m *meter) stopped() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.stoppedBy
}

// counts is a consistent-enough snapshot of the counters for the progress
// display and the summary.
type counts struct {
	sent, acked, failed, bytes int64
}

// counts reads the outcomes before the records sent: a record is counted
// sent before it is handed to the producer, so no snapshot has more
// outcomes than records sent.
func (m *meter) counts() counts {
	c, _ := m.read(false)
	return c
}

// awaitOutcomes waits, up to limit, until every record sent has its
// outcome. A Close whose ctx had ended (after Ctrl-C) fails what is left
// and returns at once; the callbacks of those records run after it
// returns, and a summary read before them would call them unresolved. It
// looks every few milliseconds, at the end of a run only: a signal from
// every callback would cost the records their speed.
func (m *meter) awaitOutcomes(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for c := m.counts(); c.sent > c.acked+c.failed && time.Now().Before(deadline); c = m.counts() {
		time.Sleep(5 * time.Millisecond)
	}
}

// outcomes is counts with the failures by name, read together: a callback
// that fails while the summary is taken (the final flush gave up) is in
// both or in neither.
func (m *meter) outcomes() (counts, map[string]int64) {
	return m.read(true)
}

// read is counts, and with byName the failures by name.
func (m *meter) read(byName bool) (counts, map[string]int64) {
	var c counts
	var names map[string]int64
	m.errMu.Lock()
	c.failed = m.failed
	if byName {
		names = make(map[string]int64, len(m.errCount))
		for k, v := range m.errCount {
			names[k] = v
		}
	}
	m.errMu.Unlock()
	for _, t := range m.tallies {
		t.take()
		c.acked += t.acked
		c.bytes += t.bytes
		t.writing.Store(false)
	}
	m.spareMu.Lock()
	c.acked += m.spareAcked
	c.bytes += m.spareBytes
	m.spareMu.Unlock()
	for _, s := range m.shards {
		c.sent += s.sent.Load()
	}
	return c, names
}

// cause is what the library had last logged when the first failure named
// name happened, or "".
func (m *meter) cause(name string) string {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.errCauses[name]
}

// examples returns one failure of each name.
func (m *meter) examples() map[string]error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	first := make(map[string]error, len(m.errFirst))
	for k, v := range m.errFirst {
		first[k] = v
	}
	return first
}

// latency merges the tallies' histograms, and gives the longest latency
// counted, in µs, exactly (the merged histogram's Max is the top of that
// value's bucket; 0 when none was). Both come from one pass, so that a
// callback still running (the final flush gave up) is in both or in
// neither: each tally is taken as its writer takes it.
func (m *meter) latency() (h *hdrhistogram.Histogram, longest int64) {
	h = newHistogram()
	for _, t := range m.tallies {
		t.take()
		h.Merge(t.hist)
		longest = max(longest, t.max)
		t.writing.Store(false)
	}
	m.spareMu.Lock()
	h.Merge(m.spare)
	longest = max(longest, m.spareMax)
	m.spareMu.Unlock()
	return h, longest
}
