package accumulator

import (
	"context"

	"github.com/gokafka/producer/record"
)

// AppendResult tells the caller what the append changed.
type AppendResult struct {
	// Wake is true when a batch became ready (full) or a new batch was
	// started (its linger timer must be armed): the partition's sender
	// should look at the accumulator again.
	Wake bool
	// Bytes is what the record added to its batch, for the sticky
	// partitioner's accounting.
	Bytes int
}

// Append encodes one record into tp's open batch, starting a new batch
// (and waiting up to MaxBlock, or until ctx ends, for its memory) when the
// record does not fit. On success cb will be handed to Config.Complete
// exactly once; on error it will not.
func (a *Accumulator) Append(ctx context.Context, tp TopicPartition, timestampMs int64, key, value []byte, headers []record.Header, cb any) (AppendResult, error) {
	if a.aborted.Load() {
		return AppendResult{}, ErrClosed
	}
	q := a.queue(tp)
	e := entry{cb: cb, timestamp: timestampMs, keySize: sizeOf(key), valueSize: sizeOf(value)}

	q.mu.Lock()
	res, ok := a.tryAppend(q, e, key, value, headers)
	q.mu.Unlock()
	if ok {
		return res, nil
	}

	// Allocate outside the partition lock: Allocate may block for MaxBlock,
	// and other goroutines must still be able to fill and drain this queue.
	size := record.BatchHeaderSize + record.RecordSize(0, 0, key, value, headers)
	if size < a.cfg.BatchSize {
		size = a.cfg.BatchSize
	}
	buf, err := a.cfg.Pool.Allocate(ctx, size, a.cfg.MaxBlock)
	if err != nil {
		return AppendResult{}, err
	}

	q.mu.Lock()
	// Abort empties every queue after setting aborted: checking it under the
	// queue's lock guarantees no batch is added behind Abort's back.
	if a.aborted.Load() {
		q.mu.Unlock()
		a.cfg.Pool.Deallocate(buf)
		return AppendResult{}, ErrClosed
	}
	// Another goroutine may have started a batch while we waited.
	if res, ok := a.tryAppend(q, e, key, value, headers); ok {
		q.mu.Unlock()
		a.cfg.Pool.Deallocate(buf)
		return res, nil
	}
	b := a.newBatch(tp, buf, true, a.batchSeq.Add(1))
	before := b.builder.Size()
	b.builder.Append(timestampMs, key, value, headers)
	b.entries = append(b.entries, e)
	b.created = a.cfg.Clock.Now()
	if b.builder.Size() >= a.cfg.BatchSize {
		b.sealed = true
	}
	q.batches = append(q.batches, b)
	added := b.builder.Size() - before
	q.mu.Unlock()
	return AppendResult{Wake: true, Bytes: added}, nil
}

// tryAppend appends to q's open batch if the record fits its buffer. A
// record that does not fit seals the batch, which is then full and ready.
// q.mu must be held.
func (a *Accumulator) tryAppend(q *queue, e entry, key, value []byte, headers []record.Header) (AppendResult, bool) {
	b := q.open()
	if b == nil {
		return AppendResult{}, false
	}
	before := b.builder.Size()
	if b.builder.SizeWith(e.timestamp, key, value, headers) > cap(b.buf) {
		b.sealed = true
		return AppendResult{Wake: true}, false
	}
	b.builder.Append(e.timestamp, key, value, headers)
	b.entries = append(b.entries, e)
	res := AppendResult{Bytes: b.builder.Size() - before}
	if b.builder.Size() >= a.cfg.BatchSize {
		b.sealed = true
		res.Wake = true
	}
	return res, true
}

// newBatch starts a batch in buf and registers it as incomplete.
func (a *Accumulator) newBatch(tp TopicPartition, buf []byte, pooled bool, seq uint64) *Batch {
	b := &Batch{TP: tp, buf: buf, pooled: pooled, seq: seq, entries: newEntries()}
	b.builder.Reset(buf)
	a.incMu.Lock()
	a.incomplete[b] = struct{}{}
	a.incMu.Unlock()
	return b
}

func sizeOf(b []byte) int32 {
	if b == nil {
		return -1
	}
	return int32(len(b))
}
