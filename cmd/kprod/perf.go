package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/cmd/kprod/internal/payload"
)

// perfOptions are the flags of kprod perf (and of kprod alone).
type perfOptions struct {
	commonOptions
	numRecords       int64
	recordSize       int
	payload          string
	payloadFile      string
	payloadDelimiter string
	keySize          int
	keyPool          int
	throughput       float64
	concurrency      int
	sync             bool

	gen payload.Config // what validate made of the payload and key flags
}

// The values of --payload that are not file names.
const (
	payloadLetters = "letters"
	payloadRandom  = "random"
)

func newPerfOptions() *perfOptions { return &perfOptions{} }

func (o *perfOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	o.commonOptions.register(fs)
	fs.Int64Var(&o.numRecords, "num-records", 1_000_000, "records to produce")
	fs.IntVar(&o.recordSize, "record-size", 100, "value size in bytes")
	fs.StringVar(&o.payload, "payload", payloadLetters, "values: letters (random upper-case letters, as kafka-producer-perf-test), random (incompressible bytes), or a `file` whose payloads are taken at random")
	fs.StringVar(&o.payloadFile, "payload-file", "", "same as --payload `file`")
	fs.Var(escapedVar(&o.payloadDelimiter, `\n`), "payload-delimiter", "what separates the payloads of a --payload file ("+escapesHelp+")")
	fs.IntVar(&o.keySize, "key-size", 0, "key size in bytes; 0: no key")
	fs.IntVar(&o.keyPool, "key-pool", 1024, fmt.Sprintf("keys are drawn from a pool of this many random keys made up front (%d MiB of them at most); 0: a fresh random key for every record", maxKeyPoolBytes>>20))
	fs.Float64Var(&o.throughput, "throughput", 0, "records/s cap over all goroutines; 0 or -1: unlimited; paced, latency starts when each record was due, so a run that cannot keep up reports how late its records were")
	fs.IntVar(&o.concurrency, "concurrency", 1, fmt.Sprintf("goroutines producing, at most %d (no more than --num-records are started)", maxConcurrency))
	fs.BoolVar(&o.sync, "sync", false, "each goroutine waits for each record's ack before the next (Send instead of Produce)")
}

func (o *perfOptions) validate(cmd *cobra.Command) error {
	if o.numRecords < 1 {
		return usagef("--num-records: %d is less than 1", o.numRecords)
	}
	if o.recordSize < 0 {
		return usagef("--record-size: %d is negative", o.recordSize)
	}
	if err := o.validatePayload(cmd); err != nil {
		return err
	}
	if o.keySize < 0 {
		return usagef("--key-size: %d is negative", o.keySize)
	}
	if o.keyPool < 0 {
		return usagef("--key-pool: %d is negative", o.keyPool)
	}
	if cmd.Flags().Changed("key-pool") && o.keySize == 0 {
		// Without keys there is nothing to draw from the pool: the flag
		// did nothing, and a run that ignores what it was told misleads.
		return usagef("--key-pool: needs --key-size")
	}
	o.gen.KeySize, o.gen.KeyPool = o.keySize, o.keyPool
	if o.throughput < 0 && o.throughput != -1 {
		return usagef("--throughput: %v is negative (use 0 or -1 for unlimited)", o.throughput)
	}
	if math.IsNaN(o.throughput) {
		return usagef("--throughput: NaN is not a number of records/s (use 0 or -1 for unlimited)")
	}
	if o.concurrency < 1 {
		return usagef("--concurrency: %d is less than 1", o.concurrency)
	}
	if o.concurrency > maxConcurrency {
		return usagef("--concurrency: %d is more than %d", o.concurrency, maxConcurrency)
	}
	// Goroutines beyond the records would produce none; paced, the
	// records go out at the same times without them.
	o.concurrency = int(min(int64(o.concurrency), o.numRecords))
	if _, ok := paceInterval(o.throughput, o.concurrency); !ok {
		return usagef("--throughput: %v records/s is too low to pace: each of %d %s would wait more than 292 years (the longest time.Duration) between records",
			o.throughput, o.concurrency, countedNoun(int64(o.concurrency), "goroutine"))
	}
	if err := o.commonOptions.validate(cmd); err != nil {
		return err
	}
	if err := o.checkRecordsFit(); err != nil {
		return err
	}
	return o.checkKeyPoolFits()
}

// validatePayload makes o.gen's values from --payload, or --payload-file,
// its older spelling for a file.
func (o *perfOptions) validatePayload(cmd *cobra.Command) error {
	file := o.payloadFile
	if file != "" && cmd.Flags().Changed("payload") {
		return usagef("--payload-file: not with --payload, which it is another name for")
	}
	switch o.payload {
	case payloadLetters:
		o.gen.Kind = payload.Letters
	case payloadRandom:
		o.gen.Kind = payload.Random
	case "":
		return usagef("--payload: want letters, random or a file name")
	default:
		file = o.payload
	}
	o.gen.Size = o.recordSize
	if file == "" {
		if cmd.Flags().Changed("payload-delimiter") {
			return usagef("--payload-delimiter: needs --payload FILE or --payload-file")
		}
		return nil
	}
	flag := "--payload"
	if o.payloadFile != "" {
		flag = "--payload-file"
	}
	if cmd.Flags().Changed("record-size") {
		return usagef("%s: not with --record-size: the values come from the file", flag)
	}
	delim, err := unescape(o.payloadDelimiter)
	if err != nil {
		return usagef("--payload-delimiter: %v", err)
	}
	if len(delim) == 0 {
		return usagef("--payload-delimiter: empty")
	}
	lines, err := readPayloads(file, delim)
	if err != nil {
		return usagef("%s: %v", flag, err)
	}
	o.payloadFile = file
	o.gen = payload.Config{Kind: payload.Lines, Lines: lines}
	return nil
}

func newPerfCommand(e *env) *cobra.Command {
	o := newPerfOptions()
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Generate records and report throughput and latency",
		Long: `perf produces --num-records records of --record-size bytes as fast as the
producer takes them (or at --throughput records/s) and reports throughput,
latency from Produce to acknowledgement (with --throughput, from when each
record was due, if earlier), batching, compression and CPU cost.

Values are random upper-case letters, as kafka-producer-perf-test makes
them (--payload letters), or random bytes, which no codec compresses
(--payload random), windows of a pool generated once, so that the values
of a batch share no byte and compression ratios are not inflated by
repeats; or payloads of a file (--payload FILE).
Generating them costs nothing per record, and metering a record costs one
clock reading, no mutex and, once warm, no allocation: the figures are the
producer's.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPerf(cmd, e, o) },
	}
	o.register(cmd)
	return cmd
}

func runPerf(cmd *cobra.Command, e *env, o *perfOptions) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	g := payload.New(o.gen)
	var about string
	switch o.gen.Kind {
	case payload.Lines:
		about = fmt.Sprintf("%s taken from the %s of %s", plural(o.numRecords, "record"), plural(int64(len(o.gen.Lines)), "payload"), o.payloadFile)
	case payload.Random:
		about = fmt.Sprintf("%s of %d random %s", plural(o.numRecords, "record"), o.recordSize, countedNoun(int64(o.recordSize), "byte"))
	default:
		about = fmt.Sprintf("%s of %d %s", plural(o.numRecords, "record"), o.recordSize, countedNoun(int64(o.recordSize), "byte"))
	}
	if o.keySize > 0 {
		if o.keyPool > 0 {
			about += fmt.Sprintf(" with %d-byte keys from a pool of %s", o.keySize, group(int64(o.keyPool)))
		} else {
			about += fmt.Sprintf(" with fresh %d-byte keys", o.keySize)
		}
	}
	interval, _ := paceInterval(o.throughput, o.concurrency) // validate checked it
	return execute(cmd, e, &o.commonOptions, workload{
		mode:   "perf",
		shards: o.concurrency,
		total:  o.numRecords,
		about:  about,
		paced:  interval > 0,
		produce: func(stop, produceCtx context.Context, p recordSink, m *meter, _ *console) error {
			runGenerators(stop, produceCtx, p, m, o, g)
			return nil
		},
	})
}

// runGenerators produces o.numRecords records from o.concurrency goroutines
// and returns when all were handed to the producer (and, with --sync,
// acknowledged) or stop is done.
func runGenerators(stop, produceCtx context.Context, p recordSink, m *meter, o *perfOptions, g *payload.Generator) {
	// Checking an atomic per record is cheaper than stop.Err().
	var stopping atomic.Bool
	stopWatch := context.AfterFunc(stop, func() { stopping.Store(true) })
	defer stopWatch()

	var wg sync.WaitGroup
	per, extra := o.numRecords/int64(o.concurrency), o.numRecords%int64(o.concurrency)
	first := int64(0)
	start := time.Now()
	for i := range o.concurrency {
		n := per
		if int64(i) < extra {
			n++
		}
		w := &worker{
			p: p, m: m, src: g.Source(uint64(first)), s: m.shard(i), topic: o.topic, sync: o.sync,
			first: first, n: n, stopping: &stopping, now: time.Now,
		}
		w.interval, _ = paceInterval(o.throughput, o.concurrency) // validate checked it
		// 0 is no pacing, for a throughput no goroutine reaches too.
		if w.interval > 0 {
			w.paceEach = paceEvery(w.interval)
		}
		// The goroutines take turns on one schedule of a record every
		// interval/concurrency: goroutine i's first record is due i turns
		// after the start, the next ones an interval apart. Were all to
		// start at once, a record of each would go out together, and the
		// run would end an interval early, above the rate asked.
		w.start = start.Add(time.Duration(i) * (w.interval / time.Duration(o.concurrency)))
		first += n
		wg.Go(func() { w.run(stop, produceCtx) })
	}
	wg.Wait()
}

// worker is one producing goroutine: records first..first+n-1.
type worker struct {
	p        recordSink
	m        *meter
	src      *payload.Source // deterministic per worker
	s        *shard
	topic    string
	sync     bool
	first, n int64
	start    time.Time     // when the first record is due, if paced
	interval time.Duration // between records of this goroutine; 0: no pacing
	paceEach int64         // records between two looks at the clock for pacing
	// now is the clock pacing reads, time.Now; a test gives it a wall
	// reading apart from the meter's, as a step of the wall clock would.
	now      func() time.Time
	stopping *atomic.Bool
}

// run produces the worker's records until they are all handed over or
// stop is done; produceCtx bounds the waits inside Produce and Send.
//
// A record's timestamp is the clock reading taken as it is produced, so
// the producer, which reads the clock for a record without one, reads
// none: metering adds one clock reading per record, the callback's.
//
// Unpaced, that reading is where the record's latency starts. Paced, a
// record is due at its place on the schedule, and its latency starts
// there, or at the reading if it went out early (within the millisecond
// that pace lets go at once): a record due while Produce blocked (a full
// buffer, a GC pause) or this goroutine was descheduled goes out late,
// back to back with the others due meanwhile, and timed from its Produce
// call it would look as fast as any. That is coordinated omission, which
// hides a stall from the percentiles it should dominate; the race's
// latency workload (bench/driver's producePaced) times from the due time
// for the same reason.
//
// Latency is measured on the wall clock (see meter.now), the schedule on
// the monotonic one, which no step of the wall clock (NTP, a VM resumed)
// moves. Placed on the wall clock once, from w.start's own reading, the
// schedule would stay off the meter's readings after a step for the rest
// of the run: forward, every record's latency would include the step;
// back, every record would be timed from its call again. So each pace
// point places w.start on the wall clock anew, from a reading of each
// clock, and a step skews only the records due before the next pace
// point (a millisecond of the schedule), as it skews the records in
// flight across it, unpaced.
func (w *worker) run(stop, produceCtx context.Context) {
	rec := producer.Record{Topic: w.topic}
	var startMicros int64 // w.start on the meter's clock, if paced
	for i := range w.n {
		if w.stopping.Load() {
			return
		}
		due := time.Duration(i) * w.interval // after w.start
		if w.interval > 0 && i%w.paceEach == 0 {
			if !w.pace(stop, w.start.Add(due)) {
				return
			}
			startMicros = w.m.now() - w.now().Sub(w.start).Microseconds()
		}
		rec.Key = w.src.Key()
		rec.Value = w.src.Value(w.first + i)
		size := len(rec.Key) + len(rec.Value)
		at := w.m.now()
		rec.Timestamp = timestamp(at)
		from := at
		if w.interval > 0 {
			from = min(at, startMicros+due.Microseconds())
		}
		if w.sync {
			w.s.sent.Add(1)
			_, err := w.p.Send(produceCtx, &rec)
			w.m.finish(w.s, from, int64(size), err)
			continue
		}
		w.p.Produce(produceCtx, &rec, w.m.trackAt(w.s, size, from))
	}
}

// pacePeriod is how often a paced worker looks at the clock: it produces
// a millisecond's worth of records, then waits until the next is due. A
// look and a timer per record would cost more than producing it at high
// rates (kafka-producer-perf-test's throttler, likewise, sleeps only once
// it is 2 ms ahead).
const pacePeriod = time.Millisecond

// paceInterval is the time between two records of each of concurrency
// goroutines that together produce throughput records/s, or 0 (no pacing)
// for a throughput of 0, -1 or one that no goroutine reaches (over 10^9
// records/s each). ok is false for a positive throughput so low that the
// interval exceeds time.Duration: the conversion would overflow, and the
// negative interval it gives on amd64 turned pacing off.
func paceInterval(throughput float64, concurrency int) (interval time.Duration, ok bool) {
	if throughput <= 0 {
		return 0, true
	}
	ns := float64(time.Second) * float64(concurrency) / throughput
	if ns >= math.MaxInt64 { // float64(math.MaxInt64) is 2^63, one past it
		return 0, false
	}
	return time.Duration(ns), true
}

// paceEvery is how many records of one interval each make a pacePeriod.
func paceEvery(interval time.Duration) int64 {
	return max(1, int64(pacePeriod/interval))
}

// pace waits until due; false if ctx ended first.
func (w *worker) pace(ctx context.Context, due time.Time) bool {
	d := due.Sub(w.now())
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
