package accumulator

import "context"

// BeginFlush makes every batch ready until EndFlush, and returns a mark:
// AwaitBatches(ctx, mark) waits for the batches that exist now.
func (a *Accumulator) BeginFlush() (mark uint64) {
	a.flushing.Add(1)
	return a.batchSeq.Load()
}

// EndFlush undoes one BeginFlush.
func (a *Accumulator) EndFlush() { a.flushing.Add(-1) }

// Flushing reports whether a flush is under way.
func (a *Accumulator) Flushing() bool { return a.flushing.Load() > 0 }

// AwaitBatches waits until every batch created up to mark is complete
// (split halves count as their parent), or ctx ends.
func (a *Accumulator) AwaitBatches(ctx context.Context, mark uint64) error {
	for {
		a.incMu.Lock()
		changed := a.completed.C()
		pending := false
		for b := range a.incomplete {
			if b.seq <= mark {
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
			return ctx.Err()
		}
	}
}

// Incomplete is the number of batches not yet completed.
func (a *Accumulator) Incomplete() int {
	a.incMu.Lock()
	defer a.incMu.Unlock()
	return len(a.incomplete)
}

// forget removes a completed batch from the incomplete set and wakes flushers.
func (a *Accumulator) forget(b *Batch) {
	a.incMu.Lock()
	delete(a.incomplete, b)
	a.incMu.Unlock()
	a.completed.Notify()
}
