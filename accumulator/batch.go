package accumulator

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/record"
)

// Batch is one partition's records, encoded as a RecordBatch v2 as they
// arrive. Its fields are guarded by its queue's mutex while it sits in the
// queue, and owned by the sender that drained it until it is completed or
// re-enqueued.
type Batch struct {
	TP TopicPartition

	builder record.Builder
	buf     []byte // the buffer the builder writes into
	pooled  bool   // buf came from the buffer pool and goes back to it
	entries []entry

	created time.Time // first append: the start of Linger and DeliveryTimeout
	seq     uint64    // creation order, for Flush; split halves inherit it
	sealed  bool      // no more appends: full, or drained

	encoded      []byte // the closed batch, set when first drained; retries resend it
	uncompressed int    // batch size before compression, for statistics

	attempts int       // sends so far
	retryAt  time.Time // not drainable before this (retry backoff)
	done     atomic.Bool
}

// entry is what a record needs back when its batch completes.
type entry struct {
	cb        any
	timestamp int64
	keySize   int32
	valueSize int32
}

// entryPool recycles the per-batch slices of entries: a batch of small
// records would otherwise grow its slice a dozen times.
var entryPool = sync.Pool{New: func() any { s := make([]entry, 0, 256); return &s }}

func newEntries() []entry { return (*entryPool.Get().(*[]entry))[:0] }

func freeEntries(s []entry) {
	clear(s)
	s = s[:0]
	entryPool.Put(&s)
}

// Records is the number of records in the batch.
func (b *Batch) Records() int { return len(b.entries) }

// Encoded is the closed RecordBatch, ready for a ProduceRequest.
func (b *Batch) Encoded() []byte { return b.encoded }

// Attempts is how many times the batch has been sent.
func (b *Batch) Attempts() int { return b.attempts }

// Created is when the batch's first record was appended.
func (b *Batch) Created() time.Time { return b.created }

// Size is the batch's size on the wire: encoded if closed, else as built.
func (b *Batch) Size() int {
	if b.encoded != nil {
		return len(b.encoded)
	}
	return b.builder.Size()
}

// MarkSent counts one more send of the batch. The sender calls it as it
// puts the batch in a request.
func (b *Batch) MarkSent() { b.attempts++ }
