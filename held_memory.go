package producer

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/internal/clock"
)

// reserveHeld takes size bytes of buffer memory for a held record: first
// from the held records' budget, then from the pool, within MaxBlock in all.
func (p *Producer) reserveHeld(ctx context.Context, size int) error {
	w := &p.held
	clk := p.cfg.clock
	deadline := clk.Now().Add(p.cfg.MaxBlock)
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w.mu.Lock()
		if w.reserved+size <= w.reserveCap || w.reserved == 0 {
			// Alone, a record larger than the budget still gets its chance:
			// the pool bounds it.
			w.reserved += size
			w.mu.Unlock()
			break
		}
		wake := w.budget.C()
		w.mu.Unlock()
		if timer == nil {
			timer = clk.NewTimerAt(deadline)
		}
		select {
		case <-wake:
		case <-timer.C():
			return fmt.Errorf("%w: %d bytes for a record waiting for metadata not available within %v "+
				"(records waiting for metadata may use BufferMemory less one batch, %d bytes)",
				ErrBufferFull, size, p.cfg.MaxBlock, w.reserveCap)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := p.pool.ReserveUntil(ctx, size, deadline); err != nil {
		w.mu.Lock()
		w.reserved -= size
		w.mu.Unlock()
		w.budget.Notify()
		return err
	}
	return nil
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
	w.budget.Notify()
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
