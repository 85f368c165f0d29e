package partitioner

import "math/rand/v2"

// Default returns the Java client's default partitioning: a keyed record
// goes to KeyPartition over ALL partitions (available or not, so that a key
// keeps its partition through a leader election), a keyless record to the
// uniform sticky partition (KIP-794, see UniformSticky). The returned value
// also implements Observer and LoadReporter, for the keyless records' sticky
// choice; keyed records appended to the sticky partition count towards its
// batch too, since they fill the same batch.
//
// It is UniformSticky's partitioner told to hash keys, rather than a type
// that forwards to one: every record goes through it, and the forwarding
// calls, one to partition and one to count, were a tenth of the
// partitioner's instructions per record.
func Default(batchSize int) Partitioner {
	s := newSticky(batchSize, rand.Uint64N)
	s.hashKeys = true
	return s
}
