package accumulator

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Complete books the broker's final answer to a drained batch: written at
// baseOffset (record i at baseOffset+i; -1 when the broker does not say, as
// with acks=0), with the broker's LogAppendTime when logAppendTimeMs >= 0;
// or, when err is not nil, refused for good. A batch whose records already
// have their outcome (it expired in flight) only learns whether it was
// written. A second answer to one attempt is ignored, so a late response
// racing a failure cannot give a record two outcomes.
func (a *Accumulator) Complete(b *Batch, baseOffset, logAppendTimeMs int64, err error) {
	a.completeAnswer(b, baseOffset, logAppendTimeMs, err, nil)
}

// completeAnswer is Complete, given, for a batch refused for some of its
// records, the broker's errors for those it named (Refuse).
func (a *Accumulator) completeAnswer(b *Batch, baseOffset, logAppendTimeMs int64, err error, named []RecordError) {
	p, old := a.lockAnswer(b, err == nil)
	if p == nil {
		return
	}
	if err != nil {
		p.lastErr = err
	} else {
		// The partition was written to: an earlier failure, a broker
		// unreachable for a while say, no longer explains a later timeout.
		p.lastErr = nil
		logAppendTimeMs = p.appendTime(b, logAppendTimeMs, old)
		a.failPassed(p, b)
	}
	if b.settled {
		a.resolve(p, b, err == nil)
	} else {
		b.refused = refusalOf(b, err, named)
		a.complete(p, b, baseOffset, logAppendTimeMs, err)
	}
	wake := p.wakeOthers()
	p.mu.Unlock()
	if wake {
		a.cfg.Wake(b.TP)
	}
}

// failPassed fails the batches of p before b, just acknowledged, that wait
// to be sent again though no attempt of theirs was written: the broker
// wrote b ahead of them, which it does only when it has no state for the
// producer and takes any first sequence, and p had pipelined requests to it
// because it had acknowledged a batch before (see partition.acked): the
// state expired sooner than PipelineIdle foresees (Kafka's expiry follows
// the latest batch's record timestamps, which may be stamped far back), or
// the topic was deleted and created again under its name before the
// metadata said so (requests that name the topic reach the new one; once
// the metadata names it, p keeps one request in flight: Recreated). Sent
// again, their records would follow b's in the log: they fail instead,
// certainly not written, and the sequences restart behind the gap they
// leave. p.mu must be held.
func (a *Accumulator) failPassed(p *partition, b *Batch) {
	if !a.cfg.Idempotent {
		return // its retries may reorder records anyway (see MaxInFlight)
	}
	for i := 0; i < len(p.batches) && p.batches[i] != b; i++ {
		o := p.batches[i]
		if o.settled || o.inFlight || o.attempts == 0 || o.maybeWritten {
			continue
		}
		err := errPassed
		if o.lastErr != nil {
			err = fmt.Errorf("%w; last error: %w", errPassed, o.lastErr)
		}
		a.complete(p, o, -1, -1, err)
		i-- // complete took o out of the list
	}
}

var errPassed = errors.New("not sent again: a later batch of the partition was written ahead of it by a broker that had no state for this producer there (it expired, or the topic was created again), and its records would have followed that batch's")

// Retry says why a drained batch must be sent again.
type Retry struct {
	At    time.Time // not before; the retry backoff
	Cause error     // what went wrong, kept for the error if the batch never succeeds
	// MaybeWritten: this attempt may have written the batch. Its request
	// may have reached the broker and its answer been lost (it timed out,
	// or its connection broke), or the broker answered with an error it
	// gives after appending the batch: it could not replicate it in time
	// (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND), or, with
	// acks=all, lost the partition while it waited for its followers. A
	// failure after that wraps ErrMaybeWritten.
	MaybeWritten bool
	// SequenceRejected: the broker refused the batch's sequence number
	// (OUT_OF_ORDER_SEQUENCE_NUMBER, or UNKNOWN_PRODUCER_ID with a known
	// log start offset). Behind an earlier batch still on its way that is
	// expected, and the retry will follow it; as the partition's next batch
	// it means the broker lost track of the producer, and the partition's
	// sequences restart under a new epoch (KIP-360). A next batch that an
	// earlier attempt may have written fails then, with ErrMaybeWritten:
	// under a new epoch it could be written twice, and under its own the
	// broker refuses it. Even OUT_OF_ORDER_SEQUENCE_NUMBER does not show
	// that it was not written: a broker recognises a duplicate among the
	// producer's last five batches, but after a restart from its snapshot
	// among the last one only, and a later batch may have been written;
	// and for the newest batch sent, which it would answer as a duplicate,
	// an earlier attempt left unanswered may still land, late (see
	// TestOutOfOrderLeavesAnUnansweredAttemptInDoubt).
	SequenceRejected bool
	// EpochRejected: the broker refused the batch's epoch as older than one
	// it has seen (INVALID_PRODUCER_EPOCH). If this producer has moved to a
	// newer epoch since it numbered the batch, the broker has seen that
	// one: some brokers track a producer's epoch across its partitions, not
	// per partition as Kafka does. The batch was not written by this
	// attempt and goes again under the new epoch, unless an earlier attempt
	// may have written it: then it fails, with ErrMaybeWritten, since
	// resending it under another epoch could duplicate it. If the batch
	// carries the current epoch, another producer took over this one's id:
	// that is fatal.
	EpochRejected bool
	// NotSent: this attempt's request never reached the broker (conn's
	// ErrNotSent: the connection died before writing it, as when a
	// re-authentication was refused while the request waited for the
	// write lock). It is not counted as a send: a batch none of whose
	// attempts was sent is still failed by FailUnsent, and a timeout's
	// error does not say it was sent.
	NotSent bool
	// Counted, if set, counts the retry as the batch goes back, before any
	// sender may take it: a retry counted after Retry returned could be
	// counted after the batch's outcome, which a caller waiting for the
	// outcome would then not see counted.
	Counted *atomic.Int64
}

// Retry puts a drained batch back in its place, to be sent again after
// r.At. The batch fails instead, its error quoting r.Cause, when its
// delivery timeout has passed, the producer is closing, or it stopped for
// good (or this answer stops it); when a transaction abort is under way
// (AbortTransaction), or the broker refused a transactional producer's
// current epoch (the transaction can only abort); and, with
// ErrMaybeWritten, when an earlier attempt may have written it and the
// broker refused its epoch, or its sequence as the partition's next batch
// or while a restart waits for it (even the newest batch sent: see
// SequenceRejected). It reports whether the batch will be sent again.
func (a *Accumulator) Retry(b *Batch, r Retry) (again bool) {
	now := a.cfg.Clock.Now()
	fencedEpoch, fencedErr := a.fencedEpoch(b, r) // before the lock: Fatal takes every partition's
	p, _ := a.lockAnswer(b, false)
	if p == nil {
		return false
	}
	if r.MaybeWritten {
		b.maybeWritten = true
	}
	if r.NotSent {
		b.unsent++
	}
	b.lastErr, p.lastErr = r.Cause, r.Cause
	restart := a.restartFor(p, b, r)
	switch {
	case b.settled:
		a.resolve(p, b, false)
	case fencedEpoch:
		a.complete(p, b, -1, -1, fencedErr)
	case (r.EpochRejected || restart) && b.maybeWritten && a.fatalErr() == nil:
		if restart {
			p.mustRestart(r.Cause) // for the batches behind it
		}
		a.complete(p, b, -1, -1, fmt.Errorf("not sent again under a newer epoch, lest it be written twice: %w", r.Cause))
	case a.fatalErr() != nil:
		a.complete(p, b, -1, -1, fmt.Errorf("%w; not retried: %w", a.fatalErr(), r.Cause))
	case a.aborted.Load():
		by := a.abortedBy.Load().cause
		a.complete(p, b, -1, -1, &closedBy{fmt.Errorf("%w; not retried: %w", by, r.Cause)})
	case a.txnAbort.Load() != nil:
		a.complete(p, b, -1, -1, fmt.Errorf("%w; not retried: %w", *a.txnAbort.Load(), r.Cause))
	case !now.Before(b.deadline):
		a.complete(p, b, -1, -1, a.timedOut(p, b))
	default:
		// An epoch refused as old: the partition catches up with the
		// producer's epoch before it sends again (restartGate, in
		// next.go), which renumbers its sequences as a restart does.
		// Marked as one, the batch waits for it rather than go again
		// under the epoch refused while retries that may have been
		// written are resolved under theirs.
		if restart || r.EpochRejected {
			p.mustRestart(r.Cause)
			b.epochSpent = true
		}
		if r.Counted != nil {
			r.Counted.Add(1)
		}
		p.sendBack(b, r.At)
		again = true
	}
	p.blocked = false
	p.mu.Unlock()
	// Whichever sender leads the partition now sends the retry.
	a.cfg.Wake(b.TP)
	return again
}

// fencedEpoch reports whether r refuses b's epoch though it is the
// producer's current one: another producer took over the id (or, for a
// transactional producer, the coordinator bumped the epoch when it timed
// the transaction out, which only aborting the transaction ends). err is
// what b then fails with: for a producer without a transactional id,
// Fatal's, which stops it for good. Call it without a partition's lock:
// Fatal takes every partition's in turn.
func (a *Accumulator) fencedEpoch(b *Batch, r Retry) (fenced bool, err error) {
	fenced = r.EpochRejected && !a.outdated(b.producer)
	err = r.Cause
	if fenced && !a.cfg.Transactional {
		err = a.Fatal(Fenced, r.Cause)
	}
	return fenced, err
}

// restartFor reports whether r, refusing b's sequence, restarts the
// sequences of p, b's partition: it does for the partition's next batch
// (see Retry.SequenceRejected), and while they wait to restart, for a
// retry that went ahead of its turn to be resolved under its epoch first
// (restartGate, in next.go): that answer resolves nothing, and under its
// epoch it would be refused for ever. p.mu must be held.
func (a *Accumulator) restartFor(p *partition, b *Batch, r Retry) bool {
	return r.SequenceRejected && a.cfg.Idempotent && (p.isNext(b) || p.restart)
}

// lockAnswer locks b's partition to book the answer to b's attempt in
// flight, an acknowledgement or not, and books that it is no longer in
// flight; old says it came from the topic before it was re-created
// (answered). It returns nil, locking nothing, when b is not in flight: a
// second answer to one attempt is ignored.
func (a *Accumulator) lockAnswer(b *Batch, acked bool) (p *partition, old bool) {
	p = a.partition(b.TP)
	p.mu.Lock()
	if !b.inFlight {
		p.mu.Unlock()
		return nil, false
	}
	return p, p.answered(b, acked)
}

// Fatal stops the producer for good, for why (another producer took over
// its id, say), with an error that wraps ErrProducerStopped and cause:
// every batch not in flight fails with it now, those in flight with it
// unless their answer says they were written, and every later Append
// returns it. It returns that error, for the batch whose answer stopped
// the producer, also when an earlier answer stopped it first.
func (a *Accumulator) Fatal(why string, cause error) error {
	err := fmt.Errorf("%w: %s, and it can send nothing more: %w", ErrProducerStopped, why, cause)
	if a.fatal.CompareAndSwap(nil, &err) {
		a.failAll(err)
	}
	return err
}

// complete gives b's records their outcome and takes b out of its
// partition, unless its sequence numbers are still in play. p.mu must be
// held.
func (a *Accumulator) complete(p *partition, b *Batch, baseOffset, logAppendTimeMs int64, err error) {
	// The batch before b still without its outcome, looked for while b is
	// in the list: an acknowledged b's callbacks wait for its (offset
	// order); a failed b has no offset to keep in order, and only the
	// batches acknowledged behind it (b.behind) wait.
	var ahead *Batch
	if err == nil || b.behind != nil {
		ahead = p.pendingBefore(b)
	}
	switch {
	case err == nil:
		p.wasWritten(b)
	case b.maybeWritten:
		err = fmt.Errorf("%w (%w)", err, ErrMaybeWritten)
		b.refused.maybeWritten()
		// Whether it was written is for later answers to tell, and a batch
		// in flight keeps its memory until its answer comes.
		if a.cfg.Idempotent || b.inFlight {
			p.settle(b)
		} else {
			p.remove(b)
		}
	default:
		p.remove(b)
		if a.cfg.Idempotent && b.attempts > 0 {
			p.mustRestart(err) // the broker never got this sequence: a gap
		}
	}
	if err != nil && a.cfg.Failed != nil {
		a.cfg.Failed(b.TP, err)
	}
	b.baseOffset, b.logAppendTimeMs, b.err = baseOffset, logAppendTimeMs, err
	if ahead != nil {
		for ahead.behind != nil {
			ahead = ahead.behind
		}
		if err == nil {
			ahead.behind = b
			return
		}
		// b's callbacks run now: held behind a batch that waits for its
		// retry, a failure would come after its own DeliveryTimeout, and a
		// refusal (FailUnsent) no sooner than that batch's.
		ahead.behind, b.behind = b.behind, nil
	}
	for b != nil {
		next := b.behind
		b.behind = nil
		a.deliveries.push(delivery{batch: b})
		b = next
	}
}

// resolve books the answer to the last attempt of a settled batch (its
// records already have their outcome; it expired in flight): an answer
// that says written resolves its doubt, as an acknowledgement of a later
// batch would (wasWritten); without idempotence it leaves either way; else
// its sequence stays in doubt for a restart to fence off. Its memory, held
// while it was in flight, goes back once its callbacks have run. p.mu
// must be held.
func (a *Accumulator) resolve(p *partition, b *Batch, written bool) {
	switch {
	case written:
		p.wasWritten(b)
	case !a.cfg.Idempotent:
		p.remove(b)
	}
	if b.delivered {
		a.retire(b)
	}
}
