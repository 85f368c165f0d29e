// Package metadata owns the producer's picture of the cluster: which brokers
// exist, which partitions each topic has, and which broker leads each
// partition. It is the step between "the partitioner picked partition 3" and
// "the sender knows which connection carries partition 3's batch".
//
// The package is a pure cache. It does no I/O and starts no goroutine: the
// producer's refresher fetches a MetadataResponse through package conn and
// hands it to Cache.ApplyTelling, which tells the producer what the answer
// changed before any reader sees it, and the sender hands KIP-951 leader
// hints from Produce responses to Cache.ApplyLeaderHint. Keeping the network
// out makes every merge rule testable with a literal response.
//
// Readers never lock. Every update builds a new immutable Snapshot and
// publishes it through an atomic pointer, so the per-record lookups
// (Snapshot.Topic, Snapshot.Leader) are map reads that never block and
// allocate nothing after each snapshot's first lookup that finds a topic,
// however often metadata changes underneath them. That lookup allocates a memo
// of the topic, with which Snapshot.Topic compares later names before hashing
// them into the map: a producer of one topic finds it every time. Updates are
// rare (a refresh every few minutes, or after an error), so copying on write
// is the right trade.
//
// It is the producer's own machinery rather than an API for users, taking
// types of the module's internal packages (a slot.Slot): package producer
// keeps the cache, whose partition counts a user reads with its
// Producer.PartitionsFor.
package metadata
