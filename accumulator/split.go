package accumulator

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gokafka/producer/record"
)

// Split handles a broker's refusal of a drained batch as too large (KIP-126;
// cause is MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE, on both of which the
// sender splits): its records are re-encoded into two batches of about half
// the records each, which take its place in its partition, keep its
// callbacks, delivery deadline and Flush position, and, with idempotence,
// its sequence numbers: the first half starts at the batch's base sequence,
// the second where the first ends, so the batches behind keep theirs (the
// Java client numbers split batches the same way). Split reports whether it
// split; a batch of one record, or one that cannot be split, fails with
// cause, and one past its DeliveryTimeout with ErrDeliveryTimeout. counted,
// if not nil, counts the split as the halves take the batch's place, before
// any sender may take them (see Retry.Counted).
//
// The halves are allocated outside the buffer pool, as the Java client does
// for split batches: the sender must not block on memory, and the halves
// together are no larger than the pooled buffer they replace, which goes
// back to the pool now.
func (a *Accumulator) Split(b *Batch, cause error, counted *atomic.Int64) bool {
	var halves []*Batch
	var splitErr error
	if b.entries.len() >= 2 {
		halves, splitErr = a.halve(b)
	}
	now := a.cfg.Clock.Now()
	p, _ := a.lockAnswer(b, false)
	if p == nil {
		return false
	}
	switch {
	case b.settled:
		a.resolve(p, b, false)
		halves = nil
	case halves == nil || a.refusal() != nil:
		err := errors.Join(cause, splitErr, a.refusal())
		a.complete(p, b, -1, -1, err)
		halves = nil
	case !now.Before(b.deadline):
		// As Retry does: halves sent now would go past DeliveryTimeout.
		b.lastErr = cause
		a.complete(p, b, -1, -1, a.timedOut(p, b))
		halves = nil
	default:
		// Read under the lock: the expiry pass sets it on a batch in flight.
		for _, half := range halves {
			half.maybeWritten = b.maybeWritten
		}
		a.register(halves...)
		p.replace(b, halves...)
		halves[1].behind, b.behind = b.behind, nil
		p.sendBack(halves[0], now)
		halves[1].retryAt = halves[0].retryAt
		if counted != nil {
			counted.Add(1)
		}
	}
	wake := p.wakeOthers() || halves != nil
	p.mu.Unlock()
	if halves != nil {
		// The parent's records now belong to the halves: it leaves without
		// callbacks.
		a.release(b)
		a.forget(b)
	}
	if wake {
		a.cfg.Wake(b.TP)
	}
	return halves != nil
}

// halve re-encodes b's records into two batches. b is in flight, so its
// bytes and entries are the caller's to read.
func (a *Accumulator) halve(b *Batch) ([]*Batch, error) {
	decoded, _, err := record.DecodeBatch(b.encoded)
	if err != nil {
		return nil, fmt.Errorf("splitting the batch: decoding our own batch: %w", err)
	}
	if len(decoded.Records) != b.entries.len() {
		return nil, fmt.Errorf("splitting the batch: it holds %d records, expected %d", len(decoded.Records), b.entries.len())
	}
	mid := b.entries.len() / 2
	first := a.rebuild(b, decoded, 0, mid)
	second := a.rebuild(b, decoded, mid, b.entries.len())
	if b.baseSeq >= 0 {
		first.baseSeq = b.baseSeq
		second.baseSeq = addSeq(b.baseSeq, mid)
	}
	return []*Batch{first, second}, nil
}

// rebuild encodes records [from, to) of the decoded parent into a new
// batch that stands where the parent stood: sent before, due for a retry.
// It runs outside the partition's lock, so it reads only what stays fixed
// while the parent is in flight; Split copies maybeWritten under the lock.
func (a *Accumulator) rebuild(parent *Batch, decoded record.Batch, from, to int) *Batch {
	size := record.BatchHeaderSize
	for i := from; i < to; i++ {
		r := decoded.Records[i]
		size += record.RecordSize(int32(i-from), r.TimestampDelta, r.Key, r.Value, r.Headers)
	}
	// Deltas are re-based on the half's first record, which can change the
	// varint sizes a little either way: leave headroom rather than grow.
	size += 16 * (to - from)
	buf := make([]byte, 0, size)
	b := &Batch{TP: parent.TP, buf: buf, serial: parent.serial, entries: newEntries(entriesRoom{records: to - from}),
		created: parent.created, sentAt: parent.sentAt, deadline: parent.deadline, sealed: true,
		attempts: parent.attempts, unsent: parent.unsent, lastErr: parent.lastErr,
		producer: parent.producer, baseSeq: -1}
	b.builder.Reset(buf)
	c := cursor{e: parent.entries}
	for i := 0; i < to; i++ {
		if e, _ := c.next(); i >= from {
			b.entries.add(e)
		}
	}
	for i := from; i < to; i++ {
		r := decoded.Records[i]
		b.builder.Append(decoded.FirstTimestamp+r.TimestampDelta, r.Key, r.Value, r.Headers)
	}
	return b
}
