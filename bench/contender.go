package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
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

// Contender produces records through one client. Produce must call done
// exactly once per record, when it is acknowledged or has failed.
type Contender interface {
	Name() string
	Produce(ctx context.Context, value []byte, done func(error))
	Flush(ctx context.Context) error
	Close()
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

func (r Result) String() string {
	return fmt.Sprintf("%-10s %9d records %6d failed %8.0f records/s", r.Name, r.Records, r.Failed, r.RecordsPerSec())
}

// Warm produces one record and waits for it, so that connections and
// metadata exist before the clock starts: a race measures steady state, not
// bootstrap.
func Warm(ctx context.Context, c Contender) error {
	errc := make(chan error, 1)
	c.Produce(ctx, []byte("warm-up"), func(err error) { errc <- err })
	if err := c.Flush(ctx); err != nil {
		return fmt.Errorf("%s: warm-up flush: %w", c.Name(), err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("%s: warm-up record: %w", c.Name(), err)
	}
	return nil
}

// Run drives c through w and reports what happened. Call Warm first.
func Run(ctx context.Context, c Contender, w Workload) (Result, error) {
	value := make([]byte, w.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var failed atomic.Int64
	var acked sync.WaitGroup
	acked.Add(w.Records)
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		acked.Done()
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
			for i := 0; i < n; i++ {
				c.Produce(ctx, value, done)
			}
		}()
	}
	wg.Wait()
	if err := c.Flush(ctx); err != nil {
		return Result{}, fmt.Errorf("%s: flush: %w", c.Name(), err)
	}
	acked.Wait()
	return Result{Name: c.Name(), Records: w.Records, Failed: failed.Load(), Elapsed: time.Since(start)}, nil
}
