package producer

import (
	"fmt"
	"runtime/debug"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/metadata"
)

// The partitioner's code (Partition, an Observer's Appended, a
// LoadReporter's SetLoad) runs where the record is appended: for most
// records in Produce, on its caller's goroutine, where a panic in it is the
// caller's to recover, as the Java client's send throws what partition()
// throws (a tracked record's hooks hear of it first: partitionTracked). A
// record that waited for metadata is appended on a drain's goroutine
// (drainHeld), where no caller could recover it and the panic would end
// the process: there it is recovered, and logged with its stack, as
// net/http recovers and logs a handler's. A panic in Partition fails the
// record, which has no partition to go to; one after the append (Appended,
// SetLoad) leaves it appended, its outcome to come like any other's, since
// its callback must run once. Either way the drain goes on with the
// topic's next record. No lock of the producer's is held while that code
// runs, on either goroutine.

// placeHeld is r, a held record, with the partition it goes to: the one it
// names, or the Partitioner's choice, made here rather than in appendTo so
// that a panic in it fails the record (partitionerPanicked). The choice is
// checked as appendTo checks it, in the same words.
func (p *Producer) placeHeld(t *metadata.Topic, r *Record) (Record, error) {
	placed := *r
	if r.ExplicitPartition {
		return placed, nil
	}
	partition, err := p.partitionHeld(t, r)
	if err != nil {
		return Record{}, err
	}
	if partition < 0 || int(partition) >= len(t.Partitions) {
		return Record{}, noSuchPartition(r, partition, len(t.Partitions))
	}
	placed.Partition, placed.ExplicitPartition = partition, true
	return placed, nil
}

// partitionHeld is the Partitioner's choice for r, a held record, or the
// error of its panic.
func (p *Producer) partitionHeld(t *metadata.Topic, r *Record) (partition int32, err error) {
	defer func() {
		if v := recover(); v != nil {
			p.logPartitionerPanic(v, "Partition", onHeldRecord, "the record fails", r.Topic, -1)
			err = partitionerPanicked(v)
		}
	}()
	return p.cfg.Partitioner.Partition(t.View, r.Key), nil
}

// appendedHeld finishes, for a held record just appended to tp, what
// appendTo does for the others after the append: it wakes the batch's
// sender, then tells the partitioner, whose panic is logged, the record
// left appended. The wake comes first, so that the panic leaves nothing
// of the append undone.
func (p *Producer) appendedHeld(t *metadata.Topic, tp metadata.TopicPartition, res accumulator.AppendResult) {
	if res.Wake {
		p.wakeLeader(p.cluster.Snapshot(), tp)
	}
	method := "Appended"
	defer func() {
		if v := recover(); v != nil {
			p.logPartitionerPanic(v, method, onHeldRecord, "the record was appended", tp.Topic, tp.Partition)
		}
	}()
	if p.observer != nil {
		p.observer.Appended(t.View, tp.Partition, res.Bytes, res.Filled)
	}
	if res.Wake && p.loads != nil {
		method = "SetLoad"
		p.reportLoad(t)
	}
}

// partitionerPanicked is the error of a held record whose Partitioner
// panicked with v. It wraps ErrInvalidRecord, as a choice of a partition
// the topic lacks does: the partitioner could not place the record. A
// panic with an error wraps that error too.
func partitionerPanicked(v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%w: the partitioner panicked: %w", ErrInvalidRecord, err)
	}
	return fmt.Errorf("%w: the partitioner panicked: %v", ErrInvalidRecord, v)
}

// onHeldRecord is what a partitioner's method is called on in a drain.
const onHeldRecord = "a record that waited for metadata"

// logPartitionerPanic logs v, the panic of the partitioner's method on one
// of the producer's goroutines, where no caller could recover it, with its
// stack, which a record's error, if any, cannot carry: on says what it was
// called on, outcome what became of it.
func (p *Producer) logPartitionerPanic(v any, method, on, outcome, topic string, partition int32) {
	p.cfg.Logger.Error("the partitioner panicked on "+on+"; "+outcome,
		"method", method, "topic", topic, "partition", partition, "panic", v, "stack", string(debug.Stack()))
}
