package bufferpool

import (
	"context"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Many goroutines allocate, reserve and return memory of mixed sizes, with
// more demand than memory so that most of them queue. Run with -race. The
// invariants: a buffer is never handed to two goroutines at once, the bytes
// held never exceed the total, nobody is left waiting, and every byte comes
// back.
func TestConcurrentStress(t *testing.T) {
	const (
		total      = 64 << 10
		poolable   = 1 << 10
		goroutines = 16
		rounds     = 2000
	)
	p, _ := newTestPool(total, poolable)
	ctx := context.Background()
	var (
		held atomic.Int64
		wg   sync.WaitGroup
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			mark := byte(g + 1)
			for i := 0; i < rounds; i++ {
				size := poolable
				if r.IntN(2) == 0 {
					size = 1 + r.IntN(8*poolable)
				}
				reserveOnly := r.IntN(4) == 0
				var buf []byte
				var err error
				if reserveOnly {
					err = p.Reserve(ctx, size, forever)
				} else {
					buf, err = p.Allocate(ctx, size, forever)
				}
				if err != nil {
					t.Errorf("goroutine %d round %d: %v", g, i, err)
					return
				}
				if n := held.Add(int64(size)); n > total {
					t.Errorf("%d bytes held, more than the %d in the pool", n, total)
				}
				if !reserveOnly {
					if len(buf) != 0 || cap(buf) != size {
						t.Errorf("got len %d cap %d, want len 0 cap %d", len(buf), cap(buf), size)
						return
					}
					buf = buf[:size]
					for j := range buf {
						buf[j] = mark
					}
					runtime.Gosched()
					for j := range buf {
						if buf[j] != mark {
							t.Errorf("buffer shared: byte %d is %d, wrote %d", j, buf[j], mark)
							return
						}
					}
				}
				held.Add(-int64(size))
				if reserveOnly {
					p.Release(size)
				} else {
					p.Deallocate(buf)
				}
			}
		}()
	}
	wg.Wait()
	equal(t, p.Waiters(), 0, "waiters at the end")
	equal(t, p.Available(), total, "available at the end")
}
