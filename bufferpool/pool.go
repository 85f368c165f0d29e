package bufferpool

import (
	"context"
	"slices"
	"sync"

	"github.com/gokafka/producer/internal/clock"
)

// Pool hands out byte slices while keeping the bytes outstanding under a
// fixed total. It is safe for concurrent use.
type Pool struct {
	clk      clock.Clock
	total    int
	poolable int

	mu sync.Mutex
	// free holds returned buffers of exactly the poolable size, len 0, ready
	// to be handed out again. It is a stack so that the most recently used,
	// cache-warm buffer is reused first.
	free [][]byte
	// region, when not nil, is where poolable buffers come from (see
	// region.go); nil keeps them on the heap.
	region *region
	// nonPooled counts bytes that are neither handed out nor on the free
	// list. Available memory is nonPooled + len(free)*poolable.
	nonPooled int
	// waiters is the FIFO queue of blocked callers; only waiters[0] takes
	// memory, which is what makes the pool first-come-first-served.
	waiters []*waiter
	closed  bool
	// stopped, while set (StopWaits), is what a caller that would wait gets
	// instead. The callers already waiting each hold their own copy
	// (waiter.stopped), which ResumeWaits does not clear.
	stopped error

	onWait func() // see OnWait
}

// OnWait sets f, called (without the pool's lock) whenever a caller starts
// to wait for memory. Memory comes back only once batches are sent, and a
// caller waiting makes the lingering ones ready: the producer wakes its
// senders, which would otherwise sleep until their Linger passes. Set it
// before the pool is used.
func (p *Pool) OnWait(f func()) { p.onWait = f }

// onWaitKey is the key under which WithOnWait keeps its function.
type onWaitKey struct{}

// WithOnWait returns a copy of ctx under which an Allocate or Reserve calls
// f, without the pool's lock, once it starts to wait for memory, as it
// calls OnWait's function: for a caller that others must not wait for
// while its memory is short, where OnWait hears of every caller. The
// function rides on the context as net/http/httptrace's hooks ride on a
// request's, through the layers between the caller and the pool.
func WithOnWait(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, onWaitKey{}, f)
}

// tellWait tells OnWait's function, and the one WithOnWait put in ctx, if
// any, that a caller starts to wait. Looked up only then, the context's
// function costs a caller served at once nothing.
func (p *Pool) tellWait(ctx context.Context) {
	if p.onWait != nil {
		p.onWait()
	}
	if f, ok := ctx.Value(onWaitKey{}).(func()); ok {
		f()
	}
}

// waiter is one blocked Allocate or Reserve.
type waiter struct {
	// wake has capacity 1 so that a signal is never lost while the waiter
	// is between checks and never blocks the goroutine returning memory.
	wake chan struct{}
	// signals counts the wake-ups sent to this waiter; tests read it to
	// prove that a release wakes the head alone.
	signals int
	// stopped is the error of a StopWaits called while this waiter was
	// queued. It is handed over under the lock, so the wait ends with it
	// even if ResumeWaits clears the pool's before the waiter runs again.
	stopped error
}

// maxFreeListHint caps the free list's initial capacity: a tiny poolable
// size with a large total must not make New allocate a huge index.
const maxFreeListHint = 1024

// New returns a pool of totalMemory bytes that recycles buffers of
// poolableSize bytes (the producer's batch size). The producer validates
// both; here a negative total counts as zero and a poolableSize <= 0
// disables the free list. A nil clk means the real clock.
func New(totalMemory, poolableSize int, clk clock.Clock) *Pool {
	if clk == nil {
		clk = clock.Real{}
	}
	totalMemory = max(totalMemory, 0)
	hint := 0
	if poolableSize > 0 {
		hint = min(totalMemory/poolableSize, maxFreeListHint)
	}
	p := &Pool{
		clk:       clk,
		total:     totalMemory,
		poolable:  poolableSize,
		free:      make([][]byte, 0, hint),
		nonPooled: totalMemory,
	}
	if poolableSize > 0 {
		p.region = newRegion(totalMemory/poolableSize, poolableSize)
	}
	return p
}

// Deallocate returns buf's capacity to the pool. A poolable-size buffer
// goes on the free list as buf[:0]; any other size is dropped for the
// garbage collector and only its byte count returns. buf must be a slice
// from Allocate (or a reslice with the same capacity): a slice that append
// has grown into a new array no longer matches what was counted.
func (p *Pool) Deallocate(buf []byte) {
	size := cap(buf)
	if size == 0 {
		return
	}
	p.mu.Lock()
	if size == p.poolable {
		p.free = append(p.free, buf[:0])
	} else {
		p.nonPooled += size
	}
	if p.closed {
		p.unmapIfIdleLocked()
	}
	p.signalHeadLocked()
	p.mu.Unlock()
}

// Release returns size bytes taken by Reserve.
func (p *Pool) Release(size int) {
	if size <= 0 {
		return
	}
	p.mu.Lock()
	p.nonPooled += size
	p.signalHeadLocked()
	p.mu.Unlock()
}

// Available reports the bytes that could be handed out now: unallocated
// bytes plus free-listed buffers.
func (p *Pool) Available() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.availableLocked()
}

// Waiters reports how many callers are blocked waiting for memory. The
// accumulator treats a positive count as "memory exhausted" and makes its
// batches ready at once, since only sending them frees memory.
func (p *Pool) Waiters() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// Close fails every blocked caller and every later Allocate or Reserve with
// ErrClosed. Deallocate and Release keep working, so batches completing
// after Close still return their memory; the last buffer to come back
// unmaps the region.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, w := range p.waiters {
		w.signal()
	}
	p.unmapIfIdleLocked()
}

// StopWaits makes every caller waiting for memory, now or until
// ResumeWaits, return err rather than wait: what they would wait for is no
// longer wanted (the producer's transaction is being aborted, and the
// records of its Produce calls still under way fail). A caller waiting now
// returns err even if ResumeWaits comes before it runs again. Memory on
// hand is handed out as before.
func (p *Pool) StopWaits(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = err
	for _, w := range p.waiters {
		w.stopped = err
		w.signal()
	}
}

// ResumeWaits undoes StopWaits for later callers: they wait for memory
// again. The waits StopWaits ended stay ended.
func (p *Pool) ResumeWaits() {
	p.mu.Lock()
	p.stopped = nil
	p.mu.Unlock()
}

// unmapIfIdleLocked unmaps the region once the pool is closed and every
// buffer carved from it is back: nothing can read or write them any more.
// The free list goes with it, and its bytes count as unpooled.
func (p *Pool) unmapIfIdleLocked() {
	if p.region == nil || !p.region.idle(len(p.free)) {
		return
	}
	p.nonPooled += len(p.free) * p.poolable
	p.free = nil
	p.region.unmap()
	p.region = nil
}

// newPoolable carves a poolable buffer out of the region, or allocates
// one on the heap when there is no region.
func (p *Pool) newPoolable() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.region == nil {
		return make([]byte, 0, p.poolable)
	}
	return p.region.carve()
}

func (p *Pool) availableLocked() int { return p.nonPooled + len(p.free)*p.poolable }

// popFreeLocked takes the most recently returned poolable buffer.
func (p *Pool) popFreeLocked() []byte {
	last := len(p.free) - 1
	buf := p.free[last]
	p.free[last] = nil
	p.free = p.free[:last]
	return buf
}

// freeUpLocked drops free-listed buffers until nonPooled covers size (or
// the list is empty), so that memory parked as poolable buffers can serve a
// request of another size.
func (p *Pool) freeUpLocked(size int) {
	for len(p.free) > 0 && p.nonPooled < size {
		buf := p.popFreeLocked()
		if p.region != nil {
			p.region.drop(buf)
		}
		p.nonPooled += p.poolable
	}
}

// signalHeadLocked wakes the head waiter, and only it: the others could
// not take memory anyway, and waking them all would have each re-check and
// go back to sleep on every release (the thundering herd).
func (p *Pool) signalHeadLocked() {
	if len(p.waiters) > 0 {
		p.waiters[0].signal()
	}
}

// signalHeadIfAvailableLocked passes the turn on when the head leaves the
// queue while memory remains that the new head may use.
func (p *Pool) signalHeadIfAvailableLocked() {
	if p.availableLocked() > 0 {
		p.signalHeadLocked()
	}
}

func (p *Pool) removeWaiterLocked(w *waiter) {
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
	}
}

func (w *waiter) signal() {
	w.signals++
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending; one is enough
	}
}
