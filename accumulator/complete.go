package accumulator

import (
	"fmt"
	"time"
)

// Complete gives every record of a drained batch its outcome: offsets
// baseOffset+i (or -1 when baseOffset is -1), the broker's LogAppendTime
// when logAppendTimeMs >= 0, or err. It returns the batch's memory to the
// pool. Completing a batch twice is a no-op, so a late response racing an
// abort cannot give a record two outcomes.
func (a *Accumulator) Complete(b *Batch, baseOffset, logAppendTimeMs int64, err error) {
	if !b.done.CompareAndSwap(false, true) {
		return
	}
	if q := a.lookup(b.TP); q != nil {
		q.mu.Lock()
		q.inFlight--
		q.mu.Unlock()
	}
	a.settle(b, baseOffset, logAppendTimeMs, err)
}

// finish completes a batch that is in no queue and counted nowhere.
func (a *Accumulator) finish(b *Batch, baseOffset, logAppendTimeMs int64, err error) {
	if b.done.CompareAndSwap(false, true) {
		a.settle(b, baseOffset, logAppendTimeMs, err)
	}
}

// settle runs the callbacks of a batch whose done flag its caller set.
func (a *Accumulator) settle(b *Batch, baseOffset, logAppendTimeMs int64, err error) {
	for i, e := range b.entries {
		r := Result{Topic: b.TP.Topic, Partition: b.TP.Partition, Offset: -1, Timestamp: e.timestamp,
			KeySize: e.keySize, ValueSize: e.valueSize, Err: err}
		if err == nil {
			if baseOffset >= 0 {
				r.Offset = baseOffset + int64(i)
			}
			if logAppendTimeMs >= 0 {
				r.Timestamp = logAppendTimeMs
			}
		}
		a.cfg.Complete(e.cb, r)
	}
	a.stats.batches.Add(1)
	a.stats.records.Add(int64(len(b.entries)))
	a.stats.uncompressed.Add(int64(b.uncompressed))
	a.stats.encoded.Add(int64(len(b.encoded)))
	a.release(b)
	a.forget(b)
}

// release returns the batch's memory.
func (a *Accumulator) release(b *Batch) {
	if b.pooled && b.buf != nil {
		a.cfg.Pool.Deallocate(b.buf)
	}
	b.buf, b.encoded = nil, nil
	freeEntries(b.entries)
	b.entries = nil
}

// Reenqueue puts a drained batch back at the front of its queue, to be sent
// again no earlier than retryAt; cause is why it must be sent again. After
// Abort nothing will drain the queue again, so the batch fails instead, with
// ErrClosed and cause.
func (a *Accumulator) Reenqueue(b *Batch, retryAt time.Time, cause error) {
	b.retryAt = retryAt
	a.requeue(b.TP, cause, b)
}

// requeue puts drained batches (one, or the halves of a split) back at the
// front of tp's queue in place of one batch in flight, unless the
// accumulator was aborted: Abort empties queues under their locks after
// setting aborted, so checking it under the lock leaves no batch behind.
func (a *Accumulator) requeue(tp TopicPartition, cause error, bs ...*Batch) {
	q := a.queue(tp)
	q.mu.Lock()
	q.inFlight--
	if a.aborted.Load() {
		q.mu.Unlock()
		for _, b := range bs {
			a.finish(b, -1, -1, fmt.Errorf("%w: not retried: %w", ErrClosed, cause))
		}
		return
	}
	q.pushFront(bs...)
	q.mu.Unlock()
}

// Expire fails the queued batches that have waited DeliveryTimeout since
// their first record, and reports how long until the next one would. A
// batch in flight is never expired here: its request may still succeed, and
// its sender decides when its answer (or its request timeout) comes.
func (a *Accumulator) Expire(now time.Time) (next time.Duration) {
	next = noDeadline
	var expired []*Batch
	a.eachQueue(func(q *queue) {
		q.mu.Lock()
		for len(q.batches) > 0 {
			b := q.batches[0]
			age := now.Sub(b.created)
			if age < a.cfg.DeliveryTimeout {
				if left := a.cfg.DeliveryTimeout - age; left < next {
					next = left
				}
				break
			}
			q.popFront()
			expired = append(expired, b)
		}
		q.mu.Unlock()
	})
	for _, b := range expired {
		a.finish(b, -1, -1, fmt.Errorf("%w: %d records for %s-%d waited %v (DeliveryTimeout %v)",
			ErrDeliveryTimeout, len(b.entries), b.TP.Topic, b.TP.Partition, now.Sub(b.created).Round(time.Millisecond), a.cfg.DeliveryTimeout))
	}
	return next
}

// BeginClose makes every batch ready at once, for a closing flush.
func (a *Accumulator) BeginClose() { a.closing.Store(true) }

// Abort fails every queued batch with err (wrapping ErrClosed) and every
// later Append. Batches in flight are left to their senders, which complete
// them when their connections close.
func (a *Accumulator) Abort(err error) {
	a.closing.Store(true)
	a.aborted.Store(true)
	var aborted []*Batch
	a.eachQueue(func(q *queue) {
		q.mu.Lock()
		aborted = append(aborted, q.batches...)
		clear(q.batches)
		q.batches = q.batches[:0]
		q.mu.Unlock()
	})
	for _, b := range aborted {
		a.finish(b, -1, -1, fmt.Errorf("%w: %w", ErrClosed, err))
	}
}

// Queued reports how many batches wait in tp's queue and how many are in
// flight; for tests and load reporting.
func (a *Accumulator) Queued(tp TopicPartition) (queued, inFlight int) {
	q := a.lookup(tp)
	if q == nil {
		return 0, 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.batches), q.inFlight
}
