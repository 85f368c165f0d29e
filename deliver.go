package producer

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/accumulator"
)

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
