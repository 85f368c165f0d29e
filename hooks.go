package producer

import (
	"context"
	"time"
)

// A Hook watches the producer, for metrics, tracing or logs: it is any value
// implementing one or more of the Hook* interfaces below, one interface per
// event. Config.Hooks lists them; every hook of an event is called in that
// order. The Prometheus and OpenTelemetry plugins (modules plugin/promhooks
// and plugin/otelhooks) are built on them.
//
// No hook runs on a goroutine that talks to brokers. HookAttachProducer
// and HookNewProducer run in New, HookRecordBuffered and HookRecordRefused
// in Produce (and Send), on the caller's goroutine, as does
// HookRecordAcknowledged for a record that fails inside Produce; every
// other hook runs on the producer's delivery goroutine, the one that runs
// callbacks, in the order the events were queued: an event seen by a
// sender or a connection is queued there and never waited for. So a slow
// hook delays the callbacks and hooks behind it and, like a slow callback,
// eventually Produce (a batch's memory goes back once its callbacks have
// run), but never a request. A hook may call the producer's methods, with
// the same rules as a callback. Send from an OnNewProducer hook waits for
// its whole ctx, and New with it: the metadata and expiry loops start only
// once the hooks have returned, so its record can neither go nor expire. A
// Close from an OnNewProducer hook, or from a goroutine the hook hands the
// producer to, works as anywhere: the loops New has not started by then
// never start.
//
// Hooks cost nothing when none are registered: BenchmarkHooks measures
// Produce with none, with hooks of every event but the records', and with
// all of them.
type Hook any

// HookNewProducer is told of the producer the hook was configured with,
// from New, before any other event: a metrics hook keeps it to read its
// Stats.
type HookNewProducer interface {
	OnNewProducer(*Producer)
}

// HookAttachProducer is offered the producer New is making, before any
// hook hears of it, and may refuse it: a hook that serves one producer
// (the plugins' do, whose gauges read its Stats and whose counts would
// add up two producers' unseen) refuses a second. New offers it to every
// such hook in Config.Hooks' order; at the first error it fails with a
// *ConfigError naming the hook and saying why, which wraps that error for
// errors.Is and errors.As, and no hook hears of that producer. A hook
// that accepted it before another refused is left holding a producer New
// never returned, and may refuse the next: make new hooks for the next
// try. The producer is not ready yet: keep it to tell it from another,
// but call none of its methods (ClientID aside) and hand it to no
// goroutine; HookNewProducer brings it ready.
type HookAttachProducer interface {
	AttachProducer(*Producer) error
}

// HookRecordBuffered is told of each record Produce accepts, on the
// caller's goroutine, before the record is appended: it is not called for
// a record Produce refuses at once (a nil or invalid record, one too large,
// a closed producer), which only HookRecordRefused hears of. A transactional
// producer runs it outside the record's admission to the transaction, as
// the Java client runs its interceptors' onSend, so that a commit or an
// abort does not wait for a record whose hooks are running (the hook itself
// may end the transaction, or Close the producer): a record whose
// transaction began to end meanwhile fails once its hooks return, with
// ErrTransactionAborted (ErrClosed if the producer closed), rather than
// join the next transaction, and its HookRecordAcknowledged hooks hear of
// it.
//
// ctx is the record's Context (context.Background() if nil) for the first
// hook, and what the previous hook returned for the next; what the last one
// returns is handed to the record's HookRecordAcknowledged hooks. A tracing
// hook starts a span here and ends it there. r is a copy of the caller's
// record, whose Key, Value and Headers are still the caller's: read them
// during the call, do not keep them. (A *Record would cost every Produce an
// allocation, hooks or not: a pointer handed to an interface method
// escapes to the heap.)
type HookRecordBuffered interface {
	OnRecordBuffered(ctx context.Context, r Record) context.Context
}

// HookRecordAcknowledged is told of each accepted record's outcome, exactly
// once, just before its callback and where its callback runs: on the
// caller's goroutine, before Produce returns, for a record that fails
// before Produce appends it to a batch or holds it for its topic's
// metadata, whatever the reason (no memory freed up within MaxBlock or its
// ctx ended; the cluster stopped the producer for good, ErrProducerStopped,
// or it closed meanwhile; the partitioner chose a partition the topic
// lacks; its transaction began to end while its HookRecordBuffered hooks
// ran); on the delivery goroutine for every other record, one that waited
// for metadata included. A Partitioner whose Partition panics in Produce
// fails the record too, with an error wrapping ErrInvalidRecord ("the
// partitioner panicked: ..."), as it fails a record that waited for
// metadata: the hook hears of it on the caller's goroutine, before the
// panic goes on to Produce's caller, and the callback does not run (the
// panic is the record's outcome). ctx is what the HookRecordBuffered hooks returned
// (the record's Context without them). The producer keeps ctx only until
// then.
//
// A producer with this hook allocates a little per record (its callback,
// ctx and time, about 64 bytes) that it does not without.
type HookRecordAcknowledged interface {
	OnRecordAcknowledged(ctx context.Context, a RecordAcknowledged)
}

// RecordAcknowledged is one record's outcome.
type RecordAcknowledged struct {
	// Metadata and Err are what the record's callback gets.
	Metadata RecordMetadata
	Err      error
	// QueueTime runs from Produce to the first send of the record's batch:
	// the wait for metadata, memory, Linger and a sender. For a record
	// never sent it is Latency.
	QueueTime time.Duration
	// Latency runs from Produce to the outcome.
	Latency time.Duration
	// Sent: the record's batch was taken for a request at least once,
	// whether or not a broker wrote it. A record that failed in Produce,
	// waiting for metadata, or in the accumulator before any send was not.
	Sent bool
}

// HookRecordRefused is told of each record Produce fails at once, before
// it is buffered: a nil or invalid record, one too large, one a closed
// producer or a transactional one outside a transaction refuses, and one
// Send is given with its ctx done already. It runs on the caller's
// goroutine, just before the record's callback (before Send returns), with
// the error the callback gets (Send returns). Such a record was never
// buffered: neither HookRecordBuffered nor HookRecordAcknowledged hears of
// it, and a tracing hook that wants its span starts and ends it here. A
// record accepted that fails later, inside Produce (no memory freed up
// within MaxBlock, a partition that the partitioner chose and the topic
// lacks) or after (a Close that came while it waited for metadata), is
// acknowledged instead: its HookRecordBuffered hooks heard of it, and its
// HookRecordAcknowledged hooks hear of the failure.
//
// ctx is the record's Context (context.Background() if nil); r is a copy
// of the caller's record, as for HookRecordBuffered (the zero Record for a
// nil one, whose err matches ErrNilRecord): read it during the call, do
// not keep it.
type HookRecordRefused interface {
	OnRecordRefused(ctx context.Context, r Record, err error)
}

// HookBatchWritten is told of each batch the broker wrote (with AcksNone:
// each batch written to the socket), on the delivery goroutine before its
// records' callbacks. A batch that fails is not: its records' outcomes
// say why.
type HookBatchWritten interface {
	OnBatchWritten(BatchWritten)
}

// BatchWritten is a batch the broker wrote.
type BatchWritten struct {
	Topic      string
	Partition  int32
	BaseOffset int64 // the offset of its first record; -1 with AcksNone
	Records    int
	// Bytes is the RecordBatch's size before compression, CompressedBytes
	// its size on the wire (equal without compression).
	Bytes           int
	CompressedBytes int
	// Attempt is the send that was written: 1 for the first. A request
	// that died before it was written (its connection broke first) counts
	// as a send too, as the Java client counts its attempts.
	Attempt int
	// QueueTime runs from the batch's first record to its first send (the
	// Java client's record-queue-time).
	QueueTime time.Duration
}

// HookRequestWritten is told of each ProduceRequest written to a broker.
type HookRequestWritten interface {
	OnRequestWritten(RequestWritten)
}

// RequestWritten is a ProduceRequest on its way.
type RequestWritten struct {
	Broker  int32
	Batches int
	Records int
	// Bytes is the size of the record batches it carries.
	Bytes int
	// WriteTime runs from the request's handing to the connection to the
	// end of its write: any wait for one of the connection's MaxInFlight
	// slots, then the write. The request's RequestAnswered.Latency starts
	// at the same moment, so it includes WriteTime.
	WriteTime time.Duration
}

// HookRequestAnswered is told of each ProduceRequest's answer, or of its
// failure as a whole (Err: the connection broke, the request timed out or
// was never sent); with AcksNone, of its write (Unanswered). A partition's
// own error in an answer shows in the batch's retry or its records'
// outcomes.
type HookRequestAnswered interface {
	OnRequestAnswered(RequestAnswered)
}

// RequestAnswered is a ProduceRequest's answer.
type RequestAnswered struct {
	Broker  int32
	Batches int
	Records int
	// Latency runs from the request's handing to the connection to its
	// answer: the request's RequestWritten.WriteTime (any wait for one of
	// the connection's MaxInFlight slots, then the write), then the
	// broker's time to answer. It is 0 with AcksNone, answered by the
	// write, and for a request never sent.
	Latency time.Duration
	// Throttle is the answer's throttle time, 0 when the broker did not
	// throttle the producer (see HookThrottled, told only of those it
	// did). The Java client's produce-throttle-time-avg averages it over
	// every answer, 0 included.
	Throttle time.Duration
	Err      error
	// Unanswered: the request asked for no answer (AcksNone), and its
	// write, or its failure, ended it. No broker answered, and its
	// Latency of 0 measures nothing: a metric of answers and their
	// latencies leaves it out, as the Java client does with acks=0.
	Unanswered bool
}

// HookConnectionOpened is told of each attempt to connect to a broker: to
// the seed brokers (negative ids: -1 for the first of Config.Brokers, -2
// for the second...) and to the brokers metadata names.
type HookConnectionOpened interface {
	OnConnectionOpened(ConnectionOpened)
}

// ConnectionOpened is a connection attempt's end.
type ConnectionOpened struct {
	Broker int32
	Addr   string
	// DialTime covers TCP, TLS, the ApiVersions exchange and SASL.
	DialTime time.Duration
	// Err is why the attempt failed; nil when the connection is ready.
	Err error
}

// HookConnectionClosed is told of each connection that closed or broke,
// once, after its ConnectionOpened.
type HookConnectionClosed interface {
	OnConnectionClosed(ConnectionClosed)
}

// ConnectionClosed is a connection's end; Err says why (the producer
// closed it, the broker hung up, a request timed out...).
type ConnectionClosed struct {
	Broker int32
	Addr   string
	Err    error
}

// HookBatchRetried is told of each batch that goes back to its partition to
// be sent again after a failed attempt, a batch split in two as too large
// included (Split).
type HookBatchRetried interface {
	OnBatchRetried(BatchRetried)
}

// BatchRetried is a batch sent back for another attempt.
type BatchRetried struct {
	Topic     string
	Partition int32
	Records   int
	Attempt   int           // the attempt that failed: 1 for the first
	Backoff   time.Duration // until the next attempt may go
	Err       error         // why the attempt failed
	// MaybeWritten: the attempt went unanswered, or failed after the
	// leader appended it, so the broker may have written the batch; with
	// idempotence the next attempt cannot duplicate it.
	MaybeWritten bool
	// SequenceRejected: the broker refused the batch's sequence number
	// (OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID); if no earlier
	// batch explains it, the partition's sequences restart (see
	// HookSequenceRestart). EpochRejected: it refused the batch's epoch
	// as older than one it has seen.
	SequenceRejected bool
	EpochRejected    bool
	// Split: the broker refused the batch as too large (Err matches
	// MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE), and it was split in two
	// (KIP-126), whose halves take its place and go at once (Backoff 0),
	// each then written or retried as a batch of its own. The Java client
	// counts splits apart from retries (batch-split-total).
	Split bool
}

// HookThrottled is told of each answer in which a broker says it throttled
// the producer to hold it to a quota.
type HookThrottled interface {
	OnThrottled(Throttled)
}

// Throttled is a broker's throttle.
type Throttled struct {
	Broker int32
	// Time is the answer's throttle time: how long the broker delayed it,
	// or, since KIP-219 (Produce v6), how long it asks the client to hold
	// back, which the producer does: it sends that broker nothing meanwhile.
	Time time.Duration
}

// HookProducerID is told when an idempotent or transactional producer's
// identity changes: it got a producer id from InitProducerId (for a
// transactional producer, from its coordinator: InitTransactions, and an
// abort that needs a new epoch or id), its coordinator bumped the epoch at
// a transaction's end (transactions v2, KIP-890), or it bumped its epoch
// itself because a partition's sequences had to restart (KIP-360).
type HookProducerID interface {
	OnProducerID(ProducerID)
}

// ProducerID is an idempotent or transactional producer's identity on the
// brokers.
type ProducerID struct {
	ID    int64
	Epoch int16
	// Bumped: the epoch rose under the id announced before, which the
	// producer bumped itself (KIP-360) or, transactional, its coordinator
	// did, rather than coming with a new id.
	Bumped bool
}

// HookSequenceRestart is told when a partition's sequence numbers restart
// at 0 under a newer epoch, because the brokers lost track of them (a
// refused sequence, a batch that failed and left a gap): the batches
// already sent and not yet settled go again, numbered anew.
type HookSequenceRestart interface {
	OnSequenceRestart(SequenceRestart)
}

// SequenceRestart is a partition's sequences restarting.
type SequenceRestart struct {
	Topic      string
	Partition  int32
	ProducerID int64
	Epoch      int16
	// Renumbered is how many sent batches were numbered again.
	Renumbered int
}
