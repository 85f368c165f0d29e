package producer

import (
	"context"
	"time"

	"github.com/gokafka/producer/record"
)

// Record is one message to produce. Produce copies what it needs before it
// returns, so the caller may reuse Key, Value and Headers afterwards.
type Record struct {
	// Topic is required.
	Topic string
	// Key decides the partition (murmur2, as the Java client) unless
	// ExplicitPartition is set. A nil Key is "no key" and is sent as null;
	// an empty, non-nil Key is sent as an empty key and is hashed. The
	// hash is taken over the topic's partition count, so partitions added
	// to the topic map keys anew: a key's records produced before and
	// after may land in different partitions, their order across the
	// change not kept (as with the Java client).
	Key []byte
	// Value is the payload; nil is sent as null (a tombstone on compacted
	// topics), distinct from an empty value.
	Value []byte
	// Headers travel with the record, in order. A header's key must be
	// UTF-8, or Produce refuses the record (ErrInvalidRecord): Java's
	// clients hold a key as a string decoded from UTF-8, so a Java
	// consumer would read another key than the one written. Values are
	// bytes, any.
	Headers []Header
	// Timestamp is the record's CreateTime; the zero Time means now. One
	// before 1970 is refused (ErrInvalidRecord), as Kafka takes none; so
	// is one whose milliseconds since 1970 do not fit an int64 (from about
	// year 292,277,026 on).
	Timestamp time.Time
	// Partition is the partition to produce to when ExplicitPartition is
	// true; otherwise the Config's Partitioner chooses.
	Partition int32
	// ExplicitPartition makes Partition binding. It exists because 0 is a
	// valid partition, so Partition's zero value cannot mean "choose".
	ExplicitPartition bool
	// Context is for tracing (franz-go's Record.Context): it is handed to
	// the hooks (HookRecordBuffered, whose result goes on to
	// HookRecordAcknowledged), and the producer keeps it no longer than
	// until the record's outcome; without record hooks, not at all. It
	// neither cancels nor bounds anything: Produce's ctx bounds the wait
	// for memory, DeliveryTimeout the rest.
	Context context.Context
}

// Header is a record header: a key and a value that may be nil.
type Header = record.Header

// RecordMetadata is where an acknowledged record landed.
type RecordMetadata struct {
	Topic string
	// Partition is the record's partition. A record that failed before
	// joining a batch (in Produce, or while it waited for its topic's
	// metadata) has the one it named (Record.ExplicitPartition), or the
	// one chosen for it (it then found no memory there, or the partitioner
	// chose one the topic lacks, say), -1 if none: the one its
	// *PartitionError names.
	Partition int32
	// Offset is the record's offset in its partition; -1 with AcksNone,
	// where the broker does not say.
	Offset int64
	// Timestamp is the record's timestamp in milliseconds, as the broker
	// keeps it: the one it was sent with (the producer's clock's, for a
	// Record whose Timestamp is zero), or the broker's append time when
	// the topic uses LogAppendTime. It is in the local time zone, without
	// the Record's finer digits: compare it with Equal, not ==, and with
	// the Record's Timestamp truncated to the millisecond. A record that
	// failed in its batch has the one it was sent with; one that failed
	// before joining a batch (in Produce, or while it waited for its
	// topic's metadata) has its Record's Timestamp as given, zero if none.
	Timestamp time.Time
	// SerializedKeySize and SerializedValueSize are the key's and value's
	// lengths in bytes, -1 when nil (as in the Java client).
	SerializedKeySize   int
	SerializedValueSize int
}
