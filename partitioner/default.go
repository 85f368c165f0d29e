package partitioner

import "math/rand/v2"

// Default returns the Java client's default partitioning: a keyed record
// goes to KeyPartition over ALL partitions (available or not, so that a key
// keeps its partition through a leader election), a keyless record to the
// uniform sticky partition (KIP-794, see UniformSticky). The returned value
// also implements Observer and LoadReporter, for its sticky half.
func Default(batchSize int) Partitioner {
	return &defaultPartitioner{sticky: newSticky(batchSize, rand.Uint64N)}
}

var (
	_ Observer     = (*defaultPartitioner)(nil)
	_ LoadReporter = (*defaultPartitioner)(nil)
)

type defaultPartitioner struct {
	sticky *sticky
}

func (d *defaultPartitioner) Partition(t *Topic, key []byte) int32 {
	if key != nil {
		return KeyPartition(key, t.Partitions)
	}
	return d.sticky.Partition(t, nil)
}

// Appended forwards to the sticky half. Keyed records appended to the
// sticky partition count too: they fill the same batch.
func (d *defaultPartitioner) Appended(t *Topic, partition int32, bytes int) {
	d.sticky.Appended(t, partition, bytes)
}

func (d *defaultPartitioner) SetLoad(topic string, queueSizes []int32) {
	d.sticky.SetLoad(topic, queueSizes)
}
