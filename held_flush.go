package producer

import (
	"context"
	"slices"

	"github.com/gokafka/producer/internal/ctxerr"
)

// Flush's wait for the records held before it began (await): until each is
// appended, or its failure booked or delivered, as held_failure.go counts
// them for each Flush.

// heldFlush is a Flush waiting for the records held before it began, the
// through-th and those before (await), and for the failures among them:
// failing counts those whose callbacks have not run yet, unbooked those
// not booked yet (fail). The failures of records held after it began are
// no concern of it: counted in, they held a Flush up for as long as
// records kept failing, which a steady stream of records to a missing
// topic, each failing at its MaxBlock, never stops doing.
type heldFlush struct {
	through           uint64
	failing, unbooked int
}

// await lets a flush wait for the records held before it began, until
// each is appended or its failure delivered. Short of flushToCallbacks, a
// failure is waited for only until it is booked (the transaction told, the
// callback queued): its callback may wait for the caller. With
// flushToReachableOutcomes (a Flush from a callback), a topic whose drain
// waits for a batch's memory is not waited for (see flushTo).
func (w *held) await(ctx context.Context, to flushTo) error {
	f := w.beginFlush()
	defer w.endFlush(f)
	for {
		w.mu.Lock()
		changed := w.left.C()
		waiting := f.unbooked > 0 || (f.failing > 0 && to == flushToCallbacks) ||
			w.holdsThrough(f.through, to == flushToReachableOutcomes)
		w.mu.Unlock()
		if !waiting {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctxerr.Of(ctx)
		}
	}
}

// beginFlush starts counting the failures of the records held so far for a
// Flush: every record failing now was held before it began.
func (w *held) beginFlush() *heldFlush {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := &heldFlush{through: w.seq, failing: w.failing, unbooked: w.unbooked}
	w.flushes = append(w.flushes, f)
	return f
}

// endFlush stops counting for f.
func (w *held) endFlush(f *heldFlush) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes = slices.DeleteFunc(w.flushes, func(g *heldFlush) bool { return g == f })
}

// holdsThrough reports whether a record held through-th or before is still
// held: one of a topic's, and the oldest are first (waitingTopic.next).
// pastMemoryWaits leaves out the topics whose drain waits for a batch's
// memory: every record of such a topic left waits for that one. w.mu must
// be held.
func (w *held) holdsThrough(through uint64, pastMemoryWaits bool) bool {
	for _, wt := range w.topics {
		if pastMemoryWaits && wt.memoryWait {
			continue
		}
		if h, ok := wt.next(); ok && h.seq <= through {
			return true
		}
	}
	return false
}
