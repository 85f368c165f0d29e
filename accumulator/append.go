package accumulator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/slot"
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
	// Filled: the append filled one of the partition's batches, the
	// record's or, when the record did not fit in what room the open batch
	// had left, that batch (the record then started the next). A sticky
	// partitioner waits for this before it switches, so that it switches
	// as a batch fills rather than at an arbitrary byte count. The record
	// that did not fit is left behind, alone in the next batch, which goes
	// at its linger or beside another batch of the broker's. The Java
	// client's partitioner waits instead for the partition's last batch to
	// be full after the append (allBatchesFull), which the batch that
	// record started is not: its turn goes on into that batch. DESIGN.md
	// (the path of one record, Partition) weighs the two.
	Filled bool
}

// Record is one record as Append takes it. Append copies its bytes and
// keeps its Callback; the caller may reuse the Record once Append returns.
// It is passed by pointer, and its Data on to the batch's builder by
// pointer too: as separate arguments, its fields were more than the
// registers that carry a call's arguments, and were copied through memory
// at every step of every record's way into its batch.
type Record struct {
	record.Data
	// Callback is handed to Config.Deliver with the record's outcome.
	Callback any
	// Since is when the record was handed to the producer, for a record
	// that waited before it could be appended (for its topic's metadata):
	// its DeliveryTimeout runs from then, its wait for a batch's memory
	// included. The zero Time means now.
	Since time.Time
	// NoWait fails the record at once, with the pool's timeout, if a new
	// batch's memory is not free: for a record appended while none can come
	// back (the producer closing from a callback, which holds up the
	// callbacks that give batches' memory back).
	NoWait bool
}

// Append encodes one record into tp's open batch, starting a new batch
// (and waiting up to MaxBlock, or until ctx ends, for its memory; for a
// record with a Since, no longer than its DeliveryTimeout leaves) when the
// record does not fit. topic is the slot of tp's topic's metadata
// (metadata.Topic.Slot), through which the partition is found without a
// lookup by name; nil finds it by name. On success r.Callback will be
// handed to Config.Deliver exactly once; on error it will not.
func (a *Accumulator) Append(ctx context.Context, tp TopicPartition, topic *slot.Slot, r *Record) (AppendResult, error) {
	if err := a.refusal(); err != nil {
		return AppendResult{}, err
	}
	p := a.partitionVia(topic, tp)

	p.mu.Lock()
	res, ok := a.tryAppend(p, r)
	p.mu.Unlock()
	if ok {
		return res, nil
	}
	return a.appendToNewBatch(ctx, p, r, res.Filled)
}

// appendToNewBatch appends r to a new batch of p, which Append's first try
// found full or missing; filled: that try sealed the open batch. It is
// Append's slow path, a function of its own so that its frame is not on
// the producing goroutine's stack for every record (see the producer's
// Produce on why that stack is kept shallow).
//
// Memory free at once, with nobody queued for memory, is taken under the
// partition's lock, so that of the goroutines that find the partition
// without an open batch together, the first starts one and the others
// append to it. Taken outside the lock, each took a buffer and all but one
// gave it back: with thousands of goroutines producing, hundreds of buffers
// at once, which touched memory that no batch needed and failed records
// that could not wait for it. A wait for memory is made outside the lock,
// as Allocate may block for MaxBlock and other goroutines must still be
// able to fill and drain the partition; so is a buffer larger than a
// batch's, for a record that does not fit one, lest its zeroing hold them
// up. (A batch-size buffer the pool makes on the heap, where it has no
// mapping, is zeroed under the lock: a few microseconds, once for each
// buffer the free list does not have yet.)
func (a *Accumulator) appendToNewBatch(ctx context.Context, p *partition, r *Record, filled bool) (AppendResult, error) {
	size := max(a.cfg.BatchSize, record.BatchHeaderSize+record.RecordSize(0, 0, r.Key, r.Value, r.Headers))
	p.mu.Lock()
	res, done, err := a.appendOrStartLocked(p, r, size, nil)
	p.mu.Unlock()
	if err != nil || done {
		return finishAppend(res, err, filled)
	}
	filled = filled || res.Filled
	buf, waitErr := a.allocate(ctx, size, r)
	if waitErr != nil && !errors.Is(waitErr, bufferpool.ErrTimeout) {
		return AppendResult{}, waitErr
	}
	// Waiting, r may have queued behind goroutines that found the
	// partition without a batch as it did: the first of them served
	// started one, and the others got memory only to give it back. So
	// when MaxBlock passes (or, for a NoWait record, no memory was free)
	// r is appended to the open batch if it fits, which takes no more
	// memory, rather than failed beside it.
	p.mu.Lock()
	res, done, err = a.appendOrStartLocked(p, r, size, buf)
	p.mu.Unlock()
	if err == nil && !done {
		err = waitErr
	}
	return finishAppend(res, err, filled)
}

// finishAppend is appendToNewBatch's result: the append's, with filled
// (the first try sealed a batch) told too, or err alone.
func finishAppend(res AppendResult, err error, filled bool) (AppendResult, error) {
	if err != nil {
		return AppendResult{}, err
	}
	res.Filled = res.Filled || filled
	return res, nil
}

// appendOrStartLocked appends r to p's open batch, which another goroutine
// may have started since Append's first try, or else to a new batch in
// buf, which is given back if another batch took r. Without buf, it takes
// a batch's memory only if it is free at once, and done is false if it was
// not. p.mu must be held.
func (a *Accumulator) appendOrStartLocked(p *partition, r *Record, size int, buf []byte) (res AppendResult, done bool, err error) {
	// Abort and Fatal empty every partition after setting their flag:
	// checking it under the partition's lock guarantees no batch is added
	// behind their back.
	if err := a.refusal(); err != nil {
		a.cfg.Pool.Deallocate(buf)
		return AppendResult{}, false, err
	}
	res, ok := a.tryAppend(p, r)
	if ok {
		a.cfg.Pool.Deallocate(buf)
		return res, true, nil
	}
	if buf == nil {
		if size != a.cfg.BatchSize {
			return res, false, nil
		}
		if buf, ok = a.cfg.Pool.TryAllocate(size); !ok {
			return res, false, nil
		}
	}
	b := a.newBatch(p.tp, buf, true, a.serial.Add(1), p.lastRoom())
	b.created = a.cfg.Clock.Now()
	b.deadline = b.created.Add(a.cfg.DeliveryTimeout)
	p.started = b.created
	p.batches = append(p.batches, b)
	p.pending.Store(true)
	a.watchExpiry(p)
	filled := res.Filled
	res, _ = a.tryAppend(p, r)
	res.Wake = true
	res.Filled = res.Filled || filled
	return res, true, nil
}

// allocate takes the buffer of a new batch for r, waiting up to MaxBlock
// for it. A record that waited before its append (r.Since) waits no longer
// than its DeliveryTimeout leaves: that timeout runs from Since, and a wait
// past it would only make its outcome late. Its memory not coming in time
// then fails it as its batch would have, with ErrDeliveryTimeout, and not
// with the pool's timeout, which says that MaxBlock passed.
func (a *Accumulator) allocate(ctx context.Context, size int, r *Record) ([]byte, error) {
	if r.NoWait {
		return a.cfg.Pool.Allocate(ctx, size, 0)
	}
	if r.Since.IsZero() {
		return a.cfg.Pool.Allocate(ctx, size, a.cfg.MaxBlock)
	}
	deadline := r.Since.Add(a.cfg.DeliveryTimeout)
	if deadline.Sub(a.cfg.Clock.Now()) >= a.cfg.MaxBlock {
		return a.cfg.Pool.Allocate(ctx, size, a.cfg.MaxBlock)
	}
	buf, err := a.cfg.Pool.AllocateUntil(ctx, size, deadline)
	if errors.Is(err, bufferpool.ErrTimeout) {
		return nil, fmt.Errorf("%w: buffer memory for its batch did not free up within its DeliveryTimeout (%v), which runs from when it was produced: %v",
			ErrDeliveryTimeout, a.cfg.DeliveryTimeout, err)
	}
	return buf, err
}

// refusal is why Append takes nothing, if it does not.
func (a *Accumulator) refusal() error {
	if err := a.fatalErr(); err != nil {
		return err
	}
	if a.aborted.Load() {
		// In the closer's words, as the batches Abort failed (abortedBy is
		// set before aborted).
		return a.abortedBy.Load()
	}
	if err := a.txnAbort.Load(); err != nil {
		return *err
	}
	return nil
}

// tryAppend appends r to p's open batch if it fits its buffer. A record
// that does not fit seals the batch, which is then full and ready; only an
// empty batch takes any record, since its buffer was sized for it. p.mu
// must be held.
func (a *Accumulator) tryAppend(p *partition, r *Record) (AppendResult, bool) {
	b := p.open()
	if b == nil {
		return AppendResult{}, false
	}
	before := b.builder.Size()
	if !b.builder.AppendWithin(cap(b.buf), &r.Data) {
		b.sealed = true
		return AppendResult{Wake: true, Filled: true}, false
	}
	b.entries.add(entry{cb: r.Callback, timestamp: r.TimestampMs, keySize: sizeOf(r.Key), valueSize: sizeOf(r.Value)})
	if !r.Since.IsZero() {
		if d := r.Since.Add(a.cfg.DeliveryTimeout); d.Before(b.deadline) {
			b.deadline = d
			a.earlier.Notify()
		}
	}
	res := AppendResult{Bytes: b.builder.Size() - before}
	if b.builder.Size() >= a.cfg.BatchSize {
		b.sealed = true
		res.Wake, res.Filled = true, true
	}
	return res, true
}

// newBatch starts a batch in buf, its entries with about room, and
// registers it as incomplete.
func (a *Accumulator) newBatch(tp TopicPartition, buf []byte, pooled bool, serial uint64, room entriesRoom) *Batch {
	b := &Batch{TP: tp, buf: buf, pooled: pooled, serial: serial, entries: newEntries(room), producer: noProducer, baseSeq: -1}
	b.builder.Reset(buf)
	a.register(b)
	return b
}

func sizeOf(b []byte) int32 {
	if b == nil {
		return -1
	}
	return int32(len(b))
}
