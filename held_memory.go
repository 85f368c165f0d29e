package producer

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/producer/internal/ctxerr"
)

// reserveHeld takes size bytes of buffer memory for a held record: first
// from the held records' budget, then from the pool, within MaxBlock in all.
func (p *Producer) reserveHeld(ctx context.Context, size int) error {
	w := &p.held
	deadline := p.cfg.clock.Now().Add(p.cfg.MaxBlock)
	if err := w.book(ctx, size, deadline); err != nil {
		return err
	}
	if err := p.pool.ReserveUntil(ctx, size, deadline); err != nil {
		w.mu.Lock()
		w.unbook(size)
		w.mu.Unlock()
		return err
	}
	return nil
}

// book takes size bytes of the held records' budget, their share of
// BufferMemory (reserveCap), waiting for them until deadline or ctx's end.
// Like the pool, the share serves its waiters first come first served: a
// newcomer passes only when nobody waits, and only the oldest waiter takes
// bytes given back. Otherwise each small record that fitted went past a
// large one, which, under a stream of them, waited out its MaxBlock and
// failed with ErrBufferFull.
func (w *held) book(ctx context.Context, size int, deadline time.Time) error {
	w.mu.Lock()
	if len(w.shareWaiters) == 0 && w.fitsShare(size) {
		w.reserved += size
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	timer := w.p.cfg.clock.NewTimerAt(deadline)
	defer timer.Stop()
	wake := make(chan struct{}, 1) // see wakeShareWaiter
	w.mu.Lock()
	w.shareWaiters = append(w.shareWaiters, wake)
	for {
		if w.shareWaiters[0] == wake && w.fitsShare(size) {
			w.reserved += size
			w.leaveShareQueue(wake)
			w.mu.Unlock()
			return nil
		}
		w.mu.Unlock()
		var err error
		select {
		case <-wake:
		case <-timer.C():
			err = fmt.Errorf("%w: %d bytes for a record waiting for metadata not available within %v "+
				"(records waiting for metadata may use BufferMemory less one batch, %d bytes)",
				ErrBufferFull, size, w.p.cfg.MaxBlock, w.reserveCap)
		case <-ctx.Done():
			// Produce's ctx: memory was short all the same (memoryErr).
			err = fmt.Errorf("%w: %d bytes for a record waiting for metadata not free before the ctx ended (%w) "+
				"(records waiting for metadata may use BufferMemory less one batch, %d bytes)",
				ErrBufferFull, size, ctxerr.Of(ctx), w.reserveCap)
		}
		w.mu.Lock()
		if err != nil {
			w.leaveShareQueue(wake)
			w.mu.Unlock()
			return err
		}
	}
}

// fitsShare reports whether size bytes fit the share beside those
// reserved. Alone, a record larger than the share still gets its chance:
// the pool bounds it. w.mu must be held.
func (w *held) fitsShare(size int) bool {
	return w.reserved+size <= w.reserveCap || w.reserved == 0
}

// leaveShareQueue takes wake's waiter out of the queue, having booked its
// bytes or given up, and wakes the new oldest one: bytes may be left for
// it, which no unbook will tell it of. w.mu must be held.
func (w *held) leaveShareQueue(wake chan struct{}) {
	if i := slices.Index(w.shareWaiters, wake); i >= 0 {
		w.shareWaiters = slices.Delete(w.shareWaiters, i, i+1)
	}
	w.wakeShareWaiter()
}

// wakeShareWaiter wakes the oldest record waiting for the share, if any.
// Its channel has one slot: a wake-up is never lost while it is between
// checks, nor does it block the goroutine giving bytes back. w.mu must be
// held.
func (w *held) wakeShareWaiter() {
	if len(w.shareWaiters) == 0 {
		return
	}
	select {
	case w.shareWaiters[0] <- struct{}{}:
	default: // a wake-up is pending already; one is enough
	}
}

// shareWaits is how many Produce calls wait for room in the held records'
// share (book).
func (w *held) shareWaits() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.shareWaiters)
}

// unreserveHeld gives held records' memory back to the pool and the budget.
func (p *Producer) unreserveHeld(size int) {
	p.pool.Release(size)
	w := &p.held
	w.mu.Lock()
	w.unbook(size)
	w.mu.Unlock()
}

// unbook gives size bytes back to the held records' budget: records that
// gave their pool memory to their drain round keep their budget until
// they are appended or failed. w.mu must be held.
func (w *held) unbook(size int) {
	w.reserved -= size
	w.wakeShareWaiter()
}

// endMemoryWaits ends the held records' waits for a batch's memory, the
// one under way and those to come; Close uses it when called from a
// callback. A batch's memory goes back only once its callbacks have run,
// so, with the delivery goroutine held up by the callback, none would come
// back before MaxBlock: Close would stall every callback that long, and the
// record would fail anyway. It fails now with ErrClosed, as if Close's ctx
// had ended; a record that finds memory free is still appended.
func (w *held) endMemoryWaits() {
	w.noWait.Store(true) // before the cancel: an append either sees it or is cancelled
	w.cancelAppendCtx()
}

// appendWait is the context of a held record's append, and whether the
// append may wait for memory at all. Once the waits have ended, the append
// has the producer's context, not appendCtx, which the pool would refuse
// even with memory free.
func (w *held) appendWait() (context.Context, bool) {
	if w.noWait.Load() {
		return w.p.ctx, true
	}
	return w.appendCtx, false
}
