package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/bench/driver"
)

// Workload is what every contender is asked to do.
type Workload struct {
	Topic      string
	Records    int // total records
	ValueSize  int // bytes per value; keys are absent
	Goroutines int // producing goroutines
	Acks       string
	Idempotent bool // both clients write idempotently (needs Acks "all")
}

// settings opens a contender for w: our producer's defaults (linger,
// batch size, buffer, no compression) for both clients, the workload's
// acks and idempotence.
func (w Workload) settings(brokers []string) driver.Settings {
	return driver.Settings{
		Brokers:      brokers,
		Topic:        w.Topic,
		Records:      w.Records,
		ValueSize:    w.ValueSize,
		Compression:  "none",
		Acks:         w.Acks,
		Linger:       producer.DefaultLinger,
		BatchSize:    producer.DefaultBatchSize,
		BufferMemory: producer.DefaultBufferMemory,
		Idempotent:   w.Idempotent,
	}
}

// Result is one run's outcome.
type Result struct {
	Name    string
	Records int
	Failed  int64
	Elapsed time.Duration
}

// RecordsPerSec is the run's throughput.
func (r Result) RecordsPerSec() float64 { return float64(r.Records) / r.Elapsed.Seconds() }

// Run drives c, the contender called name, through w from w.Goroutines
// goroutines at once, and reports what happened. Call driver.Warm first.
func Run(ctx context.Context, name string, c driver.Client, w Workload) (Result, error) {
	value := make([]byte, w.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var failed, acked atomic.Int64
	// all closes with the last acknowledgement, so that the wait for it
	// can end with ctx: a lost callback fails the run, not the test binary.
	all := make(chan struct{})
	if w.Records == 0 {
		close(all)
	}
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		if acked.Add(1) == int64(w.Records) {
			close(all)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	per := w.Records / w.Goroutines
	for g := 0; g < w.Goroutines; g++ {
		n := per
		if g == w.Goroutines-1 {
			n = w.Records - per*(w.Goroutines-1)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cb := c.Callback(done)
			for i := 0; i < n; i++ {
				c.Produce(nil, value, cb)
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(ctx); err != nil {
		return Result{}, fmt.Errorf("%s: flush: %w", name, err)
	}
	select {
	case <-all:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%s: %d of %d records acknowledged: %w", name, acked.Load(), w.Records, ctx.Err())
	}
	return Result{Name: name, Records: w.Records, Failed: failed.Load(), Elapsed: time.Since(start)}, nil
}
