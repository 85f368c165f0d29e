package producer

import (
	"context"
	"math"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/txn"
	"github.com/gokafka/producer/metadata"
)

// Produce hands a record to the producer and returns once it is buffered;
// cb then runs exactly once with the record's outcome. ctx bounds only the
// wait for buffer memory, which is at most MaxBlock: a ctx already done
// lets Produce take only memory free at once, so that a caller that must
// never block (the Java client's max.block.ms=0) passes one. A record
// rejected before it is buffered (the producer is closed, or stopped for
// good: ErrProducerStopped; the record is invalid or too large; memory
// did not free up in time: ErrBufferFull, with the ctx's error if the ctx
// ended the wait) gets its error through cb before Produce returns, on
// the caller's goroutine. A panic in the Partitioner (see
// Config.Partitioner) is the caller's to recover, Produce not returning:
// one in its Partition leaves the record unbuffered, and cb does not run,
// the panic being the record's outcome; one in its Observer's Appended or
// LoadReporter's SetLoad comes after the append, so the record is
// buffered, is sent, and cb runs with its outcome as for any other. A
// record of a topic whose metadata the producer has not fetched yet waits
// for it instead (see MaxBlock), and is buffered or rejected once it
// comes: a rejection then, ErrProducerStopped included, runs cb on the
// delivery goroutine.
//
// Every other callback runs on the producer's delivery goroutine, one at a
// time, in the order the outcomes came (per partition, an acknowledgement
// after the outcome of every record before it, so in offset order; see
// DisableIdempotence for the exception; a failure is not held back behind
// an earlier record). A slow callback delays the
// callbacks behind it and, since a batch's memory goes back to the pool
// only once its callbacks have run, eventually Produce, which waits for
// memory; it never delays a request. A Produce called from a callback
// that finds memory short waits as any other, up to MaxBlock or the end of
// its ctx, while no callback runs: the batches whose callbacks are queued
// behind it give their memory back only once it returns, so give it a ctx
// with a short deadline, or produce from a goroutine of your own. Close,
// Flush and Send called from a callback return by their ctx at the
// latest; Close and Flush then wait only until outcomes are known, since
// their callbacks run after this one returns, while Send, which needs its
// record's callback, waits until its ctx ends (see Send).
//
// Produce copies the record's key, value and headers: the caller may reuse
// them as soon as it returns. cb may be nil, for a record whose outcome
// nobody waits for: its failure then reaches only the hooks (Config.Hooks),
// as the Java client's send without a callback leaves it in a Future
// nobody reads.
func (p *Producer) Produce(ctx context.Context, r *Record, cb Callback) {
	if cb == nil {
		cb = func(RecordMetadata, error) {}
	}
	if r == nil {
		p.reject(refusedAtOnce(cb), nil, &PartitionError{Partition: -1, Err: ErrNilRecord})
		return
	}
	if p.closed.Load() {
		p.reject(refusedAtOnce(cb), r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: ErrClosed})
		return
	}
	// From EnterProduce on, a commit or an abort waits for this record until
	// each way out of Produce ends its admission (adm.exit): once it is
	// appended or held, or, refused, before its outcome runs (refuse), since
	// a callback or hook that ends the transaction would wait for its own
	// record; the HookRecordBuffered hooks run outside it for the same
	// reason (trackOutsideAdmission). The deferred exit is for a panic in
	// user code that runs meanwhile (the Partitioner and its observers),
	// which the caller may recover: it ends an admission still open, and
	// only then, as a panic in a refused record's callback comes after the
	// exit, and one in the Partitioner of a record its hooks track after
	// partitionTracked's, which ends the admission before they hear of it.
	// Deferred only when transactional, so that the plain path pays no more
	// than the defer's bit.
	var adm admission
	if p.txn != nil {
		if err := p.txn.EnterProduce(); err != nil {
			p.reject(refusedAtOnce(cb), r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: err})
			return
		}
		adm.txn = p.txn
		defer adm.exit()
	}
	// The topic is looked up once per record, here; a topic the cluster
	// named is valid, one it did not is checked before it waits for
	// metadata that may never come.
	snap := p.cluster.Snapshot()
	t := snap.Topic(r.Topic)
	if t == nil || !p.plain(r) {
		if err := p.check(r, t == nil); err != nil {
			p.refuse(&adm, refusedAtOnce(cb), r, err)
			return
		}
	}
	var tsMs int64
	if r.Timestamp.IsZero() {
		tsMs = p.cfg.clock.UnixMilli()
	} else {
		// UnixMilli, from seconds taken once: as a uint64 they tell, in
		// one comparison, a time before 1970 or one whose milliseconds do
		// not fit an int64 (UnixMilli wraps); a negative tsMs then is an
		// overflow within the last second that fits.
		sec := r.Timestamp.Unix()
		tsMs = sec*1e3 + int64(r.Timestamp.Nanosecond())/1e6
		if uint64(sec) > math.MaxInt64/1000 || tsMs < 0 {
			p.rejectTimestamp(&adm, cb, r)
			return
		}
	}
	var rcv receiver = cb
	if p.hooks.records {
		var admitted bool
		if rcv, admitted = p.trackOutsideAdmission(&adm, r, cb); !admitted {
			return
		}
	}
	// The record waits for metadata if its topic's is not known yet, if the
	// topic lacks the explicit partition the record names (partitions may
	// be added), or if earlier records of the topic that it could land
	// beside still wait: it must not pass them.
	if t == nil || len(t.Partitions) == 0 {
		p.hold(ctx, &adm, r, tsMs, rcv, goesTo(r))
		return
	}
	if (r.ExplicitPartition && int(r.Partition) >= len(t.Partitions)) || p.held.holds(r.Topic, len(t.Partitions)) {
		p.hold(ctx, &adm, r, tsMs, rcv, goesTo(r))
		return
	}
	// The record's way into its batch runs on the caller's goroutine, and
	// with thousands of goroutines each sending, a goroutine's stack has
	// left the CPU's caches by its next turn: each 64 bytes of stack the
	// way reaches is a cache miss per record. So its frames are kept small
	// (TestProduceFitsAGoroutinesFirstStack holds them to the stack a new
	// goroutine starts with).
	// ar is filled field by field: a composite literal was built in a
	// temporary and copied, taking its room twice. Append's slow path
	// is a function of its own, and the record's bytes go down to the
	// builder by pointer.
	var ar accumulator.Record
	ar.TimestampMs, ar.Key, ar.Value, ar.Headers, ar.Callback = tsMs, r.Key, r.Value, r.Headers, rcv
	if err := p.appendTo(ctx, &adm, t, r, &ar); err != nil {
		p.refuse(&adm, rcv, r, err)
		return
	}
	adm.exit()
}

// admission is a record's admission to the transaction under way, from
// EnterProduce until Produce ends it; the zero value, of a producer that
// is not transactional, has none. It lives on Produce's stack, so that
// what has ended it is known there, panics included.
type admission struct{ txn *txn.Manager }

// exit ends the admission if it is still open: the first call ends it, a
// second, Produce's deferred one after a way out that ended it, does
// nothing, since a second ExitProduce would let the transaction end while
// another record is still on its way in.
func (a *admission) exit() {
	if m := a.txn; m != nil {
		a.txn = nil
		m.ExitProduce()
	}
}

// trackOutsideAdmission runs the record's HookRecordBuffered hooks (track)
// with its admission to the transaction ended, and admits it again after
// them. A hook may call the producer's methods as a callback may, and a
// Close, commit or abort from it waited for the admission of the very
// record whose Produce ran the hook: for ever with context.Background().
// The Java client likewise runs its interceptors' onSend before it asks
// the transaction whether a record may be sent. The record enters the
// transaction it was admitted to, or none: a commit or an abort begun
// while the hooks ran (by a hook, or another goroutine) did not wait for
// it, and the transaction open by then is not its own (EnterAfterHooks).
// Refused then, or by a producer closed meanwhile, the record fails
// through the hooks' receiver, so that its HookRecordAcknowledged hooks
// hear of it; admitted is then false. A producer that is not
// transactional has no admission to end. Out of line, like reject, for
// Produce's frame.
//
//go:noinline
func (p *Producer) trackOutsideAdmission(adm *admission, r *Record, cb Callback) (rcv receiver, admitted bool) {
	if adm.txn == nil {
		return p.track(r, cb), true
	}
	gen := p.txn.Generation() // read while the record is admitted
	adm.exit()
	rcv = p.track(r, cb)
	err := ErrClosed
	if !p.closed.Load() {
		err = p.txn.EnterAfterHooks(gen)
	}
	if err != nil {
		p.reject(rcv, r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: err})
		return nil, false
	}
	adm.txn = p.txn
	return rcv, true
}

// refuse gives a record Produce admitted its refusal: it books it with the
// transaction, then ends the record's admission before its outcome runs,
// on the caller's goroutine: a callback or HookRecordAcknowledged that
// ends the transaction there waited for this very Produce to return, for
// ever with context.Background(). A refused record joins no batch, so
// there is nothing of it for the commit or abort to wait for. Out of line,
// like reject, for Produce's frame.
//
//go:noinline
func (p *Producer) refuse(adm *admission, rcv receiver, r *Record, err error) {
	p.noteTxnRejection(r.Topic, err)
	adm.exit()
	p.reject(rcv, r, err)
}

// appendTo partitions a record of a known topic and appends it, as ar: its
// timestamp, bytes and receiver, and since when it waited for metadata if
// it did (such a record comes with its partition chosen: placeHeld, and
// adm nil; for the others adm is Produce's, which partitionTracked ends
// on a panic). The error, if any, is the record's, and the receiver has
// not run.
//
// t may be older than the metadata by the time the batch starts: the
// metadata loop may have forgotten the topic, idle until this append
// marked it used, under the record. The leader to wake is looked up in
// the current snapshot, so that a forgotten topic asks for a refresh
// (wakeLeader) rather than wake a sender that no longer leads it, which
// left the batch with none until MetadataMaxAge.
func (p *Producer) appendTo(ctx context.Context, adm *admission, t *metadata.Topic, r *Record, ar *accumulator.Record) error {
	partition := r.Partition
	if !r.ExplicitPartition {
		if tr, ok := ar.Callback.(*tracked); ok {
			partition = p.partitionTracked(adm, t, r, tr)
		} else {
			partition = p.cfg.Partitioner.Partition(t.View, r.Key)
		}
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return noSuchPartition(r, partition, len(t.Partitions))
	}
	tp := metadata.TopicPartition{Topic: r.Topic, Partition: partition}
	res, err := p.acc.Append(ctx, tp, t.Slot, ar)
	if err != nil {
		return &PartitionError{Topic: r.Topic, Partition: partition, Err: p.memoryErr(err, ar.Since.IsZero())}
	}
	if !ar.Since.IsZero() {
		// A record that waited for metadata: on a drain's goroutine,
		// where a panic in the partitioner's code is recovered.
		p.appendedHeld(t, tp, res)
		return nil
	}
	if res.Wake {
		p.appendedWaking(t, tp, res)
		return nil
	}
	if p.observer != nil {
		p.observer.Appended(t.View, partition, res.Bytes, res.Filled)
	}
	return nil
}

// appendedWaking finishes, for a record of Produce just appended to tp
// whose append started or filled a batch (res.Wake), what appendTo does
// after the append: it wakes the batch's sender, then tells the
// partitioner. The wake comes first, as appendedHeld's does, so that a
// panic in Appended or SetLoad, which reaches Produce's caller with the
// record appended, leaves nothing of the append undone. It is out of
// line, and taken once a batch rather than for every record, because
// appendTo calling the partitioner after the wake kept more of its values
// across the wake's call, and its frame grew by a word (see Produce on
// why that stack is kept shallow).
//
//go:noinline
func (p *Producer) appendedWaking(t *metadata.Topic, tp metadata.TopicPartition, res accumulator.AppendResult) {
	p.wakeLeader(p.cluster.Snapshot(), tp)
	if p.observer != nil {
		p.observer.Appended(t.View, tp.Partition, res.Bytes, res.Filled)
	}
	if p.loads != nil {
		p.reportLoad(t)
	}
}

// goesTo is the lowest partition r may go to: the one it names, or any.
func goesTo(r *Record) int32 {
	if r.ExplicitPartition {
		return r.Partition
	}
	return 0
}
