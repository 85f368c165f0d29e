package producer

import (
	"context"
	"errors"
	"time"

	"github.com/gokafka/producer/metadata"
)

// receiver is what the accumulator hands back for a record once its
// outcome is known: its Callback, or, when record hooks are registered, a
// *tracked wrapping it. It travels as an opaque value, so that no closure
// is allocated per record.
type receiver = any

// tracked is a record that HookRecordAcknowledged hooks wait for: its
// callback, the context the HookRecordBuffered hooks returned, and when
// Produce took it.
type tracked struct {
	p     *Producer
	cb    Callback
	ctx   context.Context
	start time.Time
}

// track runs the HookRecordBuffered hooks for a record Produce accepted and
// returns what will receive its outcome.
func (p *Producer) track(r *Record, cb Callback) receiver {
	start := p.cfg.clock.Now()
	ctx := r.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, h := range p.hooks.buffered {
		if next := h.OnRecordBuffered(ctx, *r); next != nil {
			ctx = next
		}
	}
	if len(p.hooks.acknowledged) == 0 {
		return cb
	}
	return &tracked{p: p, cb: cb, ctx: ctx, start: start}
}

// complete runs the HookRecordAcknowledged hooks, then the callback. sent
// is when the record's batch was first sent, zero if never.
func (t *tracked) complete(md RecordMetadata, err error, sent time.Time) {
	t.acknowledge(md, err, sent)
	t.cb(md, err)
}

// acknowledge runs the HookRecordAcknowledged hooks alone: complete's
// first half, and all of it for a record whose Partitioner's Partition
// panicked in Produce (partitionTracked).
func (t *tracked) acknowledge(md RecordMetadata, err error, sent time.Time) {
	now := t.p.cfg.clock.Now()
	a := RecordAcknowledged{Metadata: md, Err: err, Latency: now.Sub(t.start), QueueTime: now.Sub(t.start)}
	if !sent.IsZero() {
		// A batch is sent after its records are appended, so after Produce
		// took each of them.
		a.QueueTime = sent.Sub(t.start)
		a.Sent = true
	}
	ctx := t.ctx
	t.ctx = nil // kept no longer than the outcome: the batch may outlive it
	for _, h := range t.p.hooks.acknowledged {
		h.OnRecordAcknowledged(ctx, a)
	}
}

// partitionTracked is the Partitioner's choice for r, a record Produce
// took whose HookRecordAcknowledged hooks track it as tr. A panic in it is
// Produce's caller's, as without hooks (see held_partitioner.go), yet the
// record's HookRecordBuffered hooks have run, and a span they started
// would never end: before the panic goes on, with the same value, the
// record's admission to the transaction ends, as refuse ends it and for
// the same reason (a hook may end the transaction), and its hooks hear
// that it failed, with a held record's error (partitionerPanicked). Its
// callback does not run: the panic is the record's outcome, the caller's
// to recover, as it is without hooks, and a callback run as well would
// give the record two. Out of line, for appendTo's frame.
//
//go:noinline
func (p *Producer) partitionTracked(adm *admission, t *metadata.Topic, r *Record, tr *tracked) int32 {
	defer func() {
		if v := recover(); v != nil {
			adm.exit()
			err := &PartitionError{Topic: r.Topic, Partition: -1, Err: partitionerPanicked(v)}
			tr.acknowledge(failed(r), err, time.Time{})
			panic(v)
		}
	}()
	return p.cfg.Partitioner.Partition(t.View, r.Key)
}

// refusedAtOnce is the receiver of a record Produce refuses before it is
// buffered: its callback, marked so that reject tells its HookRecordRefused
// hooks, which no receiver of a buffered record has.
type refusedAtOnce Callback

// reject gives a record that never reached a batch its outcome, on the
// calling goroutine. Its metadata has the partition its *PartitionError
// names, when err is one: the partition chosen for a record that then
// found no memory or no such partition, where the Record says none.
//
// It builds the record's metadata itself, and is kept out of line, so that
// Produce's frame holds none of its refusals' temporaries: a goroutine's
// stack is cold in the cache when thousands of goroutines each send in
// turn, and every line of it that Produce spans costs a miss (see
// PERFORMANCE.md, "Synchronous senders cost more per record").
//
//go:noinline
func (p *Producer) reject(rcv receiver, r *Record, err error) {
	md := failed(r)
	if pe := (*PartitionError)(nil); errors.As(err, &pe) {
		md.Partition = pe.Partition // as heldFailure.deliver finds it
	}
	switch c := rcv.(type) {
	case *tracked:
		c.complete(md, err, time.Time{})
	case Callback:
		c(md, err)
	case refusedAtOnce:
		p.refused(r, err)
		c(md, err)
	}
}

// refused tells the HookRecordRefused hooks of r's refusal; r is nil for a
// nil record.
func (p *Producer) refused(r *Record, err error) {
	if len(p.hooks.refused) == 0 {
		return
	}
	var rec Record
	if r != nil {
		rec = *r
	}
	ctx := rec.Context
	if ctx == nil {
		ctx = context.Background()
	}
	for _, h := range p.hooks.refused {
		h.OnRecordRefused(ctx, rec, err)
	}
}
