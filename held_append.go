package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/record"
)

// The append of one held record, once its turn in a drain round comes: its
// waits for a partition and for its batch's memory, within its transaction,
// and the context through which Close or an abort ends those waits. The
// round that picks the record is held_drain.go's.

// startAppend makes the context of h's append, the record of wt's round a
// drain is taking, or of the drain's wait for h, the oldest record set
// aside, which abortTransaction ends. A record held before an
// abort began belongs to the aborted transaction: its append ends at once.
// w.mu must be held.
func (w *held) startAppend(wt *waitingTopic, h *heldRecord) context.Context {
	ctx, stop := context.WithCancelCause(w.p.ctx)
	wt.stopAppend = stop
	if h.seq <= w.abortedThrough {
		stop(ErrTransactionAborted)
	}
	return ctx
}

// endAppend ends what startAppend began. w.mu must be held.
func (w *held) endAppend(wt *waitingTopic) {
	wt.stopAppend(nil)
	wt.stopAppend = nil
	wt.memoryWait = false
}

// waitsForMemory notes that the append of wt's round[roundPos] waits for
// its batch's memory, and tells the Flushes waiting for it (await).
func (w *held) waitsForMemory(wt *waitingTopic) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt.memoryWait = true
	w.left.Notify()
}

// appendHeld appends h, the record of wt's round being appended, whose
// topic's metadata came, first waiting for a partition it can go to if the
// metadata lacks one (the partition it names, or any, since a lagging
// broker may have called the topic unknown after its drain began), unless
// every broker has refused the producer since the record was held
// (refusal), which fails it; a failure goes to the delivery goroutine.
// ctx ends with the producer, or with the abort of the record's
// transaction. snap is the metadata that came; the batch's leader is
// looked up in the metadata of the moment (appendTo); partitions is the
// topic's partition count the drain last saw (waitingTopic.partitions).
// refusal is refusalFor's, read under the lock mayWait read it under:
// read again here, once the news of a refresh that succeeded had cleared
// it, it sent a record that mayWait had not let wait for metadata to wait
// for its partition in turn, holding up the round's later records until
// the partition came or its limit passed, and failed by no later refusal.
// It reports whether the record was appended.
func (p *Producer) appendHeld(ctx context.Context, wt *waitingTopic, snap *metadata.Snapshot, h *heldRecord, partitions int, refusal error) bool {
	t := snap.Topic(h.rec.Topic)
	if !h.fits(t) && !t.RefusedSince(h.refused) && refusal == nil && ctx.Err() == nil {
		t = p.awaitPartition(ctx, h)
	}
	var err error
	switch {
	case !h.fits(t) && !t.RefusedSince(h.refused) && p.ctx.Err() != nil:
		// Close ended the wait: what it leaves fails with ErrClosed, not
		// as if the record's limit had passed.
		err = fmt.Errorf("%w: while the record waited for %s", ErrClosed, h.wanted())
	case errors.Is(context.Cause(ctx), ErrTransactionAborted):
		// The abort of its transaction ended it.
		err = fmt.Errorf("%w: before the record, held for %s, was appended", context.Cause(ctx), h.wanted())
	case !h.fits(t) && !t.RefusedSince(h.refused) && refusal != nil:
		// Every broker refused the producer since the record was held:
		// no metadata will come (failWaiting).
		err = fmt.Errorf("%w: while the record waited for %s", refusal, h.wanted())
	case t != nil && len(t.Partitions) > 0 && !h.fits(t) && !t.RefusedSince(h.refused):
		// Its limit passed before the partition it names came.
		err = p.lackedPartition(h, len(t.Partitions))
	case t != nil && len(t.Partitions) > 0:
		if err = p.tooLate(h, len(t.Partitions)); err == nil {
			err = p.appendHeldTo(ctx, wt, t, h)
		}
	case t.RefusedSince(h.refused):
		err = t.Err
	case t != nil:
		err = p.unknownTooLong(h, partitions, t.Err)
	default:
		err = p.unknownTooLong(h, partitions, nil)
	}
	if err != nil {
		err = p.endedByClose(err)
		// Counted as failing before drainHeld moves past it, so that a
		// Flush sees it one way or the other all along.
		p.held.mu.Lock()
		p.held.fail(*h)
		p.held.mu.Unlock()
		p.held.deliverFailure(*h, err)
		return false
	}
	return true
}

// appendHeldTo appends h, the record of wt's round being appended, to t,
// within its transaction if it has one, where a panic in the partitioner
// fails h or, after its append, is logged (placeHeld, appendedHeld),
// instead of ending the process. The append's wait for memory ends with
// the record's DeliveryTimeout (accumulator.Record.Since), or when ctx
// ends (see appendHeld); after a Close from a callback ended such waits,
// it does not begin. While it lasts, wt says so (waitsForMemory).
func (p *Producer) appendHeldTo(ctx context.Context, wt *waitingTopic, t *metadata.Topic, h *heldRecord) error {
	if p.txn != nil {
		// Counted until appended, so that an abort, which ends the
		// transaction's appends, does not end the transaction before it.
		if err := p.txn.EnterHeld(h.txn); err != nil {
			return err
		}
		defer p.txn.ExitProduce()
	}
	wait, noWait := p.held.appendWait()
	wait, cancel := context.WithCancelCause(wait)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	wait = bufferpool.WithOnWait(wait, func() { p.held.waitsForMemory(wt) })
	placed, err := p.placeHeld(t, &h.rec)
	if err != nil {
		return err
	}
	ar := accumulator.Record{
		Data:     record.Data{TimestampMs: h.tsMs, Key: h.rec.Key, Value: h.rec.Value, Headers: h.rec.Headers},
		Callback: h.cb, Since: h.since, NoWait: noWait,
	}
	err = p.appendTo(wait, nil, t, &placed, &ar)
	if abort := context.Cause(ctx); err != nil && errors.Is(abort, ErrTransactionAborted) {
		err = endedByAbort(err, abort)
	}
	return err
}

// endedByAbort is the error of a held record whose append failed as the
// abort of its transaction (abort, the cause) ended its wait for its
// batch's memory. It reads as the abort's other records do, under the
// *PartitionError (`producer: topic "t" partition 0: transaction aborted:
// while the record waited for its batch's memory`), whichever ended the
// wait first: the abort's end of the append's ctx, which the pool tells
// as a ctx canceled (not the user's ctx, so not said, nor matched), or its
// end of every wait for memory (ErrTransactionAborted itself). Another
// failure that came meanwhile is kept after those words.
func endedByAbort(err, abort error) error {
	pe, named := err.(*PartitionError)
	cause := err
	if named {
		cause = pe.Err
	}
	ended := fmt.Errorf("%w: while the record waited for its batch's memory", abort)
	if !errors.Is(cause, ErrTransactionAborted) && !errors.Is(cause, context.Canceled) {
		ended = fmt.Errorf("%w: %w", ended, cause)
	}
	if !named {
		return ended
	}
	return &PartitionError{Topic: pe.Topic, Partition: pe.Partition, Err: ended}
}

// endedByClose makes the error of a held record whose wait for memory
// Close ended one that matches ErrClosed, keeping how the wait ended. The
// words go under a *PartitionError, as every record's error reads
// (`producer: topic "t" partition 0: producer closed: ...`), not before
// it.
func (p *Producer) endedByClose(err error) error {
	if pe, ok := err.(*PartitionError); ok {
		return &PartitionError{Topic: pe.Topic, Partition: pe.Partition, Err: p.endedByClose(pe.Err)}
	}
	switch {
	case errors.Is(err, ErrClosed):
		return err
	case p.ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case p.held.noWait.Load() && (errors.Is(err, ErrBufferFull) || errors.Is(err, context.Canceled)):
		return fmt.Errorf("%w: called from a callback, Close ended the record's wait for buffer memory, "+
			"which only the callbacks behind that one give back: %w", ErrClosed, err)
	}
	return err
}

// awaitPartition waits, while the record may wait, for metadata that has a
// partition for it: a partition just added to a topic reaches this
// producer with a metadata refresh, as the Java client's send waits for a
// partition it does not know yet; so do the partitions of a topic that a
// lagging broker called unknown. The topic is wanted while its records
// drain, so the metadata loop polls for it meanwhile, and for its
// partition while wanted too: a refresh is asked for once, not after every
// update, which made the loop refresh every RetryBackoff.
func (p *Producer) awaitPartition(ctx context.Context, h *heldRecord) *metadata.Topic {
	timer := p.cfg.clock.NewTimerAt(h.since.Add(p.heldLimit()))
	defer timer.Stop()
	if h.rec.ExplicitPartition {
		defer p.cluster.WantPartition(h.rec.Topic, h.rec.Partition)()
	}
	asked := false
	for {
		updated := p.cluster.Changed()
		t := p.cluster.Snapshot().Topic(h.rec.Topic)
		if h.fits(t) || t.RefusedSince(h.refused) {
			return t
		}
		if !asked {
			p.cluster.RequestRefresh(h.wanted() + " wanted")
			asked = true
		}
		select {
		case <-updated:
		case <-timer.C():
			return t
		case <-ctx.Done():
			return t
		}
	}
}
