package partitioner

import "math/rand/v2"

// Default returns the Java client's default partitioning: a keyed record
// goes to KeyPartition over ALL partitions (available or not, so that a key
// keeps its partition through a leader election), a keyless record to the
// uniform sticky partition (KIP-794, see UniformSticky). The returned value
// also implements Observer, LoadReporter and Forgetter, for the keyless
// records' sticky choice; keyed records appended to the sticky partition
// count towards its batch too, since they fill the same batch.
//
// It is UniformSticky's partitioner told to hash keys, rather than a type
// that forwards to one: every record goes through it, and the two
// forwarding calls per record, one to partition and one to count, cost
// about 20 instructions of the 180 a keyless record took here.
func Default(batchSize int) Partitioner {
	s := newSticky(batchSize, rand.Uint64N)
	s.hashKeys = true
	return s
}
