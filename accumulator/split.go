package accumulator

import (
	"fmt"

	"github.com/gokafka/producer/record"
)

// Split handles a broker's MESSAGE_TOO_LARGE (cause) for a batch of more than one
// record (KIP-126): the records are re-encoded into two batches of about
// half the records each, which take the batch's place at the front of its
// queue and keep its callbacks, creation time and Flush position. It reports
// false, changing nothing, when the batch holds a single record and so
// cannot be split.
//
// The halves are allocated outside the buffer pool, as the Java client does
// for split batches: the sender must not block on memory, and the halves
// together are no larger than the pooled buffer they replace, which goes
// back to the pool now.
func (a *Accumulator) Split(b *Batch, cause error) (bool, error) {
	if len(b.entries) < 2 {
		return false, nil
	}
	decoded, _, err := record.DecodeBatch(b.encoded)
	if err != nil {
		return false, fmt.Errorf("splitting %s-%d: decoding our own batch: %w", b.TP.Topic, b.TP.Partition, err)
	}
	if len(decoded.Records) != len(b.entries) {
		return false, fmt.Errorf("splitting %s-%d: batch holds %d records, expected %d", b.TP.Topic, b.TP.Partition, len(decoded.Records), len(b.entries))
	}
	mid := len(b.entries) / 2
	halves := [2]*Batch{
		a.rebuild(b, decoded, 0, mid),
		a.rebuild(b, decoded, mid, len(b.entries)),
	}

	// The parent's records now belong to the halves: retire it without
	// callbacks before the halves can complete.
	b.done.Store(true)
	a.release(b)
	a.forget(b)
	a.requeue(halves[0].TP, cause, halves[0], halves[1])
	return true, nil
}

// rebuild encodes records [from, to) of the decoded parent into a new batch.
func (a *Accumulator) rebuild(parent *Batch, decoded record.Batch, from, to int) *Batch {
	size := record.BatchHeaderSize
	for i := from; i < to; i++ {
		r := decoded.Records[i]
		size += record.RecordSize(int32(i-from), r.TimestampDelta, r.Key, r.Value, r.Headers)
	}
	// Deltas are re-based on the half's first record, which can change the
	// varint sizes a little either way: leave headroom rather than grow.
	size += 16 * (to - from)
	b := a.newBatch(parent.TP, make([]byte, 0, size), false, parent.seq)
	b.created = parent.created
	b.attempts = parent.attempts
	b.sealed = true
	b.entries = append(b.entries, parent.entries[from:to]...)
	for i := from; i < to; i++ {
		r := decoded.Records[i]
		b.builder.Append(decoded.FirstTimestamp+r.TimestampDelta, r.Key, r.Value, r.Headers)
	}
	return b
}
