package bounded

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestReceiveReturnsWhatComes(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Receive(t, ch, time.Second, "a value"); got != 7 {
		t.Fatalf("Receive = %d, want 7", got)
	}
	done := make(chan struct{})
	close(done)
	Receive(t, done, time.Second, "a closed channel")
}

// recorder is a testing.TB that keeps what Fatalf says, and then ends the
// call under test, as testing.T's Fatalf ends its goroutine.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	panic(r)
}

func TestReceiveFailsWithWhatWasAwaited(t *testing.T) {
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != r {
				t.Fatalf("Receive returned without failing (%v)", p)
			}
		}()
		Receive(r, make(chan int), time.Millisecond, "the answer")
	}()
	if want := "the answer (waited 1ms)"; r.failed != want {
		t.Fatalf("Receive failed with %q, want %q", r.failed, want)
	}
}

func TestWaitedOnTellsOnlyOnceDoneIsCalled(t *testing.T) {
	ctx := NewWaitedOn(context.Background())
	select {
	case <-ctx.Asked():
		t.Fatal("Asked closed before Done was called")
	default:
	}
	if ctx.Done() != nil {
		t.Fatal("Done of a context.Background is not nil")
	}
	Receive(t, ctx.Asked(), time.Second, "Asked not closed after Done")
	ctx.Done() // a second call must not close Asked again
}
