package bufferpool

import (
	"context"
	"fmt"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/ctxerr"
)

// Allocate returns a slice with len 0 and cap size, counting size against
// the pool's total. A poolable-size request reuses a free-listed buffer when
// there is one; any other buffer is allocated after the accounting, outside
// the pool's lock. When memory is short the caller queues behind earlier
// callers and waits up to maxWait (not at all if maxWait <= 0) or until ctx
// is done or StopWaits is called; the error then wraps ErrTimeout or ctx's
// error, or is StopWaits' own, and whatever memory the caller had collected
// goes back to the pool. A ctx already done allows no wait, but takes
// memory that is free at once: a caller that must never block passes one.
func (p *Pool) Allocate(ctx context.Context, size int, maxWait time.Duration) ([]byte, error) {
	return p.allocate(ctx, size, wait{max: maxWait})
}

// AllocateUntil is Allocate for a caller whose wait ends at deadline, a
// time of the pool's clock, rather than maxWait from the call: the time
// until deadline, read by the caller and then counted again from the
// queuing, would wait out twice whatever passed in between.
func (p *Pool) AllocateUntil(ctx context.Context, size int, deadline time.Time) ([]byte, error) {
	return p.allocate(ctx, size, wait{until: deadline})
}

func (p *Pool) allocate(ctx context.Context, size int, bound wait) ([]byte, error) {
	if err := p.check(size); err != nil {
		return nil, err
	}
	if size == 0 {
		return make([]byte, 0), nil
	}
	buf, err := p.acquire(ctx, size, bound, true)
	if err != nil {
		return nil, err
	}
	if buf != nil {
		return buf, nil
	}
	if size == p.poolable {
		return p.newPoolable(), nil
	}
	return make([]byte, 0, size), nil
}

// Reserve counts size bytes against the pool's total without handing out a
// buffer, waiting exactly as Allocate does. The producer uses it for
// records it holds while their topic's metadata is unknown, so that they
// too stay under BufferMemory. Undo it with Release.
func (p *Pool) Reserve(ctx context.Context, size int, maxWait time.Duration) error {
	return p.reserve(ctx, size, wait{max: maxWait})
}

// ReserveUntil is Reserve with a deadline, as AllocateUntil is Allocate.
func (p *Pool) ReserveUntil(ctx context.Context, size int, deadline time.Time) error {
	return p.reserve(ctx, size, wait{until: deadline})
}

func (p *Pool) reserve(ctx context.Context, size int, bound wait) error {
	if err := p.check(size); err != nil || size == 0 {
		return err
	}
	_, err := p.acquire(ctx, size, bound, false)
	return err
}

// wait bounds a caller's wait for memory: max from when it starts to wait,
// or, when until is set, until then on the pool's clock.
type wait struct {
	max   time.Duration
	until time.Time
}

// resolve gives both forms of the bound, for a caller that must wait: the
// deadline its timer is armed at and the longest wait its error reports.
// It reads the clock only then, and not for a caller that may not wait.
func (w wait) resolve(clk clock.Clock) wait {
	switch {
	case !w.until.IsZero():
		w.max = max(w.until.Sub(clk.Now()), 0)
	case w.max > 0:
		w.until = clk.Now().Add(w.max)
	}
	return w
}

// check rejects at once what waiting could never fix.
func (p *Pool) check(size int) error {
	if size < 0 {
		return fmt.Errorf("bufferpool: negative size %d", size)
	}
	if size > p.total {
		return fmt.Errorf("%w: %d bytes requested, total memory is %d bytes", ErrTooLarge, size, p.total)
	}
	return nil
}

// acquire does the accounting for size bytes, blocking if it must. It
// returns a free-listed buffer when wantBuffer is set and one was taken,
// nil when the caller is to allocate (or, for Reserve, needs nothing).
func (p *Pool) acquire(ctx context.Context, size int, bound wait, wantBuffer bool) ([]byte, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	// Only an empty queue lets a newcomer through without queuing: taking
	// memory past queued callers would let small requests starve a large
	// one indefinitely.
	if len(p.waiters) == 0 {
		if buf, ok := p.takeLocked(size, wantBuffer); ok {
			p.mu.Unlock()
			return buf, nil
		}
	}
	bound = bound.resolve(p.clk)
	if bound.max <= 0 {
		err := p.timeoutLocked(size, bound.max)
		p.mu.Unlock()
		return nil, err
	}
	if err := ctxerr.Of(ctx); err != nil {
		available := p.availableLocked()
		p.mu.Unlock()
		return nil, &WaitError{Size: size, Total: p.total, Available: available, Err: err}
	}
	if err := p.stopped; err != nil {
		p.mu.Unlock()
		return nil, err
	}
	return p.queueLocked(ctx, size, bound, wantBuffer)
}

// queueLocked waits at the back of the queue until this caller, as the
// head, has collected size bytes, or until its deadline (bound, resolved),
// ctx, StopWaits or Close ends the wait. It is entered with p.mu held and
// returns with it released.
func (p *Pool) queueLocked(ctx context.Context, size int, bound wait, wantBuffer bool) ([]byte, error) {
	// The deadline is armed before the waiter becomes visible, so that once
	// Waiters() counts it, advancing a fake clock past it fires it.
	timer := p.clk.NewTimerAt(bound.until)
	defer timer.Stop()
	w := &waiter{wake: make(chan struct{}, 1)}
	p.waiters = append(p.waiters, w)

	var buf []byte
	collected := 0
	told := false // onWait
	for {
		if p.waiters[0] == w {
			if collected == 0 && wantBuffer && size == p.poolable && len(p.free) > 0 {
				buf = p.popFreeLocked()
				collected = size
			} else {
				// Keep whatever is there, even if not enough yet: holding it
				// is what gets a large request through memory that comes
				// back piecemeal.
				p.freeUpLocked(size - collected)
				got := min(size-collected, p.nonPooled)
				p.nonPooled -= got
				collected += got
			}
			if collected == size {
				p.removeWaiterLocked(w)
				p.signalHeadIfAvailableLocked()
				p.mu.Unlock()
				return buf, nil
			}
		}
		p.mu.Unlock()
		if !told {
			told = true
			p.tellWait(ctx)
		}

		var timedOut bool
		var ctxErr error
		select {
		case <-w.wake:
		case <-timer.C():
			timedOut = true
		case <-ctx.Done():
			ctxErr = ctxerr.Of(ctx)
		}

		p.mu.Lock()
		if !p.closed && !timedOut && ctxErr == nil && w.stopped == nil {
			continue // woken because memory came back
		}
		// Leaving the queue: give back what was collected before building
		// the error (which reports it as available), then pass the turn on
		// if memory is free for the next waiter.
		p.removeWaiterLocked(w)
		p.nonPooled += collected
		var err error
		switch {
		case p.closed:
			err = ErrClosed
		case w.stopped != nil:
			err = w.stopped
		case timedOut:
			err = p.timeoutLocked(size, bound.max)
		default:
			err = &WaitError{Size: size, MaxWait: bound.max, Total: p.total, Available: p.availableLocked(), Err: ctxErr}
		}
		p.signalHeadIfAvailableLocked()
		p.mu.Unlock()
		return nil, err
	}
}

// takeLocked serves a request from memory on hand, if there is enough.
func (p *Pool) takeLocked(size int, wantBuffer bool) ([]byte, bool) {
	if wantBuffer && size == p.poolable && len(p.free) > 0 {
		return p.popFreeLocked(), true
	}
	if p.availableLocked() < size {
		return nil, false
	}
	p.freeUpLocked(size)
	p.nonPooled -= size
	return nil, true
}

func (p *Pool) timeoutLocked(size int, maxWait time.Duration) error {
	return &WaitError{Size: size, MaxWait: maxWait, Total: p.total, Available: p.availableLocked(), Err: ErrTimeout}
}

// TryAllocate is Allocate for a caller that may not wait, such as one
// holding a lock that others must be able to take meanwhile: it takes size
// bytes only if they are free at once and nobody is queued for memory
// (taking memory past queued callers would starve them, as in Allocate),
// and reports whether it did. It never blocks, and builds no error: a
// caller that gets none goes on to Allocate, whose error says why.
func (p *Pool) TryAllocate(size int) ([]byte, bool) {
	if p.check(size) != nil {
		return nil, false
	}
	p.mu.Lock()
	if p.closed || len(p.waiters) > 0 {
		p.mu.Unlock()
		return nil, false
	}
	buf, ok := p.takeLocked(size, true)
	p.mu.Unlock()
	switch {
	case !ok:
		return nil, false
	case buf != nil:
		return buf, true
	case size == p.poolable:
		return p.newPoolable(), true
	}
	return make([]byte, 0, size), true
}
