package bufferpool

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestPoolableBuffersAreReused(t *testing.T) {
	p, _ := newTestPool(1024, 128)
	buf := mustAllocate(t, p, 128)
	equal(t, p.Available(), 1024-128, "available after allocating")
	buf = append(buf, "batch bytes"...)
	first := &buf[0]
	p.Deallocate(buf)
	equal(t, p.Available(), 1024, "available after deallocating")
	equal(t, len(p.free), 1, "free list length")

	again := mustAllocate(t, p, 128)
	if &again[:1][0] != first {
		t.Errorf("a poolable buffer was not reused from the free list")
	}
	equal(t, len(p.free), 0, "free list length after reuse")
	equal(t, p.Available(), 1024-128, "available after reuse")
}

func TestOtherSizesAreExactAndNotPooled(t *testing.T) {
	p, _ := newTestPool(1024, 128)
	big := mustAllocate(t, p, 300)
	small := mustAllocate(t, p, 7)
	equal(t, p.Available(), 1024-307, "available")
	p.Deallocate(big)
	p.Deallocate(small)
	equal(t, p.Available(), 1024, "available after deallocating")
	equal(t, len(p.free), 0, "free list keeps only poolable sizes")
}

// Memory parked on the free list must serve other sizes too: the buffers are
// dropped for the garbage collector and their bytes reused.
func TestFreeListGivesWayToOtherSizes(t *testing.T) {
	p, _ := newTestPool(256, 128)
	a, b := mustAllocate(t, p, 128), mustAllocate(t, p, 128)
	p.Deallocate(a)
	p.Deallocate(b)
	equal(t, p.nonPooled, 0, "unpooled bytes with two buffers free-listed")

	c := mustAllocate(t, p, 200)
	equal(t, len(p.free), 0, "free-listed buffers dropped to make room")
	equal(t, p.Available(), 56, "available")
	p.Deallocate(c)

	// Only as many buffers as needed are dropped.
	d := mustAllocate(t, p, 128)
	p.Deallocate(d)
	e := mustAllocate(t, p, 100)
	equal(t, len(p.free), 1, "the buffer kept: 128 unpooled bytes sufficed")
	equal(t, p.Available(), 156, "available")
	p.Deallocate(e)
	equal(t, p.Available(), 256, "available at the end")
}

func TestRequestLargerThanTotalFailsAtOnce(t *testing.T) {
	p, _ := newTestPool(1024, 128)
	_, err := p.Allocate(context.Background(), 1025, forever)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Allocate(1025) error %v, want ErrTooLarge", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1025") || !strings.Contains(msg, "1024") {
		t.Errorf("error %q should name both sizes", msg)
	}
	if err := p.Reserve(context.Background(), 2048, forever); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Reserve(2048) error %v, want ErrTooLarge", err)
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, p.Available(), 1024, "available")
}

func TestInvalidAndZeroSizes(t *testing.T) {
	p, _ := newTestPool(1024, 128)
	if _, err := p.Allocate(context.Background(), -1, 0); err == nil {
		t.Errorf("Allocate(-1) succeeded")
	}
	if err := p.Reserve(context.Background(), -1, 0); err == nil {
		t.Errorf("Reserve(-1) succeeded")
	}
	buf := mustAllocate(t, p, 0)
	p.Deallocate(buf)
	if err := p.Reserve(context.Background(), 0, 0); err != nil {
		t.Errorf("Reserve(0): %v", err)
	}
	p.Release(0)
	p.Release(-5)
	equal(t, p.Available(), 1024, "available")
}

func TestReserveAndRelease(t *testing.T) {
	p, _ := newTestPool(1024, 128)
	mustReserve(t, p, 1000)
	equal(t, p.Available(), 24, "available after reserving")
	_, err := p.Allocate(context.Background(), 128, 0)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Allocate with no wait on a full pool: %v, want ErrTimeout", err)
	}
	p.Release(1000)
	equal(t, p.Available(), 1024, "available after releasing")
}

func TestNewNormalisesArguments(t *testing.T) {
	p := New(-5, 0, nil)
	equal(t, p.Available(), 0, "negative total counts as zero")
	if p.clk == nil {
		t.Errorf("a nil clock must default to the real one")
	}
	q := New(100, 0, nil)
	buf := mustAllocate(t, q, 0)
	q.Deallocate(buf)
	b := mustAllocate(t, q, 10)
	q.Deallocate(b)
	equal(t, len(q.free), 0, "poolable size 0 disables the free list")
	equal(t, q.Available(), 100, "available")
}

// A request for 0 bytes needs no memory: it neither queues behind a waiter
// nor fails for want of time to wait, so an empty record is never held up.
func TestAZeroSizeRequestDoesNotQueueBehindAWaiter(t *testing.T) {
	p, _ := newTestPool(100, 10)
	mustReserve(t, p, 95)
	ch := goAllocate(p, context.Background(), 50, forever)
	waitWaiters(t, p, 1)
	if _, err := p.Allocate(context.Background(), 0, 0); err != nil {
		t.Errorf("Allocate(0) behind a waiter: %v", err)
	}
	if err := p.Reserve(context.Background(), 0, 0); err != nil {
		t.Errorf("Reserve(0) behind a waiter: %v", err)
	}
	p.Release(95)
	awaitOK(t, ch, "waiter")
}
