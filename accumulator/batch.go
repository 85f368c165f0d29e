package accumulator

import (
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/record"
)

// Batch is one partition's records, encoded as a RecordBatch v2 as they
// arrive. Its fields are guarded by its partition's mutex, except the
// builder and the encoded bytes while the batch is in flight: then the
// sender that drained it owns them.
type Batch struct {
	TP TopicPartition

	builder record.Builder
	buf     []byte // the buffer the builder writes into
	pooled  bool   // buf came from the buffer pool and goes back to it
	entries *entries

	created  time.Time // first append: the start of Linger
	sentAt   time.Time // first drained: the end of its time in the queue
	deadline time.Time // when DeliveryTimeout ends for its oldest record
	serial   uint64    // creation order, for Flush; split halves inherit it
	sealed   bool      // no more appends: full, or drained
	// leftOut: a request went without it for lack of room, so it no longer
	// waits for the answer in flight (see lingers).
	leftOut bool

	encoded      []byte // the closed batch, set when first drained; retries resend it
	uncompressed int    // batch size before compression, for statistics
	stamped      stamp  // the producer fields encoded carries

	// Where the batch is on its way. A batch is queued (never drained,
	// attempts == 0), in flight, waiting for a retry (attempts > 0), or
	// settled (below).
	attempts  int       // times drained into a request, this one included
	unsent    int       // of those, requests never written (Retry.NotSent)
	inFlight  bool      // in a request awaiting its answer
	sentRound uint32    // the partition's round when it was last sent
	retryAt   time.Time // not drainable before this (retry backoff)
	lastErr   error     // why the last attempt failed, for a later timeout's error
	// settled: its records have their outcome, yet it stays in its
	// partition, for its sequence numbers or its request still in flight
	// (partition.settle; counted in partition.settled). A batch whose
	// outcome lets it go at once (acknowledged, or failed certainly not
	// written) leaves the list and is never settled.
	settled   bool
	delivered bool // its callbacks have run (settled batches only)
	// maybeWritten: an attempt went unanswered, or failed after the leader
	// appended it, so the broker may have written the records whatever
	// later attempts are told.
	maybeWritten bool

	// The idempotence fields, set when the batch is first drained (or its
	// partition's sequences restart): what the broker deduplicates by.
	producer ProducerID
	baseSeq  int32
	// restarted: the sequence was reassigned under a new epoch (KIP-360).
	restarted bool
	// epochSpent: the broker refused the batch's sequence, as the
	// partition's next batch or while its sequences wait to restart, or its
	// epoch: under the epoch it has it can no longer be written, and goes
	// again only renumbered by the restart.
	epochSpent bool

	// behind is a batch of the partition written while this one, before
	// it, had no outcome yet: this one waited for a retry after an attempt
	// that may have been written, and the batch behind was acknowledged
	// first. Its callbacks, and those of the batches behind it in turn,
	// are queued right after this batch's, so that a partition's outcomes
	// come in offset order. Should this batch fail, its callbacks run at
	// once and the batches behind it move to the batch before it still
	// without its outcome, if any: a failure has no offset to keep in
	// order.
	behind *Batch

	// The outcome, set when the batch is completed and read by the
	// delivery goroutine; given tells Flush the outcome exists.
	baseOffset      int64
	logAppendTimeMs int64
	err             error
	refused         *refusal // the records' own errors, when the broker named some (Refuse)
	given           atomic.Bool
}

// stamp is what record.StampProducer writes into a closed batch.
type stamp struct {
	producer ProducerID
	baseSeq  int32
}

// Records is the number of records in the batch. Read it before
// Complete, Retry or Split hands b back: once its records have had their
// outcome it reads 0, and the delivery goroutine may be letting go of
// them meanwhile.
func (b *Batch) Records() int { return b.entries.len() }

// Encoded is the closed RecordBatch, ready for a ProduceRequest.
func (b *Batch) Encoded() []byte { return b.encoded }

// Attempts is how many times the batch has been drained into a request,
// this time included: its requests that never left count too (sent).
func (b *Batch) Attempts() int { return b.attempts }

// sent is how many of the batch's requests reached the broker, or may
// have: attempts but those whose request was never written.
func (b *Batch) sent() int { return b.attempts - b.unsent }

// Created is when the batch's first record was appended.
func (b *Batch) Created() time.Time { return b.created }

// Size is the batch's size on the wire: encoded if closed, else as built.
func (b *Batch) Size() int {
	if b.encoded != nil {
		return len(b.encoded)
	}
	return b.builder.Size()
}
