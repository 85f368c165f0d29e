// Package partitioner owns the "which partition?" step of a record's path:
// after the producer has serialized key and value and knows the topic's
// partitions from metadata, and before the accumulator appends the record to
// that partition's open batch.
//
// It provides Java-compatible key hashing (Murmur2, KeyPartition), the
// default partitioner of the Java client (keyed records hash over all
// partitions, keyless records use KIP-794's uniform sticky choice), a plain
// uniform sticky partitioner, a round-robin partitioner, the Func adapter
// for custom logic, and Override, which sends some records elsewhere and
// leaves the rest to another partitioner, whose Observer and LoadReporter
// it keeps.
//
// Partitioners never block, and in steady state (once a topic has been seen)
// never allocate on the per-record path: state is kept per topic, found by
// name once per metadata snapshot and then carried on the topic's view
// (Topic), and updated with atomics, so producers writing to different
// topics never contend and producers writing to the same topic only race on
// one compare-and-swap.
package partitioner
