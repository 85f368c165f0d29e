package producer

import (
	"fmt"
	"math"

	"github.com/gokafka/producer/internal/badchar"
	"github.com/gokafka/producer/internal/topicname"
	"github.com/gokafka/producer/record"
)

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
	if err := badHeaderKey(r); err != nil {
		return err
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

// badHeaderKey refuses the first header whose key is not UTF-8. The
// protocol's header key is a string, which Java's clients decode as UTF-8,
// each invalid byte read as U+FFFD: a Java consumer would read another key
// than the one written, and so would every consumer once the broker
// recompresses the batch (a topic whose compression.type is not the
// batch's), since it writes the keys again as it decoded them. The error
// names the first byte that is not UTF-8 and where it is, not the key,
// as every check of text the user gave names what it refuses (badchar):
// the caller has the key, which may be long (it was quoted whole, a
// megabyte of escapes in the error of a key that large). It builds the
// whole error, so that check, on Produce's way, keeps its frame.
func badHeaderKey(r *Record) error {
	for i := range r.Headers {
		if bad := badchar.NotUTF8(r.Headers[i].Key); bad != "" {
			return &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: fmt.Errorf(
				"%w: Headers[%d].Key has %s, which a Java consumer reads as another character",
				ErrInvalidRecord, i, bad)}
		}
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

// ValidateTopicName says why a broker would refuse name as a topic's
// name, or returns nil if it takes it: the rule by which Produce and
// PartitionsFor refuse a record's topic at once (with ErrInvalidRecord),
// and SendOffsetsToTransaction an offset's (with ErrInvalidOffsets).
// A program that takes topic names from its users (a flag, a config file)
// can refuse a bad one before it creates the topic or starts anything.
// The error gives the reason alone, "topic name has '/' at 3; ...": the
// caller has the name, and names it in its own words.
func ValidateTopicName(name string) error { return topicname.Check(name) }

// validTopic applies the broker's rules for topic names, so a bad name fails
// at once instead of after MaxBlock of metadata lookups.
func validTopic(name string) error {
	if err := ValidateTopicName(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return nil
}
