package partitioner

import (
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/internal/slot"
)

// RoundRobin returns a partitioner that ignores keys and cycles, per topic,
// over the available partitions (over all partitions when none is
// available), like the Java client's RoundRobinPartitioner. Unlike the
// sticky partitioners it spreads every record, at the cost of smaller
// batches. It is a Forgetter: a topic the metadata forgot starts its cycle
// afresh, at a partition of its own, when it is produced to again.
func RoundRobin() Partitioner { return &roundRobin{} }

var _ Forgetter = (*roundRobin)(nil)

type roundRobin struct {
	counters sync.Map   // topic name -> *atomic.Uint32
	owner    slot.Owner // of its counters' slots on topic views
}

func (r *roundRobin) Partition(t *Topic, _ []byte) int32 {
	if t.Partitions <= 0 {
		return NoPartition
	}
	// An unsigned counter wraps without turning negative, which is what
	// Java's toPositive achieves on its int counter.
	n := stateOf(t, &r.owner, r.counter).Add(1) - 1
	if k := len(t.Available); k > 0 {
		return t.Available[n%uint32(k)]
	}
	return int32(n % uint32(t.Partitions))
}

// counter returns the topic's counter, created at its first record.
func (r *roundRobin) counter(topic string) *atomic.Uint32 {
	v, ok := r.counters.Load(topic)
	if !ok {
		v, _ = r.counters.LoadOrStore(topic, new(atomic.Uint32))
	}
	return v.(*atomic.Uint32)
}

// Forget drops the topic's counter (Forgetter), which a producer of
// thousands of topics used once would otherwise keep for good. A counter
// taken on a topic view before the Forget goes on counting for that view.
func (r *roundRobin) Forget(topic string) { r.counters.Delete(topic) }
