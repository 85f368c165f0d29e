package partitioner

import (
	"sync"
	"sync/atomic"
)

// RoundRobin returns a partitioner that ignores keys and cycles, per topic,
// over the available partitions (over all partitions when none is
// available), like the Java client's RoundRobinPartitioner. Unlike the
// sticky partitioners it spreads every record, at the cost of smaller
// batches.
func RoundRobin() Partitioner { return &roundRobin{} }

type roundRobin struct {
	counters sync.Map // topic name -> *atomic.Uint32
}

func (r *roundRobin) Partition(t *Topic, _ []byte) int32 {
	if t.Partitions <= 0 {
		return NoPartition
	}
	v, ok := r.counters.Load(t.Name)
	if !ok {
		v, _ = r.counters.LoadOrStore(t.Name, new(atomic.Uint32))
	}
	// An unsigned counter wraps without turning negative, which is what
	// Java's toPositive achieves on its int counter.
	n := v.(*atomic.Uint32).Add(1) - 1
	if k := len(t.Available); k > 0 {
		return t.Available[n%uint32(k)]
	}
	return int32(n % uint32(t.Partitions))
}
