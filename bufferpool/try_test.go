package bufferpool

import (
	"context"
	"testing"
)

// TryAllocate takes memory that is free at once, pooled buffers first, as
// Allocate does, and otherwise returns at once without waiting, queuing or
// arming a timer.
func TestTryAllocateTakesOnlyMemoryFreeAtOnce(t *testing.T) {
	p, clk := newTestPool(100, 10)
	buf, ok := p.TryAllocate(10)
	if !ok || cap(buf) != 10 || len(buf) != 0 {
		t.Fatalf("TryAllocate(10) on an empty pool: ok %v, cap %d, len %d", ok, cap(buf), len(buf))
	}
	p.Deallocate(buf)
	again, ok := p.TryAllocate(10)
	if !ok || &again[:1][0] != &buf[:1][0] {
		t.Fatalf("TryAllocate(10) did not reuse the free-listed buffer (ok %v)", ok)
	}
	large, ok := p.TryAllocate(30)
	equal(t, ok, true, "a size other than the poolable one, free")
	equal(t, cap(large), 30, "its capacity")

	mustReserve(t, p, 55) // 5 bytes left
	for _, size := range []int{10, 6, 101, -1} {
		if buf, ok := p.TryAllocate(size); ok || buf != nil {
			t.Errorf("TryAllocate(%d) with 5 bytes free: ok %v, buf of cap %d", size, ok, cap(buf))
		}
	}
	equal(t, p.Waiters(), 0, "waiters")
	equal(t, clk.Timers(), 0, "timers")
	equal(t, p.Available(), 5, "available")
	p.Deallocate(again)
	p.Deallocate(large)
	p.Release(55)
	equal(t, p.Available(), 100, "available at the end")
}

// TryAllocate does not take memory past a caller queued for it, as
// Allocate does not, nor from a closed pool.
func TestTryAllocateDoesNotOvertakeTheQueue(t *testing.T) {
	p, _ := newTestPool(100, 10)
	mustReserve(t, p, 100)
	head := goAllocate(p, context.Background(), 100, forever)
	waitWaiters(t, p, 1)

	p.mu.Lock()
	p.nonPooled += 50 // a release whose wake-up the head has not acted on yet
	p.mu.Unlock()
	if _, ok := p.TryAllocate(10); ok {
		t.Fatal("TryAllocate took memory past a queued waiter")
	}
	equal(t, p.Available(), 50, "bytes left for the head")

	p.Release(50)
	p.Deallocate(awaitOK(t, head, "head waiter"))
	p.Close()
	if _, ok := p.TryAllocate(10); ok {
		t.Fatal("TryAllocate took memory from a closed pool")
	}
}
