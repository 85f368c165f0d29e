package accumulator

import (
	"context"

	"github.com/gokafka/producer/internal/ctxerr"
)

// BeginFlush makes every batch ready until EndFlush, and returns a mark:
// AwaitBatches(ctx, mark) waits for the batches that exist now.
func (a *Accumulator) BeginFlush() (mark uint64) {
	a.flushing.Add(1)
	return a.serial.Load()
}

// EndFlush undoes one BeginFlush.
func (a *Accumulator) EndFlush() { a.flushing.Add(-1) }

// Flushing reports whether a flush is under way.
func (a *Accumulator) Flushing() bool { return a.flushing.Load() > 0 }

// AwaitBatches waits until every batch created up to mark has been
// delivered (split halves count as their parent), or ctx ends. Called from
// inside a callback, it waits only until their outcomes are known
// (AwaitOutcomes): their delivery comes after the callback returns.
func (a *Accumulator) AwaitBatches(ctx context.Context, mark uint64) error {
	return a.awaitBatches(ctx, mark, a.InCallback())
}

// AwaitOutcomes waits until every batch created up to mark has its outcome,
// delivered or queued for delivery, or ctx ends: for a caller whom the
// callbacks still to run may be waiting for.
func (a *Accumulator) AwaitOutcomes(ctx context.Context, mark uint64) error {
	return a.awaitBatches(ctx, mark, true)
}

func (a *Accumulator) awaitBatches(ctx context.Context, mark uint64, outcomesOnly bool) error {
	for {
		a.incMu.Lock()
		changed := a.changed.C()
		pending := false
		for b := range a.incomplete {
			if b.serial <= mark && !(outcomesOnly && b.given.Load()) {
				pending = true
				break
			}
		}
		a.incMu.Unlock()
		if !pending {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctxerr.Of(ctx)
		}
	}
}

// Incomplete is the number of batches not yet delivered.
func (a *Accumulator) Incomplete() int {
	a.incMu.Lock()
	defer a.incMu.Unlock()
	return len(a.incomplete)
}

// register adds new batches to the incomplete set.
func (a *Accumulator) register(bs ...*Batch) {
	a.incMu.Lock()
	for _, b := range bs {
		a.incomplete[b] = struct{}{}
	}
	a.incMu.Unlock()
}

// forget removes a delivered batch from the incomplete set and wakes
// flushers.
func (a *Accumulator) forget(b *Batch) {
	a.incMu.Lock()
	delete(a.incomplete, b)
	a.incMu.Unlock()
	a.changed.Notify()
}

// release returns a batch's memory, once: its buffer to the pool, its
// entries to theirs.
func (a *Accumulator) release(b *Batch) {
	if b.pooled && b.buf != nil {
		a.cfg.Pool.Deallocate(b.buf)
	}
	b.buf, b.encoded = nil, nil
	if b.entries != nil {
		b.entries.free()
		b.entries = nil
	}
}
