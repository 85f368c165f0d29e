// Package producer is a Kafka producer written from the wire protocol up.
//
// A record handed to Produce goes through four steps, each its own package:
// the partitioner picks its partition from the metadata cache; the
// accumulator encodes it into that partition's batch, in memory from the
// buffer pool; the sender of the partition's leader drains ready batches into
// ProduceRequests; the connection to that broker (package conn) writes them
// and reads the answers, which the sender reports to the accumulator: a batch
// answered for good is complete, and each record's callback runs with its
// offset or its error. DESIGN.md follows one record through all of it.
//
//	p, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}})
//	...
//	md, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("hello")})
//	...
//	p.Produce(ctx, rec, func(md producer.RecordMetadata, err error) { ... })
//	...
//	err = p.Close(ctx)
package producer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/topicname"
	"github.com/gokafka/producer/internal/txn"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/record"
	"github.com/gokafka/producer/sender"
)

// Producer publishes records to Kafka. It is safe for concurrent use by any
// number of goroutines.
type Producer struct {
	cfg      Config
	pool     *bufferpool.Pool
	acc      *accumulator.Accumulator
	cluster  *cluster.Cluster         // brokers, metadata, coordinators
	observer partitioner.Observer     // cfg.Partitioner, when it wants to know what went where
	loads    partitioner.LoadReporter // cfg.Partitioner, when it steers by queue load
	forgets  partitioner.Forgetter    // cfg.Partitioner, when it drops a forgotten topic's state
	// loadReports holds, per topic name, when its load was last reported
	// (an *atomic.Int64 of Unix nanoseconds; load.go), until the metadata
	// forgets the topic (topicsForgotten).
	loadReports sync.Map

	senders  senders
	held     held
	txn      *txn.Manager // nil unless TransactionalID is set
	counters sender.Counters
	auth     authState // the last metadata refresh's refusal, if any
	hooks    hooks     // Config.Hooks by event (hooks_run.go)

	// plainRecordBytes is the most key and value bytes a record without
	// headers may have and still fit both MaxRequestSize and BufferMemory,
	// whatever its varints take (plain, and check's own shortcut).
	plainRecordBytes int

	// refreshFailed is why the last metadata refresh failed (no broker
	// answered), nil once one succeeds: a record or a PartitionsFor call
	// that waited for metadata in vain says so, where "no metadata" alone
	// would leave the user to guess between the topic and the brokers.
	refreshFailed atomic.Pointer[error]

	idCh      chan struct{} // asks for a producer id (producerid.go)
	closed    atomic.Bool
	closeDone chan struct{} // closed when the first Close returns, with closeErr
	closeErr  error
	ctx       context.Context // background work's; cancelled by Close
	cancel    context.CancelFunc
	bg        sync.WaitGroup // the metadata, expiry and producer id loops
	loopsMu   sync.Mutex     // orders New's start of the loops with Close's cancel (startLoops)
}

// Callback receives a record's outcome: where it landed, or why it did not.
// A callback that panics on the producer's delivery goroutine ends the
// process, as a panic on any goroutine the caller cannot recover from
// does: the producer does not swallow a bug in it (a callback of a record
// refused inside Produce runs on the caller's goroutine, and its panic is
// the caller's). The same holds for hooks. A record whose Partitioner
// panicked in Produce gets no callback: that panic, the caller's, is its
// outcome (see Produce).
type Callback = func(RecordMetadata, error)

// New validates cfg and returns a producer. It does no I/O: brokers are
// contacted in the background, and records wait (within MaxBlock) for the
// metadata they need.
func New(cfg Config) (*Producer, error) {
	given := cfg
	cfg = cfg.WithDefaults()
	if err := cfg.validate(&given); err != nil {
		return nil, err
	}
	p := &Producer{
		cfg: cfg,
		// validate bounds BufferMemory by math.MaxInt: the int holds it.
		pool:      bufferpool.New(int(cfg.BufferMemory), cfg.BatchSize, cfg.clock),
		idCh:      make(chan struct{}, 1),
		closeDone: make(chan struct{}),
	}
	_ = sortHooks(cfg.Hooks, &p.hooks) // validate checked them
	// Before anything starts a goroutine: a refused producer is only
	// dropped.
	if err := attachHooks(cfg.Hooks, p); err != nil {
		return nil, err
	}
	p.plainRecordBytes = int(min(int64(cfg.MaxRequestSize), cfg.BufferMemory)) - record.BatchHeaderSize - record.MaxRecordOverhead
	p.observer, _ = cfg.Partitioner.(partitioner.Observer)
	p.loads, _ = cfg.Partitioner.(partitioner.LoadReporter)
	p.forgets, _ = cfg.Partitioner.(partitioner.Forgetter)
	inFlight := cfg.MaxInFlight
	if !cfg.DisableIdempotence {
		inFlight = min(inFlight, MaxIdempotentInFlight)
	}
	p.acc = accumulator.New(accumulator.Config{
		BatchSize:       cfg.BatchSize,
		Linger:          cfg.lingerInEffect(),
		DeliveryTimeout: cfg.DeliveryTimeout,
		MaxBlock:        cfg.MaxBlock,
		Codec:           cfg.Compression,
		Level:           cfg.CompressionLevel,
		Idempotent:      !cfg.DisableIdempotence,
		Transactional:   cfg.TransactionalID != "",
		MaxInFlight:     inFlight,
		Pool:            p.pool,
		Clock:           cfg.clock,
		Deliver:         deliver,
		NeedProducerID:  p.needProducerID,
		TopicErr:        p.topicErr,
		LeaderErr:       p.leaderErr,
		Wake: func(tp metadata.TopicPartition) {
			p.wakeLeader(p.cluster.Snapshot(), tp)
		},
		Settled:   p.settledHook(),
		Restarted: p.restartedHook(),
	})
	p.cluster = cluster.New(cluster.Config{
		Seeds:                  cfg.Brokers,
		Conn:                   p.connConfig(),
		RetryBackoff:           cfg.RetryBackoff,
		RetryBackoffMax:        cfg.RetryBackoffMax,
		MetadataMaxAge:         cfg.MetadataMaxAge,
		AllowAutoTopicCreation: cfg.AllowAutoTopicCreation,
		Clock:                  cfg.clock,
		Logger:                 cfg.Logger,
		NodeJoined:             p.nodeJoined,
		NodeLeft:               p.nodeLeft,
		Updated:                p.metadataUpdated,
		Applied:                p.metadataApplied,
		Forgot:                 p.topicsForgotten,
		Refreshed:              p.noteRefresh,
		InUse:                  p.acc.InUse,
		MaxIdle:                cfg.MetadataMaxIdle,
	})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if cfg.TransactionalID != "" {
		p.txn = p.newTransactionManager()
	}
	p.pool.OnWait(p.wakeAll) // a record waiting for memory makes every batch ready
	p.held.init(p)
	// Before the loops start: no other event can come before this one.
	for _, h := range p.hooks.newProducer {
		h.OnNewProducer(p)
	}
	p.startLoops()
	return p, nil
}

// startLoops starts the metadata, expiry and producer id loops, unless
// Close has stopped them already: an OnNewProducer hook may close the
// producer, or hand it to a goroutine that does, before New gets here, and
// that Close's wait for the loops (bg) counts only those started before
// its cancel. Deciding under loopsMu, which Close's cancel takes too, puts
// the start wholly before the cancel or after it, so that once Close has
// returned no loop runs, nor starts.
func (p *Producer) startLoops() {
	p.loopsMu.Lock()
	defer p.loopsMu.Unlock()
	if p.ctx.Err() != nil {
		return // closed: the loops would only see ctx ended, and return
	}
	p.bg.Add(3)
	go func() {
		defer p.bg.Done()
		p.cluster.Run(p.ctx)
	}()
	go p.expiryLoop()
	go p.producerIDLoop()
}

// ClientID is the producer's Config.ClientID, or its default: the name the
// brokers know it by, by which a metrics hook tells its measurements from
// other producers'. Two producers may share it (the default is the same
// for all).
func (p *Producer) ClientID() string { return p.cfg.ClientID }

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

// noSuchPartition is the error for a record sent, or partitioned, to a
// partition the topic does not have (Produce has rejected negative explicit
// partitions already). Out of line, like reject, for appendTo's frame. The
// PartitionError names a partition of 0 or more; the text under it does
// not again, but names a negative one, which the PartitionError leaves out.
//
//go:noinline
func noSuchPartition(r *Record, partition int32, partitions int) error {
	var err error
	switch {
	case r.ExplicitPartition:
		err = fmt.Errorf("%w: no such partition (the topic has %d)", ErrInvalidRecord, partitions)
	case partition < 0:
		err = fmt.Errorf("%w: the partitioner chose %d, not a partition of the topic (it has %d)", ErrInvalidRecord, partition, partitions)
	default:
		err = fmt.Errorf("%w: the partitioner chose a partition the topic does not have (it has %d)", ErrInvalidRecord, partitions)
	}
	return &PartitionError{Topic: r.Topic, Partition: partition, Err: err}
}

// closing reports an error met while the producer shuts down (an aborted
// accumulator, a closed pool, a cancelled background context) as ErrClosed,
// keeping the original for errors.Is.
func (p *Producer) closing(err error) error {
	if errors.Is(err, ErrClosed) {
		return err
	}
	if p.closed.Load() || errors.Is(err, accumulator.ErrClosed) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

// plain reports whether r is a record that check would pass whatever its
// topic: it names no partition, has no headers, and is far below both size
// limits, as most records are. Unlike check, it inlines.
func (p *Producer) plain(r *Record) bool {
	return !r.ExplicitPartition && len(r.Headers) == 0 && len(r.Key)+len(r.Value) <= p.plainRecordBytes
}

// check rejects what can never be produced, before any memory is spent;
// the topic's name only if the metadata does not know it (unknownTopic).
func (p *Producer) check(r *Record, unknownTopic bool) error {
	if unknownTopic {
		if err := validTopic(r.Topic); err != nil {
			return &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: err}
		}
	}
	if r.ExplicitPartition && r.Partition < 0 {
		return &PartitionError{Topic: r.Topic, Partition: r.Partition,
			Err: fmt.Errorf("%w: negative partition %d", ErrInvalidRecord, r.Partition)}
	}
	// Most records are far below both limits; a bound of their size, with
	// no varint to add up, shows it.
	if len(r.Headers) == 0 && len(r.Key)+len(r.Value) <= p.plainRecordBytes {
		return nil
	}
	size := record.BatchHeaderSize + record.RecordSize(0, 0, r.Key, r.Value, r.Headers)
	if size > p.cfg.MaxRequestSize {
		return &PartitionError{Topic: r.Topic, Partition: namedPartition(r),
			Err: &RecordTooLargeError{Size: size, Limit: p.cfg.MaxRequestSize, Of: "MaxRequestSize"}}
	}
	if int64(size) > p.cfg.BufferMemory {
		return &PartitionError{Topic: r.Topic, Partition: namedPartition(r),
			Err: &RecordTooLargeError{Size: size, Limit: int(p.cfg.BufferMemory), Of: "BufferMemory"}}
	}
	return nil
}

// rejectTimestamp refuses a record stamped before 1970, as the Java client
// does: Kafka reads a timestamp of -1 as none, and stores the others as
// they are, which no consumer expects. It refuses as out of range one
// whose milliseconds since 1970 do not fit an int64 (from about year
// 292,277,026 on, or as far before 1970), which time.Time.UnixMilli wraps:
// to a year long past, or to one before 1970.
func (p *Producer) rejectTimestamp(adm *admission, cb Callback, r *Record) {
	err := fmt.Errorf("%w: timestamp %v is out of range: its milliseconds since 1970 do not fit an int64", ErrInvalidRecord, r.Timestamp.UTC())
	if sec := r.Timestamp.Unix(); sec < 0 && sec >= math.MinInt64/1000 {
		err = fmt.Errorf("%w: timestamp %v is before 1970 (%d ms)", ErrInvalidRecord, r.Timestamp.UTC(), r.Timestamp.UnixMilli())
	}
	p.refuse(adm, refusedAtOnce(cb), r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: err})
}

// deliver is the accumulator's way back to the caller: it turns a record's
// result into its callback, on the delivery goroutine. The callback travels
// through the accumulator as an opaque value (a receiver), so no closure is
// allocated per record; a held record's failure travels as a *heldFailure,
// and an event for the hooks as a hookEvent. A plain Callback, by far the
// most common, is tried first, and the other kinds out of line, so that the
// usual record's call has a small frame.
//
// It needs nothing of the producer, and is a function rather than a
// method: as a method value (p.deliver) every record's outcome went through
// the wrapper Go builds for one, a call more on the delivery goroutine.
func deliver(cb any, r *accumulator.Result) {
	if f, ok := cb.(Callback); ok {
		f(metadataOf(r, time.UnixMilli(r.Timestamp)), errorOf(r))
		return
	}
	deliverOther(cb, r)
}

// deliverOther is deliver's way for a receiver that is not a plain
// Callback.
func deliverOther(cb any, r *accumulator.Result) {
	switch f := cb.(type) {
	case *tracked:
		f.complete(metadataOf(r, time.UnixMilli(r.Timestamp)), errorOf(r), r.Sent)
	case *heldFailure:
		f.deliver()
	case hookEvent:
		f()
	}
}

// metadataOf is a record's metadata as its callback is given it, with its
// timestamp as a time.Time. It is small enough to inline, so the metadata
// is built where the call passes it: returned from a function that is not
// inlined, it came back through memory, and the caller copied it out 16
// bytes at a time from the 8-byte stores just made: a load that spans two
// stores cannot be forwarded from them, and waits for both to reach the
// cache. That stall, on every record, was most of the 6% of a keyless
// run's CPU the delivery took on Kafka; built in place, the run took 0.93x
// the CPU on the embedded broker and 0.90x on Kafka (paired runs).
func metadataOf(r *accumulator.Result, timestamp time.Time) RecordMetadata {
	return RecordMetadata{
		Topic:               r.Topic,
		Partition:           r.Partition,
		Offset:              r.Offset,
		Timestamp:           timestamp,
		SerializedKeySize:   int(r.KeySize),
		SerializedValueSize: int(r.ValueSize),
	}
}

// errorOf is a record's error as its callback is given it.
func errorOf(r *accumulator.Result) error {
	if r.Err == nil {
		return nil
	}
	return failure(r)
}

// failure wraps a failed record's error for its callback. The transaction,
// if any, knows of it already (accumulator.Config.Failed).
func failure(r *accumulator.Result) error {
	err := r.Err
	if errors.Is(err, accumulator.ErrClosed) && !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return &PartitionError{Topic: r.Topic, Partition: r.Partition, Err: err}
}

// failed is the metadata given with a record that never got an offset; a
// nil record has none of its own.
func failed(r *Record) RecordMetadata {
	if r == nil {
		return RecordMetadata{Partition: -1, Offset: -1, SerializedKeySize: -1, SerializedValueSize: -1}
	}
	md := RecordMetadata{Topic: r.Topic, Partition: namedPartition(r), Offset: -1, Timestamp: r.Timestamp,
		SerializedKeySize: -1, SerializedValueSize: -1}
	if r.Key != nil {
		md.SerializedKeySize = len(r.Key)
	}
	if r.Value != nil {
		md.SerializedValueSize = len(r.Value)
	}
	return md
}

// namedPartition is the partition r named (Record.ExplicitPartition), or
// -1 for one the partitioner was to choose: what both the RecordMetadata
// (failed) and the *PartitionError of a record that failed before it was
// given a partition say, so that the two agree. Out of line, like reject,
// for Produce's frame, which inlined it grew.
//
//go:noinline
func namedPartition(r *Record) int32 {
	if r.ExplicitPartition {
		return r.Partition
	}
	return -1
}

// ValidateTopicName says why a broker would refuse name as a topic's
// name, or returns nil if it takes it: the rule by which Produce and
// PartitionsFor refuse a record's topic at once (with ErrInvalidRecord),
// and SendOffsetsToTransaction an offset's (with ErrInvalidOffsets).
// A program that takes topic names from its users (a flag, a config file)
// can refuse a bad one before it creates the topic or starts anything.
// The error gives the reason alone, "topic name has '/'; ...": the caller
// has the name, and names it in its own words.
func ValidateTopicName(name string) error { return topicname.Check(name) }

// validTopic applies the broker's rules for topic names, so a bad name fails
// at once instead of after MaxBlock of metadata lookups.
func validTopic(name string) error {
	if err := ValidateTopicName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return nil
}
