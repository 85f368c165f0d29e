//go:build unix

// Command baseline produces kprod perf's workload with the bare library and
// nothing else: no latency, no progress, no summary, one callback that
// counts failures. Its CPU time is the denominator of what kprod's metering
// costs: run both against the same broker and compare their user+sys time,
// as kprod's README shows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/cmd/kprod/internal/payload"
	"github.com/gokafka/producer/compression"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

// workload is what the flags ask baseline to produce, and with what
// Config.
type workload struct {
	topic      string
	records    int64
	payload    payload.Config
	throughput float64
	cfg        producer.Config
}

func run() error {
	w, err := parseFlags()
	if err != nil {
		return err
	}
	p, err := producer.New(w.cfg)
	if err != nil {
		return err
	}
	src := payload.New(w.payload).Source(0)
	var failed atomic.Int64
	var firstErr atomic.Pointer[error]
	callback := func(_ producer.RecordMetadata, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(&err)
		}
	}
	ctx := context.Background()
	cpu0, t0 := cpuTime(), time.Now()
	produceAll(ctx, p, w, src, t0, callback)
	if err := p.Flush(ctx); err != nil {
		return err
	}
	elapsed, cpu, stats := time.Since(t0), cpuTime()-cpu0, p.Stats()
	if err := p.Close(ctx); err != nil {
		return err
	}
	// The batches and requests say how full the buffer ran, which moves
	// the CPU per record: compare runs that batched alike.
	fmt.Fprintf(os.Stderr, "baseline: %d records in %.3f s, cpu %.3f s, %.3f µs/record, %d failed, %d batches in %d requests\n",
		w.records, elapsed.Seconds(), cpu.Seconds(), float64(cpu.Microseconds())/float64(w.records), failed.Load(),
		stats.Batches, stats.Requests)
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("%d records failed, the first with: %w", failed.Load(), *e)
	}
	return nil
}

// parseFlags reads the workload from the command line, refusing what
// cannot be run.
func parseFlags() (workload, error) {
	brokers := flag.String("brokers", "", "bootstrap `host:port,...` (required); the topic must exist")
	topic := flag.String("topic", "kprod-perf", "topic to produce to")
	records := flag.Int64("num-records", 1_000_000, "records to produce")
	size := flag.Int("record-size", 100, "value size in bytes")
	kind := flag.String("payload", "random", "values: random (incompressible) or letters")
	keySize := flag.Int("key-size", 0, "key size in bytes; 0: no key")
	keyPool := flag.Int("key-pool", 1024, "keys drawn from a pool of this many; 0: a fresh key per record")
	throughput := flag.Float64("throughput", 0, "records/s cap, paced as kprod perf paces; 0: unlimited")
	bufferMemory := flag.Int64("buffer-memory", 0, "Config.BufferMemory in bytes; 0: the default")
	codecName := flag.String("compression", "none", "Config.Compression: none, gzip, snappy, lz4 or zstd")
	linger := flag.Duration("linger", producer.DefaultLinger, "Config.Linger, as kprod's --linger: 0 sends at once")
	flag.Parse()
	switch {
	case *brokers == "":
		return workload{}, errors.New("--brokers is required")
	case *records < 1 || *size < 0 || *keySize < 0 || *keyPool < 0 || *throughput < 0 || *bufferMemory < 0 || *linger < 0:
		return workload{}, errors.New("--num-records must be positive, and sizes, counts, rates and the linger not negative")
	}
	codec, err := compression.ParseCodec(*codecName)
	if err != nil {
		return workload{}, err // it names the flag's values
	}
	c := payload.Config{Size: *size, KeySize: *keySize, KeyPool: *keyPool}
	switch *kind {
	case "random":
		c.Kind = payload.Random
	case "letters":
		c.Kind = payload.Letters
	default:
		return workload{}, fmt.Errorf("--payload: %q is neither random nor letters", *kind)
	}

	if *linger == 0 {
		*linger = producer.NoLinger // the library reads 0 as "the default"
	}
	return workload{topic: *topic, records: *records, payload: c, throughput: *throughput,
		cfg: producer.Config{Brokers: strings.Split(*brokers, ","), BufferMemory: *bufferMemory,
			Compression: codec, Linger: *linger}}, nil
}

// produceAll produces w's records from src, paced from t0 at w's
// throughput if it has one.
func produceAll(ctx context.Context, p *producer.Producer, w workload, src *payload.Source, t0 time.Time, callback producer.Callback) {
	rec := producer.Record{Topic: w.topic}
	var interval time.Duration
	paceEach := int64(1)
	if w.throughput > 0 {
		interval = time.Duration(float64(time.Second) / w.throughput)
		paceEach = max(1, int64(time.Millisecond/interval))
	}
	for seq := range w.records {
		if interval > 0 && seq%paceEach == 0 {
			pace(t0.Add(time.Duration(seq) * interval))
		}
		rec.Key, rec.Value = src.Key(), src.Value(seq)
		p.Produce(ctx, &rec, callback)
	}
}

// pace waits until due. It is called once per millisecond's worth of
// records, as kprod perf's --throughput paces, so that both pay the same
// for pacing.
func pace(due time.Time) {
	if d := time.Until(due); d > 0 {
		t := time.NewTimer(d)
		<-t.C
	}
}

// cpuTime is the user plus system CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
