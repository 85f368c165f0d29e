package bufferpool

import (
	"context"
	"testing"
)

// The uncontended poolable path is the steady state of a producer: one
// batch-size buffer out, one back. It must not allocate, or the pool would
// defeat its own purpose.
func TestPoolableRoundTripDoesNotAllocate(t *testing.T) {
	p, _ := newTestPool(1<<20, 16<<10)
	ctx := context.Background()
	p.Deallocate(mustAllocate(t, p, 16<<10)) // warm the free list
	allocs := testing.AllocsPerRun(1000, func() {
		buf, err := p.Allocate(ctx, 16<<10, forever)
		if err != nil {
			t.Fatal(err)
		}
		p.Deallocate(buf)
	})
	equal(t, allocs, 0, "allocations per Allocate+Deallocate")
}

func BenchmarkAllocateDeallocate(b *testing.B) {
	p, _ := newTestPool(32<<20, 16<<10)
	ctx := context.Background()
	buf, _ := p.Allocate(ctx, 16<<10, forever)
	p.Deallocate(buf)
	b.ReportAllocs()
	for b.Loop() {
		buf, err := p.Allocate(ctx, 16<<10, forever)
		if err != nil {
			b.Fatal(err)
		}
		p.Deallocate(buf)
	}
}

func BenchmarkAllocateDeallocateParallel(b *testing.B) {
	p, _ := newTestPool(32<<20, 16<<10)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			buf, err := p.Allocate(ctx, 16<<10, forever)
			if err != nil {
				b.Fatal(err)
			}
			p.Deallocate(buf)
		}
	})
}
