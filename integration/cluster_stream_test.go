package integration

// A steady stream of keyed records into the real cluster while a test
// injects faults, and the checks that hold every cluster failure test to
// the same rules: none lost, none duplicated, per-key order, the Java
// client's partition for each key. Faults are injected at points of
// progress (so many records acknowledged, on such partitions), never after
// a sleep, so a slow machine makes a test slower, not different.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/partitioner"
)

// streamRate is how many records per second a stream produces, at most: a
// fault then always meets records in flight, and a test's record count
// depends on how long its faults take, not on the machine's speed.
const streamRate = 4000

// streamWindow is how many records a stream leaves without an outcome
// before it waits: enough to keep producing to the partitions of live
// leaders while those of a dead one wait.
const streamWindow = 4000

// streamMax caps a stream's records, against a fault that never resolves.
const streamMax = 1_000_000

// streamKeys is how many keys a stream cycles through, several per
// partition.
const streamKeys = 48

// stream produces keyed records from one goroutine or more, record i with
// the value idValue(i). Every key belongs to one goroutine (see streamKey)
// and a goroutine takes its records' indexes in the order it produces them,
// so that the records of a key, and those of a goroutine, are produced in
// index order.
type stream struct {
	t     *testing.T
	p     *producer.Producer
	topic string

	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{} // closed when every producing goroutine has returned
	window   chan struct{} // a slot per record without an outcome

	mu     sync.Mutex
	recs   []*producer.Record // appended by the producing goroutines before Produce
	outs   []outcome
	worker []int // the goroutine that produced each record

	produced, acked, failed atomic.Int64
	ackedOn                 [64]atomic.Int64 // acknowledged records per partition
}

// streamKey is the key of the n-th record of goroutine w: "key-(n mod
// streamKeys)" for the first, the next streamKeys numbers for the second,
// and so on.
func streamKey(w, n int) []byte { return []byte("key-" + strconv.Itoa(w*streamKeys+n%streamKeys)) }

// stream creates a topic of the given partitions, replicated on every
// broker, and starts streaming to it with a producer of the default
// Config changed by mod (nil for none).
func (c *kafkaCluster) stream(t *testing.T, partitions int32, mod func(*producer.Config)) (string, *producer.Producer, *stream) {
	t.Helper()
	topic := newTopic(t, c.seeds, partitions)
	c.awaitFullISR(t, topic)
	p := newProducer(t, c.seeds, mod)
	return topic, p, startStream(t, p, topic)
}

// startStream starts producing to topic from one goroutine; the test must
// call finish.
func startStream(t *testing.T, p *producer.Producer, topic string) *stream {
	return startStreams(t, p, topic, 1)
}

// startStreams starts producing to topic from workers goroutines, which
// share the stream's rate and window; the test must call finish, or
// stopProducing and results.
func startStreams(t *testing.T, p *producer.Producer, topic string, workers int) *stream {
	s := &stream{t: t, p: p, topic: topic, stop: make(chan struct{}), done: make(chan struct{}),
		window: make(chan struct{}, streamWindow)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { s.halt(); cancel(); <-s.done })
	var running sync.WaitGroup
	for w := range workers {
		running.Go(func() { s.run(ctx, w, streamRate/100/workers) })
	}
	go func() { running.Wait(); close(s.done) }()
	return s
}

// run is goroutine w of the stream, producing perTick records every 10ms.
func (s *stream) run(ctx context.Context, w, perTick int) {
	pace := time.NewTicker(time.Second / 100)
	defer pace.Stop()
	for n := 0; ; {
		select {
		case <-s.stop:
			return
		case <-pace.C:
		}
		for end := n + perTick; n < end; n++ {
			select {
			case s.window <- struct{}{}:
			case <-s.stop:
				return
			}
			s.mu.Lock()
			i := len(s.recs)
			if i == streamMax {
				s.mu.Unlock()
				return
			}
			r := recordFor(s.topic, i, func(int) []byte { return streamKey(w, n) })
			s.recs = append(s.recs, r)
			s.outs = append(s.outs, outcome{})
			s.worker = append(s.worker, w)
			s.mu.Unlock()
			s.p.Produce(ctx, r, s.callback(i))
			s.produced.Add(1)
		}
	}
}

func (s *stream) callback(i int) producer.Callback {
	return func(md producer.RecordMetadata, err error) {
		s.mu.Lock()
		o := &s.outs[i]
		o.md, o.err = md, err
		o.calls++
		first := o.calls == 1
		s.mu.Unlock()
		if !first {
			return // finish reports it
		}
		if err != nil {
			s.failed.Add(1)
		} else {
			s.acked.Add(1)
			if int(md.Partition) < len(s.ackedOn) {
				s.ackedOn[md.Partition].Add(1)
			}
		}
		<-s.window
	}
}

func (s *stream) halt() { s.stopOnce.Do(func() { close(s.stop) }) }

// ackedOnAll is how many records were acknowledged on the partitions ps.
func (s *stream) ackedOnAll(ps []int32) int64 {
	var n int64
	for _, p := range ps {
		n += s.ackedOn[p].Load()
	}
	return n
}

// awaitAcked waits until n records in all are acknowledged.
func (s *stream) awaitAcked(n int64, what string) {
	s.t.Helper()
	s.await(what, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, s.acked.Load(), n, "acknowledged records %s", s.progress())
	})
}

// awaitAckedOn waits until n records are acknowledged on the partitions ps.
func (s *stream) awaitAckedOn(ps []int32, n int64, what string) {
	s.t.Helper()
	s.await(what, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, s.ackedOnAll(ps), n, "records acknowledged on partitions %v %s", ps, s.progress())
	})
}

// awaitProduced waits until n records in all were handed to Produce.
func (s *stream) awaitProduced(n int64, what string) {
	s.t.Helper()
	s.await(what, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, s.produced.Load(), n, "records produced %s", s.progress())
	})
}

func (s *stream) await(what string, cond func(c *assert.CollectT)) {
	s.t.Helper()
	require.EventuallyWithT(s.t, cond, clusterWait, 20*time.Millisecond, "waiting until %s", what)
}

// progress says how far the stream got, for failure messages.
func (s *stream) progress() string {
	return fmt.Sprintf("(stream: %d produced, %d acknowledged, %d failed)", s.produced.Load(), s.acked.Load(), s.failed.Load())
}

// finish stops producing, waits up to wait for every record's outcome, and
// returns the records produced and their outcomes.
func (s *stream) finish(wait time.Duration) ([]*producer.Record, []outcome) {
	s.t.Helper()
	s.stopProducing()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(s.t, s.p.Flush(ctx), "flushing the stream's %d records", s.produced.Load())
	return s.results()
}

// stopProducing stops the producing goroutines and waits until they return.
func (s *stream) stopProducing() {
	s.halt()
	<-s.done
}

// results returns the records produced and their outcomes once the stream
// has stopped and the producer given every record its outcome (a Flush or
// Close), failing the test unless each record had exactly one.
func (s *stream) results() ([]*producer.Record, []outcome) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, o := range s.outs {
		require.Equal(s.t, 1, o.calls, "record %d got %d outcomes", i, o.calls)
	}
	return s.recs, append([]outcome(nil), s.outs...)
}

// report is what a cluster failure test found, logged in one line.
type report struct {
	records, acked, failed int
	faults                 []string
	lost, duplicated       int
	reordered              int
	failedButWritten       int
	readBack               int // every copy read back
	retries                int64
}

func (r *report) String() string {
	return fmt.Sprintf("%d records (%d acknowledged, %d failed), %d faults %v, %d lost, %d duplicated, %d reordered, %d failed but written, %d retries",
		r.records, r.acked, r.failed, len(r.faults), r.faults, r.lost, r.duplicated, r.reordered, r.failedButWritten, r.retries)
}

// scenario is what a cluster failure test did, for checkStream.
type scenario struct {
	faults []string // the faults injected, in order ("kill 2")
	// partitionsAt is the partition count the producer knew when it
	// produced record i.
	partitionsAt func(i int) int32
	// failedMayBeWritten says why a record that failed may be in the log
	// anyway, "" if nothing can put it there.
	failedMayBeWritten string
}

// checkStream reads the topic back and holds what it finds to the rules:
// every acknowledged record read back once, at the offset its callback
// reported, on its key's Java partition, and in its key's order. It logs
// the report and returns it.
func checkStream(t *testing.T, c *kafkaCluster, p *producer.Producer, topic string, recs []*producer.Record, outs []outcome, sc scenario) *report {
	t.Helper()
	d := checkDelivery(t, c.seeds, topic, recs, outs) // fails on lost and misplaced records
	r := &report{records: len(recs), acked: d.acked, failed: d.failed, faults: sc.faults,
		duplicated: d.duplicates, failedButWritten: d.failedButWritten, retries: p.Stats().Retries}
	for i, o := range outs {
		if o.err == nil && d.copies[i] == 0 {
			r.lost++
		}
		r.readBack += d.copies[i]
	}

	var wrong []string
	for i, o := range outs {
		if o.err != nil {
			continue
		}
		if want := partitioner.KeyPartition(recs[i].Key, sc.partitionsAt(i)); o.md.Partition != want {
			wrong = append(wrong, fmt.Sprintf("record %d (key %q) on partition %d, the Java client's is %d of %d",
				i, recs[i].Key, o.md.Partition, want, sc.partitionsAt(i)))
		}
	}
	assert.Empty(t, firstFew(wrong), "%d records are not on their key's partition", len(wrong))

	examples := d.outOfOrder // on read-back, by partition and offset
	r.reordered = len(examples)
	t.Logf("cluster report: %s: %s", t.Name(), r)
	if sc.failedMayBeWritten != "" {
		t.Logf("%d records failed but were written: %s", r.failedButWritten, sc.failedMayBeWritten)
	}

	const exact = "idempotence promises exactly once, in order"
	var dups []string
	for i, n := range d.copies {
		if n > 1 {
			dups = append(dups, fmt.Sprintf("record %d at offsets %v", i, d.offsets[i]))
		}
	}
	assert.Empty(t, firstFew(dups), "%d duplicates, but %s", d.duplicates, exact)
	assert.Empty(t, firstFew(examples), "%d records out of their key's order, but %s", r.reordered, exact)
	// checkDelivery has already failed any of them whose error does not
	// say it may have been written.
	if sc.failedMayBeWritten == "" {
		assert.Zero(t, r.failedButWritten, "records failed but were written, yet %s", exact)
	}
	return r
}

// fixedPartitions is a scenario's partitionsAt for a topic that never grows.
func fixedPartitions(n int32) func(int) int32 { return func(int) int32 { return n } }

// errorLog captures the errors the producer logs with its retries, to
// tell which broker errors it met.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

// logger returns a Logger for Config.Logger that records into l.
func (l *errorLog) logger() *slog.Logger { return slog.New(l) }

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *errorLog) WithGroup(string) slog.Handler            { return l }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

// count is how many logged errors match target.
func (l *errorLog) count(target error) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, err := range l.errs {
		if errors.Is(err, target) {
			n++
		}
	}
	return n
}
