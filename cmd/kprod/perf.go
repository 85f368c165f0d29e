package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
)

// perfOptions are the flags of kprod perf (and of kprod alone).
type perfOptions struct {
	commonOptions
	numRecords       int64
	recordSize       int
	payloadFile      string
	payloadDelimiter string
	keySize          int
	throughput       float64
	concurrency      int
	sync             bool

	payloads [][]byte // read from --payload-file by validate
}

func newPerfOptions() *perfOptions { return &perfOptions{} }

func (o *perfOptions) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	o.commonOptions.register(fs)
	fs.Int64Var(&o.numRecords, "num-records", 1_000_000, "records to produce")
	fs.IntVar(&o.recordSize, "record-size", 100, "value size in bytes")
	fs.StringVar(&o.payloadFile, "payload-file", "", "take each value at random from the payloads of this `file` instead of --record-size random letters")
	fs.Var(escapedVar(&o.payloadDelimiter, `\n`), "payload-delimiter", "what separates the payloads of --payload-file ("+escapesHelp+")")
	fs.IntVar(&o.keySize, "key-size", 0, "key size in bytes; 0: no key, otherwise keys drawn from a fixed pool of random keys")
	fs.Float64Var(&o.throughput, "throughput", 0, "records/s cap over all goroutines; 0 or -1: unlimited")
	fs.IntVar(&o.concurrency, "concurrency", 1, "goroutines producing")
	fs.BoolVar(&o.sync, "sync", false, "each goroutine waits for each record's ack before the next (Send instead of Produce)")
}

func (o *perfOptions) validate(cmd *cobra.Command) error {
	if o.numRecords < 1 {
		return usagef("--num-records: %d is less than 1", o.numRecords)
	}
	if o.recordSize < 0 {
		return usagef("--record-size: %d is negative", o.recordSize)
	}
	if o.payloadFile != "" {
		if cmd.Flags().Changed("record-size") {
			return usagef("--payload-file: not with --record-size: the values come from the file")
		}
		delim, err := unescape(o.payloadDelimiter)
		if err != nil || len(delim) == 0 {
			return usagef("--payload-delimiter: %q: want a non-empty string (%v)", o.payloadDelimiter, err)
		}
		if o.payloads, err = readPayloads(o.payloadFile, delim); err != nil {
			return usagef("--payload-file: %v", err)
		}
	}
	if o.keySize < 0 {
		return usagef("--key-size: %d is negative", o.keySize)
	}
	if o.throughput < 0 && o.throughput != -1 {
		return usagef("--throughput: %v is negative (use 0 or -1 for unlimited)", o.throughput)
	}
	if o.concurrency < 1 {
		return usagef("--concurrency: %d is less than 1", o.concurrency)
	}
	return o.commonOptions.validate(cmd)
}

func newPerfCommand(e *env) *cobra.Command {
	o := newPerfOptions()
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Generate records and report throughput and latency",
		Long: `perf produces --num-records records of --record-size bytes as fast as the
producer takes them (or at --throughput records/s) and reports throughput,
latency from Produce to acknowledgement, batching, compression and CPU cost.

Values are random upper-case letters, as kafka-producer-perf-test makes them,
but taken at different offsets of a 1 MiB pool generated once, so that
consecutive records differ and compression ratios are not inflated by
identical records. Generating them costs nothing per record.`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPerf(cmd, e, o) },
	}
	o.register(cmd)
	return cmd
}

func runPerf(cmd *cobra.Command, e *env, o *perfOptions) error {
	if err := o.validate(cmd); err != nil {
		return err
	}
	g := newGenerator(o.recordSize, o.keySize, o.payloads)
	about := fmt.Sprintf("%s records of %d bytes", group(o.numRecords), o.recordSize)
	if o.payloads != nil {
		about = fmt.Sprintf("%s records taken from the %s payloads of %s", group(o.numRecords), group(int64(len(o.payloads))), o.payloadFile)
	}
	if o.keySize > 0 {
		about += fmt.Sprintf(" with %d-byte keys", o.keySize)
	}
	return execute(cmd, e, &o.commonOptions, workload{
		mode:   "perf",
		shards: o.concurrency,
		total:  o.numRecords,
		about:  about,
		produce: func(stop, produceCtx context.Context, p recordSink, m *meter) error {
			runGenerators(stop, produceCtx, p, m, o, g)
			return nil
		},
	})
}

// runGenerators produces o.numRecords records from o.concurrency goroutines
// and returns when all were handed to the producer (and, with --sync,
// acknowledged) or stop is done.
func runGenerators(stop, produceCtx context.Context, p recordSink, m *meter, o *perfOptions, g *generator) {
	// Checking an atomic per record is cheaper than stop.Err().
	var stopping atomic.Bool
	stopWatch := context.AfterFunc(stop, func() { stopping.Store(true) })
	defer stopWatch()

	var wg sync.WaitGroup
	per, extra := o.numRecords/int64(o.concurrency), o.numRecords%int64(o.concurrency)
	first := int64(0)
	for i := range o.concurrency {
		n := per
		if int64(i) < extra {
			n++
		}
		w := &worker{
			p: p, m: m, g: g, s: m.shard(i), topic: o.topic, sync: o.sync,
			first: first, n: n, stopping: &stopping,
		}
		if o.throughput > 0 {
			w.interval = time.Duration(float64(time.Second) * float64(o.concurrency) / o.throughput)
		}
		first += n
		wg.Go(func() { w.run(stop, produceCtx) })
	}
	wg.Wait()
}

// worker is one producing goroutine: records first..first+n-1.
type worker struct {
	p        recordSink
	m        *meter
	g        *generator
	s        *shard
	topic    string
	sync     bool
	first, n int64
	interval time.Duration // between records of this goroutine; 0: no pacing
	stopping *atomic.Bool
}

// run produces the worker's records until they are all handed over or
// stop is done; produceCtx bounds the waits inside Produce and Send.
func (w *worker) run(stop, produceCtx context.Context) {
	rng := rand.New(rand.NewPCG(uint64(w.first), 0x6b70726f64)) // deterministic per worker
	rec := producer.Record{Topic: w.topic}
	start := time.Now()
	for i := range w.n {
		if w.stopping.Load() {
			return
		}
		if w.interval > 0 && !w.pace(stop, start.Add(time.Duration(i)*w.interval)) {
			return
		}
		seq := w.first + i
		rec.Key = w.g.key(rng)
		rec.Value = w.g.value(seq, rng)
		size := len(rec.Key) + len(rec.Value)
		if w.sync {
			t0 := w.m.now()
			w.s.sent.Add(1)
			_, err := w.p.Send(produceCtx, &rec)
			w.m.finish(w.s, t0, int64(size), err)
			continue
		}
		w.p.Produce(produceCtx, &rec, w.m.track(w.s, size))
	}
}

// pace waits until due; false if ctx ended first.
func (w *worker) pace(ctx context.Context, due time.Time) bool {
	d := time.Until(due)
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

// generator hands out record values and keys made once, up front.
type generator struct {
	pool     []byte // valuePoolSize+size random letters
	size     int
	keys     [][]byte
	modulus  int64
	payloads [][]byte // --payload-file: values to choose from instead of the pool
}

const (
	valuePoolSize = 1 << 20
	keyPoolSize   = 1024
	// valueStride spaces the values of consecutive records in the pool. It
	// is odd, so coprime with the pool's power-of-two size: 2^20 records in
	// a row start at 2^20 different offsets.
	valueStride = 7919
)

func newGenerator(size, keySize int, payloads [][]byte) *generator {
	if payloads != nil {
		size = 0 // the pool is not used
	}
	rng := rand.New(rand.NewPCG(1, 2))
	letters := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('A' + rng.IntN(26))
		}
		return b
	}
	g := &generator{pool: letters(valuePoolSize + size), size: size, modulus: valuePoolSize, payloads: payloads}
	if keySize > 0 {
		for range keyPoolSize {
			g.keys = append(g.keys, letters(keySize))
		}
	}
	return g
}

// value is record seq's value: a window of the pool, not a copy (Produce
// copies what it keeps), or a payload chosen at random, as
// kafka-producer-perf-test chooses them.
func (g *generator) value(seq int64, rng *rand.Rand) []byte {
	if g.payloads != nil {
		return g.payloads[rng.IntN(len(g.payloads))]
	}
	off := (seq * valueStride) % g.modulus
	return g.pool[off : off+int64(g.size) : off+int64(g.size)]
}

// key is a key from the pool, or nil without --key-size.
func (g *generator) key(rng *rand.Rand) []byte {
	if len(g.keys) == 0 {
		return nil
	}
	return g.keys[rng.IntN(len(g.keys))]
}
