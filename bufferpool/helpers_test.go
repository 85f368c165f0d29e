package bufferpool

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
)

// The tests use the standard library only: testify's assert package needs
// a go.sum entry (its yaml dependency) that the module does not carry.

// bound is how long a test waits, in real time, for another goroutine to
// reach a state before it fails. Nothing sleeps: the waits poll or select.
const bound = 5 * time.Second

// forever is a maxWait that a fake clock never reaches unless told to.
const forever = time.Hour

func newTestPool(total, poolable int) (*Pool, *clock.Fake) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	return New(total, poolable, clk), clk
}

// waitFor polls cond, yielding between checks, and fails the test if it is
// still false after bound.
func waitFor(t *testing.T, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", bound, fmt.Sprintf(what, args...))
		}
		runtime.Gosched()
	}
}

func waitWaiters(t *testing.T, p *Pool, n int) {
	t.Helper()
	waitFor(t, func() bool { return p.Waiters() == n }, "%d waiters (have %d)", n, p.Waiters())
}

func waitAvailable(t *testing.T, p *Pool, n int) {
	t.Helper()
	waitFor(t, func() bool { return p.Available() == n }, "%d bytes available (have %d)", n, p.Available())
}

type result struct {
	buf []byte
	err error
}

// goAllocate runs Allocate on its own goroutine; the result arrives on the
// returned channel.
func goAllocate(p *Pool, ctx context.Context, size int, maxWait time.Duration) <-chan result {
	ch := make(chan result, 1)
	go func() {
		buf, err := p.Allocate(ctx, size, maxWait)
		ch <- result{buf, err}
	}()
	return ch
}

func goReserve(p *Pool, ctx context.Context, size int, maxWait time.Duration) <-chan result {
	ch := make(chan result, 1)
	go func() { ch <- result{err: p.Reserve(ctx, size, maxWait)} }()
	return ch
}

func await(t *testing.T, ch <-chan result, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(bound):
		t.Fatalf("%s did not return within %v", what, bound)
		return result{}
	}
}

func awaitOK(t *testing.T, ch <-chan result, what string) []byte {
	t.Helper()
	r := await(t, ch, what)
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r.buf
}

// pending fails if ch already delivered. Callers first check (Waiters or
// Available) that the goroutine is parked in the queue, so a delivery here
// is a real early return, not a race with a slow goroutine.
func pending(t *testing.T, ch <-chan result, what string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s returned early: len %d cap %d err %v", what, len(r.buf), cap(r.buf), r.err)
	default:
	}
}

func mustReserve(t *testing.T, p *Pool, size int) {
	t.Helper()
	if err := p.Reserve(context.Background(), size, 0); err != nil {
		t.Fatalf("Reserve(%d): %v", size, err)
	}
}

func mustAllocate(t *testing.T, p *Pool, size int) []byte {
	t.Helper()
	buf, err := p.Allocate(context.Background(), size, 0)
	if err != nil {
		t.Fatalf("Allocate(%d): %v", size, err)
	}
	if len(buf) != 0 || cap(buf) != size {
		t.Fatalf("Allocate(%d) returned len %d cap %d, want len 0 cap %d", size, len(buf), cap(buf), size)
	}
	return buf
}

func equal[T comparable](t *testing.T, got, want T, what string, args ...any) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", fmt.Sprintf(what, args...), got, want)
	}
}

// signalsOf returns how many wake-ups each queued waiter has been sent, in
// queue order.
func signalsOf(p *Pool) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int, len(p.waiters))
	for i, w := range p.waiters {
		out[i] = w.signals
	}
	return out
}
