package partitioner

import "github.com/gokafka/producer/internal/slot"

// NoPartition is returned when a topic has no partitions to choose from
// (Topic.Partitions <= 0). The producer fails such a record instead of
// appending it; returning a sentinel keeps Partition free of panics.
const NoPartition int32 = -1

// Topic is the partitioner's view of one topic when a record is partitioned.
type Topic struct {
	Name string
	// Partitions is the partition count.
	Partitions int32
	// Available lists the partitions whose leader is a broker the metadata
	// knows, in ascending order (partitioners search it with a binary
	// search). Nothing else takes a partition out: one whose broker is slow
	// stays in, and a LoadReporter (the default partitioner) steers records
	// away from it by the batches queued for it instead. It may be empty,
	// in which case every partition is a candidate.
	Available []int32

	// state is the per-topic state of the last partitioner that used this
	// view, found by name once per view (once per metadata snapshot)
	// instead of once per record. The view is the topic's handle for as
	// long as the producer's metadata stays the same.
	state slot.Slot
}

// stateOf returns owner's per-topic state for t: the one cached on the view
// if owner cached it, else lookup's, which is then cached.
func stateOf[S any](t *Topic, owner *slot.Owner, lookup func(topic string) *S) *S {
	return slot.Of(&t.state, owner, t.Name, lookup)
}

// Partitioner picks the partition of one record. It must be safe for
// concurrent use. key is nil for a keyless record; an empty non-nil key is a
// key (Java hashes it like any other).
//
// The producer calls it where it appends the record: for most records in
// Produce, on the caller's goroutine, where a panic in it reaches Produce's
// caller, as the record's outcome, the record not buffered: its callback
// does not run (its HookRecordAcknowledged hooks hear it failed, with the
// error below). (A panic in Observer.Appended or LoadReporter.SetLoad
// comes after the append, and leaves the record buffered: see those.) A
// record that waits for metadata (its topic's or partition's, or behind
// earlier records of its topic that wait for theirs) is partitioned later
// on a goroutine of the producer's, where no caller could recover a
// panic: there the producer recovers it, logs it with its stack
// (Config.Logger) and fails that record with an error wrapping
// producer.ErrInvalidRecord ("the partitioner panicked: ...", wrapping the
// panic's value too if it is an error); the records waiting behind it go
// on.
//
// The producer finds Observer and LoadReporter on the Partitioner it is
// given, by a type assertion: a partitioner that wraps another (to send
// some records elsewhere) must implement and forward them, or the sticky
// partitioners behind it never hear of an append and never switch
// partition. Override wraps one so; a Func that calls one does not.
type Partitioner interface {
	Partition(t *Topic, key []byte) int32
}

// Observer is implemented by partitioners that need to know what was
// appended where (the sticky ones, which switch partition once a batch's
// worth of bytes has gone to the current one). The producer calls Appended
// after every successful append, with the topic's view the record was
// partitioned with, the record's size in the batch, and filled: whether the
// append filled one of the partition's batches (the record's, or the one
// before it, which had no room left for the record), so that a switch can
// wait for a batch to be full.
//
// Appended runs on the goroutine that appended the record (see
// Partitioner), once it joined its batch, so a panic in it leaves the
// record appended, to go on to its outcome like any other, its callback
// run: in Produce the panic reaches Produce's caller all the same; on the
// producer's goroutine, for a record that waited for metadata, it is
// recovered and logged.
type Observer interface {
	Appended(t *Topic, partition int32, bytes int, filled bool)
}

// LoadReporter is implemented by partitioners that can use per-partition
// load to steer their choice (KIP-794's adaptive partitioning). It is
// optional: a producer that never calls SetLoad gets uniform sticky
// behaviour.
//
// queueSizes[i] is how many batches partition i of topic holds, waiting to
// be sent or sent and not yet settled; its length must equal the topic's
// partition count, or the report is ignored when the next partition is
// chosen (the count changed since). The slice is copied, so the caller may
// reuse it. A nil slice forgets the topic's load and returns it to uniform
// choice. The producer reports a topic's load when an append starts or
// fills one of its batches, at most once a millisecond: a sticky
// partitioner switches when a batch is full, and then reads the latest
// report. Like Observer.Appended, SetLoad runs after an append, on the
// goroutine that appended the record, and a panic in it leaves the record
// appended: it reaches Produce's caller, or, on the producer's goroutine,
// is recovered and logged.
type LoadReporter interface {
	SetLoad(topic string, queueSizes []int32)
}

// Forgetter is implemented by partitioners that keep state per topic by
// name (the sticky ones: the current partition, the bytes counted on it,
// the last load report; RoundRobin: its counter). It is optional. The
// producer calls Forget when its metadata forgets a topic it has not used
// for MetadataMaxIdle, so that the state of topics produced to once,
// thousands of auto-created ones say, does not stay for the producer's
// life. The state may go: a record for the topic later is partitioned
// through a new Topic view, as a new topic's first record is, and must be
// placed as well. A view taken before the Forget may still reach the
// partitioner for a record appended as it came. Forget runs on the
// producer's metadata goroutine: it must not block, and a panic in it is
// recovered and logged.
type Forgetter interface {
	Forget(topic string)
}

// Func adapts a function to the Partitioner interface, for custom
// partitioning logic. A Func is neither an Observer nor a LoadReporter: one
// that calls Default or UniformSticky hides theirs from the producer, and
// every keyless record then goes to the one partition chosen first. To
// send only some records elsewhere, use Override.
type Func func(t *Topic, key []byte) int32

// Partition calls f(t, key).
func (f Func) Partition(t *Topic, key []byte) int32 { return f(t, key) }
