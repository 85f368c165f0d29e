package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol/kerr"
)

// Callbacks from several goroutines at once, as --sync workers make them,
// are all counted, and the histograms hold every acknowledged record:
// callbacks that find their tally taken count in the spare.
func TestMeterConcurrentCallbacks(t *testing.T) {
	m := newMeter(4)
	const perShard, shards = 1000, 4
	var producers, callbacks sync.WaitGroup
	for i := range shards {
		s := m.shard(i)
		producers.Go(func() {
			for n := range perShard {
				cb := m.track(s, 10)
				var err error
				if n%10 == 0 {
					err = &producer.PartitionError{Topic: "t", Partition: 1, Err: kerr.NotLeaderOrFollower}
				}
				callbacks.Go(func() { cb(producer.RecordMetadata{}, err) })
			}
		})
	}
	producers.Wait()
	callbacks.Wait()
	c, errs := m.outcomes()
	if c.sent != shards*perShard || c.failed != shards*perShard/10 || c.acked != c.sent-c.failed || c.bytes != 10*c.acked {
		t.Errorf("counts %+v", c)
	}
	if h, _ := m.latency(); h.TotalCount() != c.acked {
		t.Errorf("histogram holds %d values, %d acked", h.TotalCount(), c.acked)
	}
	if first := m.examples(); errs["NOT_LEADER_OR_FOLLOWER"] != c.failed || first["NOT_LEADER_OR_FOLLOWER"] == nil {
		t.Errorf("errors %v, examples %v", errs, first)
	}
}

// A record may fail while the summary is taken, when the final flush gave
// up: its failure is in the count and in the names, or in neither.
func TestMeterFailuresAddUpWhileCallbacksRun(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	const records = 20000
	cbs := make([]func(producer.RecordMetadata, error), records)
	for i := range cbs {
		cbs[i] = m.track(s, 1)
	}
	var deliverer sync.WaitGroup
	deliverer.Go(func() {
		for i, cb := range cbs {
			err := error(producer.ErrDeliveryTimeout)
			if i%2 == 0 {
				err = &producer.PartitionError{Topic: "t", Partition: 1, Err: kerr.NotLeaderOrFollower}
			}
			cb(producer.RecordMetadata{}, err)
		}
	})
	delivered := make(chan struct{})
	go func() { deliverer.Wait(); close(delivered) }()
	// Read until the deliverer is done, then once more: the loop ends
	// whatever the meter counts, and the last read must count them all.
	for last := false; ; {
		select {
		case <-delivered:
			last = true
		default:
		}
		c, errs := m.outcomes()
		var named int64
		for _, n := range errs {
			named += n
		}
		if named != c.failed {
			t.Fatalf("failures by name add up to %d, the failed count is %d", named, c.failed)
		}
		if last {
			if c.failed != records {
				t.Fatalf("%d records failed, the meter counted %d", records, c.failed)
			}
			return
		}
	}
}

// The progress display and the summary read the meter while callbacks run:
// each read is consistent (acked never exceeds sent) and the last is exact.
func TestMeterReadWhileCallbacksRun(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	const records = 20000
	queue := make(chan func(producer.RecordMetadata, error), 256)
	var deliverer sync.WaitGroup
	deliverer.Go(func() { // one goroutine, as the library delivers
		for cb := range queue {
			cb(producer.RecordMetadata{}, nil)
		}
	})
	reading := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		for {
			c := m.counts()
			if c.acked > c.sent {
				t.Errorf("acked %d > sent %d", c.acked, c.sent)
			}
			_, _ = m.latency()
			select {
			case <-reading:
				return
			default:
			}
		}
	})
	for range records {
		queue <- m.track(s, 1)
	}
	close(queue)
	deliverer.Wait()
	close(reading)
	reader.Wait()
	if c := m.counts(); c.sent != records || c.acked != records || c.bytes != records {
		t.Errorf("counts %+v, want %d of each", c, records)
	}
	if h, _ := m.latency(); h.TotalCount() != records {
		t.Errorf("histogram holds %d values, want %d", h.TotalCount(), records)
	}
}

// A read counts the outcomes before the records sent, so that a record
// sent and acknowledged while a read is under way is in its acked count
// only if it is in its sent count too. The test holds the failures' mutex,
// which a read takes first, while a record is sent and acknowledged: in
// TestMeterReadWhileCallbacksRun the deliverer is seldom caught up with the
// records sent, and a read that counted the records sent first passed it.
func TestMeterReadsNoMoreAckedThanSent(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	for range 200 {
		read := make(chan counts)
		m.errMu.Lock()
		go func() { read <- m.counts() }()
		// Let the read start and wait for the mutex; should it not have
		// started yet, this round checks nothing, and others will.
		for range 10 {
			runtime.Gosched()
		}
		m.track(s, 1)(producer.RecordMetadata{}, nil)
		m.errMu.Unlock()
		if c := <-read; c.acked > c.sent {
			t.Fatalf("a read counted %d acked, %d sent", c.acked, c.sent)
		}
	}
}

// Percentiles over several tallies and the spare are those of all the
// latencies together.
func TestMeterMergesPercentiles(t *testing.T) {
	m := newMeter(3)
	// 1..1000 µs spread over the tallies, 1001..1100 into the spare (its
	// tally held, as a second goroutine would find it).
	for us := int64(1); us <= 1000; us++ {
		m.acked(m.shard(int(us)%3).tally, us, 1)
	}
	held := m.shard(0).tally
	held.take()
	for us := int64(1001); us <= 1100; us++ {
		m.acked(held, us, 2)
	}
	held.writing.Store(false)

	h, _ := m.latency()
	if h.TotalCount() != 1100 {
		t.Fatalf("%d values, want 1100", h.TotalCount())
	}
	// Three significant digits: values below 2048 are exact.
	for q, want := range map[float64]int64{50: 550, 90: 990, 99: 1089, 100: 1100} {
		if got := h.ValueAtQuantile(q); got != want {
			t.Errorf("p%v = %d µs, want %d", q, got, want)
		}
	}
	if h.Min() != 1 {
		t.Errorf("min %d, want 1", h.Min())
	}
	if c := m.counts(); c.acked != 1100 || c.bytes != 1000+200 {
		t.Errorf("counts %+v", c)
	}
	// Out of range: clamped, not lost.
	m.acked(m.shard(1).tally, -5, 0)
	m.acked(m.shard(1).tally, latencyMaxMicros*2, 0)
	if h, _ := m.latency(); h.TotalCount() != 1102 || h.Min() != latencyMinMicros || h.Max() < latencyMaxMicros {
		t.Errorf("clamped: %d values, min %d, max %d", h.TotalCount(), h.Min(), h.Max())
	}
	// The histogram holds the clamped value, but the max, which the
	// summary prints, keeps the true one: twenty minutes, not ten.
	if _, longest := m.latency(); longest != latencyMaxMicros*2 {
		t.Errorf("longest %d µs, want %d: clamped with the histogram's value", longest, latencyMaxMicros*2)
	}
}

// A record's latency is the time from track to its callback, on the clock
// that also gives its timestamp.
func TestMeterLatencyIsProduceToCallback(t *testing.T) {
	m := newMeter(1)
	at := m.now()
	cb := m.trackAt(m.shard(0), 1, at-250_000) // produced 250 ms ago
	cb(producer.RecordMetadata{}, nil)
	h, _ := m.latency()
	if got := h.Max(); got < 250_000 || got > 250_000+60_000_000 {
		t.Errorf("latency %d µs, want 250 ms and the test's own time", got)
	}
	if ts := timestamp(at); ts.UnixMicro() != at {
		t.Errorf("timestamp(%d) = %v", at, ts)
	}
}

// Slots are reused once their callbacks have run: metering a record
// allocates nothing once the ring holds as many slots as records are in
// flight, and the ring does not grow past that.
func TestSlotsAreReused(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	const inFlight = 1000
	cbs := make([]func(producer.RecordMetadata, error), 0, inFlight)
	round := func() {
		for range inFlight {
			cbs = append(cbs, m.track(s, 1))
		}
		// Out of order, as partitions complete.
		for i := len(cbs) - 1; i >= 0; i-- {
			cbs[i](producer.RecordMetadata{}, nil)
		}
		cbs = cbs[:0]
	}
	round()
	size := len(s.slots.ring)
	if allocs := testing.AllocsPerRun(10, round); allocs != 0 {
		t.Errorf("%v allocations per %d records once warm", allocs, inFlight)
	}
	if len(s.slots.ring) != size || size > 2*inFlight {
		t.Errorf("the ring grew from %d to %d slots for %d records in flight", size, len(s.slots.ring), inFlight)
	}
	if c := m.counts(); c.acked != 12*inFlight { // AllocsPerRun runs once more than asked
		t.Errorf("acked %d, want %d", c.acked, 12*inFlight)
	}
}

// A slot still in flight is skipped when take comes round to it, never
// handed out twice: every callback counts its own record's start.
func TestSlotsNeverShared(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	first := m.trackAt(s, 1, m.now()-1_000_000) // 1 s ago, still in flight
	var later []func(producer.RecordMetadata, error)
	for range 3 * slotChunk {
		later = append(later, m.trackAt(s, 1, m.now()))
	}
	for _, cb := range later {
		cb(producer.RecordMetadata{}, nil)
	}
	if h, _ := m.latency(); h.Max() >= 1_000_000 {
		t.Fatalf("a later record took the first one's slot: max %d µs", h.Max())
	}
	first(producer.RecordMetadata{}, nil)
	if h, _ := m.latency(); h.Max() < 1_000_000 || h.TotalCount() != 3*slotChunk+1 {
		t.Errorf("max %d µs over %d records: the first record's start was lost", h.Max(), h.TotalCount())
	}
}

// An empty run reports zeros, not NaN, which JSON cannot encode, and its
// errors are {} rather than null; its compression ratio is 1, as for any
// run whose batches nothing made smaller (it was 0).
func TestEmptySummaryEncodes(t *testing.T) {
	s := newSummary(summaryInput{mode: "perf", meter: newMeter(1)})
	var buf bytes.Buffer
	if err := s.write(&buf, true); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(buf.Bytes(), &fields); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if errs, ok := fields["errors"].(map[string]any); !ok || len(errs) != 0 {
		t.Errorf("errors = %v", fields["errors"])
	}
	if fields["compression_ratio"] != 1.0 {
		t.Errorf("compression_ratio = %v, want 1", fields["compression_ratio"])
	}
}

func TestGroup(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}

// A failure that leaves the producer able to send nothing more stops the
// handing over of records, whichever it is: the cluster stopped the
// producer for good, or its transactions cannot continue (every record
// after a TRANSACTION_FATAL fails as surely, and a paced run or an open
// stdin would fail them until it ends). A failure of one record stops
// nothing.
func TestAFailureThatLeavesTheProducerUnableToSendStopsTheRun(t *testing.T) {
	for _, tc := range []struct {
		err   error
		stops bool
	}{
		{fmt.Errorf("fenced: %w", producer.ErrProducerStopped), true},
		{fmt.Errorf("committing: %w", producer.ErrTransactionFatal), true},
		{fmt.Errorf("a record failed: %w", producer.ErrTransactionAbortable), false},
		{producer.ErrDeliveryTimeout, false},
	} {
		m := newMeter(1)
		called := false
		m.whenStopped(func() { called = true })
		m.recordError(tc.err)
		if stopped := m.stopped() != nil; stopped != tc.stops || called != tc.stops {
			t.Errorf("%v: stopped %t, told %t; want %t", tc.err, stopped, called, tc.stops)
		}
	}
}

// After Ctrl-C, Close fails what is left and returns before those records'
// callbacks run: the summary waits for them, within a bound, rather than
// call them unresolved; and does not wait past the bound for a callback
// that never comes.
func TestMeterAwaitOutcomes(t *testing.T) {
	m := newMeter(1)
	s := m.shard(0)
	first, second := m.track(s, 1), m.track(s, 1)
	first(producer.RecordMetadata{}, nil)
	go second(producer.RecordMetadata{}, producer.ErrClosed)
	start := time.Now()
	m.awaitOutcomes(time.Minute)
	if c := m.counts(); c.acked+c.failed != c.sent {
		t.Fatalf("awaitOutcomes returned with %d of %d outcomes", c.acked+c.failed, c.sent)
	}
	// A failure is an outcome: the wait ends with it, not at the bound,
	// or kprod would wait out outcomesGrace after Ctrl-C whenever a record
	// failed.
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("awaitOutcomes waited %v once every record had its outcome, one of them a failure", waited)
	}

	m.track(s, 1) // its callback never runs
	start = time.Now()
	m.awaitOutcomes(20 * time.Millisecond)
	if waited := time.Since(start); waited > 10*time.Second {
		t.Fatalf("awaitOutcomes waited %v for a callback that never comes, with a bound of 20ms", waited)
	}
}
