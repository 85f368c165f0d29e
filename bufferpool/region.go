package bufferpool

import "os"

// region holds the pool's poolable buffers in one mapping outside the Go
// heap, on platforms where the pool can map one (see mapRegion).
//
// Why outside the heap: the buffers are the producer's largest memory, they
// live as long as the producer and they hold no pointers. On the heap the
// garbage collector counts them as live, and by default it lets the heap
// grow to twice what is live before collecting, so a full BufferMemory of
// 32 MiB would make room for as much garbage again. Outside the heap they
// cost their own bytes, once, and the pages of a slot never used are never
// touched. Measured on a broker slower than the producer, so that the
// buffer stays full (5,000,000 records, BufferMemory 32 MiB), the peak RSS
// went from 99 MiB to 79 MiB at the same CPU.
//
// The price: the collector paces itself by the heap, which no longer holds
// the buffers, so a program whose garbage is large against its live heap
// collects more often than when the buffers weighed in (they acted as
// ballast). BenchmarkProduce, whose fake broker allocates in the same
// process, ran 107 collections instead of 31 and used about 11% more CPU;
// a producer in a process of its own, 12-14 instead of 8-10, at a CPU
// cost within a few percent (0.98x and about 1.06x in two sets of paired
// runs). GOGC and GOMEMLIMIT set that balance for the whole program, as for
// any Go heap.
//
// Recycling already gives the buffers the pool's lifetime rule: a buffer is
// the pool's again once Deallocate returns it, and nobody reads it after.
// The mapping goes away only when the pool is closed and every buffer has
// come back (Pool.unmapIfIdleLocked), so a batch completing after Close
// still owns its bytes.
type region struct {
	mem   []byte        // slots of size bytes, side by side
	size  int           // a slot's size: the pool's poolable size
	next  int           // slots carved so far, from the front of mem
	spare []int         // carved slots the free list gave up, pages released
	index map[*byte]int // a slot's first byte to its number, for spare
}

// newRegion maps room for slots buffers of size bytes, or returns nil when
// the platform cannot (the pool then allocates on the heap). Mapping costs
// address space only: a page is backed by memory once written.
func newRegion(slots, size int) *region {
	if slots <= 0 || size <= 0 {
		return nil
	}
	mem, err := mapRegion(slots * size)
	if err != nil {
		return nil
	}
	return &region{mem: mem, size: size, index: make(map[*byte]int)}
}

// carve hands out a slot that is not in use: one given up earlier, or the
// next one never used. The pool's accounting keeps the poolable buffers
// handed out or free-listed within total/size, which is the number of
// slots, so a slot is always there.
func (r *region) carve() []byte {
	if n := len(r.spare); n > 0 {
		i := r.spare[n-1]
		r.spare = r.spare[:n-1]
		return r.slot(i)
	}
	if (r.next+1)*r.size > len(r.mem) {
		panic("bufferpool: every slot of the region is in use: the accounting is broken")
	}
	buf := r.slot(r.next)
	r.index[&buf[:1][0]] = r.next
	r.next++
	return buf
}

// slot is slot i, empty, with its size as capacity.
func (r *region) slot(i int) []byte { return r.mem[i*r.size : i*r.size : (i+1)*r.size] }

// drop takes back a free-listed slot that the pool gives up to serve
// another size, and returns the whole pages inside it to the system, as
// the garbage collector would free a heap buffer.
func (r *region) drop(buf []byte) {
	i := r.index[&buf[:1][0]]
	r.spare = append(r.spare, i)
	page := os.Getpagesize()
	start := (i*r.size + page - 1) / page * page
	end := (i + 1) * r.size / page * page
	if start < end {
		releasePages(r.mem[start:end])
	}
}

// idle reports whether every slot carved is back: on the free list (free
// of them) or given up.
func (r *region) idle(free int) bool { return r.next == free+len(r.spare) }

func (r *region) unmap() { unmapRegion(r.mem) }
