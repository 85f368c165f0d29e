package producer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/fakebroker"
)

// The benchmarks run the whole producer against the in-process fake in
// count-only mode: one op is one record, produced and then acknowledged
// (b.N records, then Flush), so ns/op and allocs/op are per record,
// amortized over batches and requests. The fake runs in the same process,
// so its few allocations per request are included in allocs/op.

const benchPartitions = 6

// benchProducer starts a count-only cluster with one six-partition topic
// and a producer (acks=1 without idempotence, default linger and batch
// size, unless mod says otherwise) whose metadata for it is already loaded,
// so that no record waits for metadata.
func benchProducer(b *testing.B, mod ...func(*Config)) (*fakebroker.Cluster, *Producer) {
	b.Helper()
	c := startCluster(b, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"bench": benchPartitions}})
	p := newProducer(b, c, func(cfg *Config) {
		cfg.Acks, cfg.DisableIdempotence = AcksLeader, true
		for _, m := range mod {
			m(cfg)
		}
	})
	if _, err := p.Send(context.Background(), &Record{Topic: "bench", Value: []byte("warm-up")}); err != nil {
		b.Fatalf("warm-up: %v", err)
	}
	return c, p
}

// failures counts failed records: the benchmarks fail if any record fails.
type failures struct {
	n     atomic.Int64
	first atomic.Pointer[error]
	mem   runtime.MemStats
}

func (f *failures) cb(_ RecordMetadata, err error) {
	if err != nil {
		f.n.Add(1)
		// A copy, so that err itself is not moved to the heap on every
		// call: the benchmark counts allocations.
		first := err
		f.first.CompareAndSwap(nil, &first)
	}
}

// start resets the timer and notes the allocation count, for the
// fractional allocs/record that allocs/op (an integer) rounds away.
func (f *failures) start(b *testing.B) {
	b.ReportAllocs()
	runtime.ReadMemStats(&f.mem)
	b.ResetTimer()
}

// finish flushes, stops the timer, reports allocs/record and checks that
// every record arrived.
func (f *failures) finish(b *testing.B, c *fakebroker.Cluster, p *Producer, want int64) {
	b.Helper()
	if err := p.Flush(context.Background()); err != nil {
		b.Fatalf("Flush: %v", err)
	}
	b.StopTimer()
	before := f.mem.Mallocs
	runtime.ReadMemStats(&f.mem)
	b.ReportMetric(float64(f.mem.Mallocs-before)/float64(b.N), "allocs/record")
	// Requests per million records: fewer, fuller requests cost fewer
	// system calls on both sides (the race in bench/ counts other clients').
	b.ReportMetric(float64(c.ProduceRequests())*1e6/float64(b.N), "requests/Mrecord")
	if n := f.n.Load(); n > 0 {
		b.Fatalf("%d records failed, the first with: %v", n, *f.first.Load())
	}
	if got := c.ProduceCount(); got != want {
		b.Fatalf("the fake counted %d records, want %d", got, want)
	}
}

// benchKeyless produces b.N records of 100-byte values without a key, one
// after the other, through a producer that mod configures, and checks that
// every one arrived.
func benchKeyless(b *testing.B, mod ...func(*Config)) {
	c, p := benchProducer(b, mod...)
	var f failures
	cb := f.cb
	rec := Record{Topic: "bench", Value: make([]byte, 100)}
	ctx := context.Background()
	f.start(b)
	for i := 0; i < b.N; i++ {
		r := rec // Produce may keep the *Record only until it returns
		p.Produce(ctx, &r, cb)
	}
	f.finish(b, c, p, int64(b.N)+1)
}

func BenchmarkProduce(b *testing.B) {
	value := make([]byte, 100)
	b.Run("keyless", func(b *testing.B) { benchKeyless(b) })
	b.Run("keyed", func(b *testing.B) {
		c, p := benchProducer(b)
		keys := make([][]byte, 1024)
		for i := range keys {
			keys[i] = []byte(fmt.Sprintf("key-%06d", i))
		}
		var f failures
		cb := f.cb
		ctx := context.Background()
		f.start(b)
		for i := 0; i < b.N; i++ {
			r := Record{Topic: "bench", Key: keys[i%len(keys)], Value: value}
			p.Produce(ctx, &r, cb)
		}
		f.finish(b, c, p, int64(b.N)+1)
	})
	b.Run("parallel", func(b *testing.B) {
		c, p := benchProducer(b)
		var f failures
		cb := f.cb
		ctx := context.Background()
		f.start(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := Record{Topic: "bench", Value: value}
				p.Produce(ctx, &r, cb)
			}
		})
		f.finish(b, c, p, int64(b.N)+1)
	})
}

// BenchmarkProduceWide produces to 10,000 partitions, 100 topics of 100,
// from several goroutines, each record to the next partition in turn, as a
// service with a wide cluster and keyed records does. More partitions
// receive records than BufferMemory holds batches of BatchSize, so
// producers wait for memory and every batch is sent at once: each new
// batch wakes its sender, whose pass must not cost a visit to every
// partition its broker leads (it looked up and locked each of them, and
// this ran about ten times slower).
//
//	go test -run '^$' -bench ProduceWide -benchtime 200000x -count 3 .
func BenchmarkProduceWide(b *testing.B) {
	const topics, partitions = 100, 100
	names := make([]string, topics)
	spec := make(map[string]int32, topics)
	for i := range names {
		names[i] = fmt.Sprintf("wide-%03d", i)
		spec[names[i]] = partitions
	}
	c := startCluster(b, fakebroker.Options{Nodes: 3, Topics: spec})
	p := newProducer(b, c, func(cfg *Config) { cfg.Acks, cfg.DisableIdempotence = AcksLeader, true })
	for _, name := range names {
		if _, err := p.PartitionsFor(context.Background(), name); err != nil {
			b.Fatalf("metadata of %s: %v", name, err)
		}
	}
	value := make([]byte, 100)
	var next atomic.Uint64
	var f failures
	cb := f.cb
	ctx := context.Background()
	b.SetParallelism(2)
	f.start(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			r := Record{Topic: names[i%topics], Partition: int32(i / topics % partitions), ExplicitPartition: true, Value: value}
			p.Produce(ctx, &r, cb)
		}
	})
	f.finish(b, c, p, int64(b.N))
}

// BenchmarkIdempotence is the cost of idempotence per record: the same
// keyless acks=all workload with it off and on (the default). The fake
// checks sequence numbers as a broker does, so its own work grows too.
//
//	go test -run '^$' -bench Idempotence -benchtime 2000000x -count 6 .
func BenchmarkIdempotence(b *testing.B) {
	for _, idempotent := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotent=%v", idempotent), func(b *testing.B) {
			benchKeyless(b, func(cfg *Config) { cfg.Acks, cfg.DisableIdempotence = AcksAll, !idempotent })
		})
	}
}

// BenchmarkSendConcurrent1000 is the synchronous API under heavy fan-in:
// 1,000 goroutines each sending one record at a time and waiting for its
// acknowledgement. Throughput comes from batching across goroutines, so
// records/s is the figure that matters.
func BenchmarkSendConcurrent1000(b *testing.B) { benchSendConcurrent(b, 1000) }

// BenchmarkSendConcurrent5000 is the same with 5,000 goroutines: a record
// should cost no more than with 1,000.
func BenchmarkSendConcurrent5000(b *testing.B) { benchSendConcurrent(b, 5000) }

func benchSendConcurrent(b *testing.B, goroutines int) {
	c, p := benchProducer(b)
	value := make([]byte, 100)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for next.Add(1) <= int64(b.N) {
				if _, err := p.Send(context.Background(), &Record{Topic: "bench", Value: value}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	b.ReportAllocs()
	b.ResetTimer()
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d sends failed", n)
	}
	if got := c.ProduceCount(); got != int64(b.N)+1 {
		b.Fatalf("the fake counted %d records, want %d", got, b.N+1)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}

// BenchmarkHooks is the cost of hooks per record on the keyless workload:
// none registered (which must cost what the producer cost before hooks
// existed), a hook of every event but the records' (per batch, request and
// connection: amortized), and a hook of every event (two calls and one
// small allocation per record).
//
//	go test -run '^$' -bench Hooks -benchtime 2000000x -count 6 .
func BenchmarkHooks(b *testing.B) {
	for _, tc := range []struct {
		name  string
		hooks []Hook
	}{
		{"none", nil},
		{"batch-request-connection", []Hook{&countingEvents{}}},
		{"all", []Hook{&countingEvents{}, &countingRecords{}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchKeyless(b, func(cfg *Config) { cfg.Hooks = tc.hooks })
		})
	}
}

// countingEvents hears every event but the records', as a metrics hook
// does, and only counts.
type countingEvents struct{ n atomic.Int64 }

func (h *countingEvents) OnBatchWritten(BatchWritten)         { h.n.Add(1) }
func (h *countingEvents) OnRequestWritten(RequestWritten)     { h.n.Add(1) }
func (h *countingEvents) OnRequestAnswered(RequestAnswered)   { h.n.Add(1) }
func (h *countingEvents) OnConnectionOpened(ConnectionOpened) { h.n.Add(1) }
func (h *countingEvents) OnConnectionClosed(ConnectionClosed) { h.n.Add(1) }
func (h *countingEvents) OnBatchRetried(BatchRetried)         { h.n.Add(1) }
func (h *countingEvents) OnThrottled(Throttled)               { h.n.Add(1) }
func (h *countingEvents) OnProducerID(ProducerID)             { h.n.Add(1) }
func (h *countingEvents) OnSequenceRestart(SequenceRestart)   { h.n.Add(1) }
func (h *countingEvents) OnNewProducer(*Producer)             { h.n.Add(1) }

// countingRecords hears the record events and only counts.
type countingRecords struct{ n atomic.Int64 }

func (h *countingRecords) OnRecordBuffered(ctx context.Context, _ Record) context.Context {
	h.n.Add(1)
	return ctx
}
func (h *countingRecords) OnRecordAcknowledged(context.Context, RecordAcknowledged) { h.n.Add(1) }
func (h *countingRecords) OnRecordRefused(context.Context, Record, error)           { h.n.Add(1) }
