package producer

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
)

// How held records fail: counted as failing the moment they leave the
// lists, so that no Flush loses sight of them (fail), booked with the
// transaction, then delivered on the delivery goroutine; and all of them at
// once, at Close (failAll) or a transaction's abort (abortTransaction).

// heldFailure is a held record's failure on its way to the delivery
// goroutine; the record stops counting as held once its callback has run,
// so that Flush waits for that too.
type heldFailure struct {
	w   *held
	h   heldRecord
	err error
}

// fail counts records, just taken off the lists to fail, as failing: from
// then on a Flush begun after they were held waits for their callbacks, or,
// from a callback, for their failures to be booked. Counted under the same
// lock that takes them off, they are never out of a Flush's sight. w.mu
// must be held.
func (w *held) fail(records ...heldRecord) {
	w.failing += len(records)
	w.unbooked += len(records)
	for _, f := range w.flushes {
		for i := range records {
			if records[i].seq <= f.through {
				f.failing++
				f.unbooked++
			}
		}
	}
}

// booked counts the failure of the record held seq-th as booked (see
// deliverFailure). w.mu must be held.
func (w *held) booked(seq uint64) {
	w.unbooked--
	for _, f := range w.flushes {
		if seq <= f.through {
			f.unbooked--
		}
	}
}

// delivered counts the failure of the record held seq-th as delivered:
// its callback has run. w.mu must be held.
func (w *held) delivered(seq uint64) {
	w.failing--
	for _, f := range w.flushes {
		if seq <= f.through {
			f.failing--
		}
	}
}

// failHeld gives a held record, counted by fail, its error and its memory
// back.
func (p *Producer) failHeld(h heldRecord, err error) {
	p.unreserveHeld(h.size)
	p.held.deliverFailure(h, err)
}

// failUnpooled gives a record of a drain round, or set aside, counted by
// fail, its error and its budget back: its pool memory went back when its
// round began.
func (p *Producer) failUnpooled(h heldRecord, err error) {
	w := &p.held
	w.mu.Lock()
	w.unbook(h.size)
	w.mu.Unlock()
	w.deliverFailure(h, err)
}

// deliverFailure books the failure of a record counted by fail with the
// transaction, now that it is decided, and hands it to the delivery
// goroutine: a commit called from a callback, which waits for no outcome
// queued behind that callback, must still see it. The record never joined
// a batch, so the transaction books it as a refusal: no sequence is in
// doubt.
func (w *held) deliverFailure(h heldRecord, err error) {
	w.p.noteTxnRejection(h.rec.Topic, err)
	w.p.acc.Deliver(&heldFailure{w: w, h: h, err: err}, accumulator.Result{})
	w.mu.Lock()
	w.booked(h.seq)
	w.left.Notify()
	w.mu.Unlock()
}

// deliver runs a failed record's callback on the delivery goroutine.
func (f *heldFailure) deliver() {
	err := f.err
	if pe := (*PartitionError)(nil); !errors.As(err, &pe) {
		err = &PartitionError{Topic: f.h.rec.Topic, Partition: namedPartition(&f.h.rec), Err: err}
	}
	f.w.p.reject(f.h.cb, &f.h.rec, err)
	w := f.w
	w.mu.Lock()
	w.delivered(f.h.seq)
	w.count.Add(-1)
	w.left.Notify()
	w.mu.Unlock()
}

// failAll fails every held record and every later one; Close uses it. Of a
// drain round under way, the record being appended is left to its
// goroutine, which then sees closed and stops; the round's later records,
// and those it set aside, fail here (their pool memory was given back when
// their round began).
func (w *held) failAll(err error) {
	w.mu.Lock()
	w.closed = true
	holding, released, aside := w.takeAll()
	w.mu.Unlock()
	// Closed, w starts no drain (hold, release): the count only falls.
	w.drained = make(chan struct{})
	go func() {
		w.drains.Wait()
		close(w.drained)
	}()
	w.failTaken(holding, released, aside, err)
}

// abortTransaction fails every held record with err (ErrTransactionAborted):
// its transaction is being aborted (txn.Config.FailHeld). Unlike failAll, it
// ends the waits of the records being appended, for their partition or
// their batch's memory, and those of records held before it that a drain
// takes later: the abort waits for them, and appended after it, they would
// go into the next transaction. Records held after it belong to the next.
func (w *held) abortTransaction(err error) {
	w.mu.Lock()
	holding, released, aside := w.takeAll()
	w.abortedThrough = w.seq
	for _, wt := range w.topics {
		if wt.stopAppend != nil {
			wt.stopAppend(err)
		}
	}
	w.mu.Unlock()
	w.failTaken(holding, released, aside, err)
}

// takeAll takes every held record off the lists to fail them, but the
// ones being appended, which their drains finish; it forgets topics no
// drain appends. holding: those still reserving memory; released: those
// of drain rounds, whose pool memory went back when the round began, their
// budget still booked; aside: those the rounds set aside, likewise. w.mu
// must be held.
func (w *held) takeAll() (holding, released, aside []heldRecord) {
	for name, wt := range w.topics {
		holding = append(holding, wt.records...)
		wt.records = nil
		aside = append(aside, wt.takeAside()...)
		if wt.roundPos+1 < len(wt.round) {
			released = append(released, wt.round[wt.roundPos+1:]...)
			wt.round = wt.round[:wt.roundPos+1]
		}
		if !wt.draining {
			w.drop(name)
		}
	}
	w.fail(holding...)
	w.fail(released...)
	w.fail(aside...)
	return holding, released, aside
}

// failTaken fails the records takeAll took with err; those set aside say
// which partition they waited for, as a record whose wait for it ended
// does (appendHeld).
func (w *held) failTaken(holding, released, aside []heldRecord, err error) {
	for _, h := range holding {
		w.p.failHeld(h, err)
	}
	for _, h := range released {
		w.p.failUnpooled(h, err)
	}
	for _, h := range aside {
		w.p.failUnpooled(h, fmt.Errorf("%w: while the record waited for %s", err, h.wanted()))
	}
}
