package accumulator

import "fmt"

// RecordError is a broker's error for one record of a batch it refused
// (KIP-467): Index is the record's place in the batch, from 0.
type RecordError struct {
	Index int
	Err   error
}

// Refuse fails b for good with err, as Complete does, after the broker
// refused it for the records it named: each of those fails with its own
// error from named, and every other record with one that wraps
// ErrBatchRefused and names err in its text without matching it
// (errors.Is), so that a caller tells the records the broker found at fault
// from those refused only for being in their batch, which may be produced
// again. Kafka refuses a whole batch for one invalid record (a record
// without a key on a compacted topic, a timestamp out of range), and the
// Java client fails its records this way. An index outside the batch is
// ignored, and when none is left every record fails with err, as nothing
// then says which records were at fault.
func (a *Accumulator) Refuse(b *Batch, err error, named []RecordError) {
	a.completeAnswer(b, -1, -1, err, named)
}

// refusal is what a broker's refusal of a batch means for each of its
// records. It is read by the delivery goroutine, record by record, only for
// a batch that has one: the records of every other batch share its error.
type refusal struct {
	named  map[int]error // by index in the batch
	others error         // the records not named
}

// refusalOf is the refusal of b with err, or nil when named holds no index
// of b. b's partition's lock must be held.
func refusalOf(b *Batch, err error, named []RecordError) *refusal {
	var r *refusal
	for _, n := range named {
		if n.Index < 0 || n.Index >= b.Records() {
			continue // a malformed answer: no record of this batch
		}
		if r == nil {
			r = &refusal{named: make(map[int]error, len(named)),
				others: fmt.Errorf("%w, not this one: %v", ErrBatchRefused, err)}
		}
		if _, twice := r.named[n.Index]; !twice {
			r.named[n.Index] = n.Err
		}
	}
	return r
}

// of is the error of the batch's record i.
func (r *refusal) of(i int) error {
	if err, ok := r.named[i]; ok {
		return err
	}
	return r.others
}

// maybeWritten marks every record's error as ErrMaybeWritten's, for a batch
// that an earlier attempt may have written: then the records not named may
// be in the log after all. r is nil for a batch refused without naming
// any of its records.
func (r *refusal) maybeWritten() {
	if r == nil {
		return
	}
	for i, err := range r.named {
		r.named[i] = fmt.Errorf("%w (%w)", err, ErrMaybeWritten)
	}
	r.others = fmt.Errorf("%w (%w)", r.others, ErrMaybeWritten)
}
