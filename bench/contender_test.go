package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// dropsSecond is a client that never acknowledges its second record.
type dropsSecond struct{ produced int }

func (d *dropsSecond) Callback(done func(error)) any { return done }

func (d *dropsSecond) Produce(_, _ []byte, cb any) {
	d.produced++
	if d.produced != 2 {
		cb.(func(error))(nil)
	}
}

func (d *dropsSecond) Flush(context.Context) error { return nil }
func (d *dropsSecond) Close() error                { return nil }

// TestRunEndsWithItsContextWhenACallbackIsLost: a contender that loses a
// callback must fail its run when the run's context ends, naming how far
// it got, rather than hold the benchmark until go test's own timeout.
func TestRunEndsWithItsContextWhenACallbackIsLost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	w := Workload{Topic: "t", Records: 3, ValueSize: 1, Goroutines: 1}
	errc := make(chan error, 1)
	go func() {
		_, err := Run(ctx, "drops-second", &dropsSecond{}, w)
		errc <- err
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Run with a record never acknowledged: %v, want its context's deadline", err)
		}
		t.Log(err)
	case <-time.After(time.Minute):
		t.Fatal("Run still waiting a minute after its context ended")
	}
}
