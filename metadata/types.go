package metadata

import (
	"errors"

	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/internal/slot"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// Broker is one broker's address as the cluster advertises it.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack *string
}

// Addr is host:port, with IPv6 hosts bracketed, ready for a dialer. The
// host is the broker's text: one no resolver takes is quoted and cut short
// (brokertext.HostPort), as every error of its connections names it.
func (b Broker) Addr() string {
	return brokertext.HostPort(b.Host, b.Port)
}

// Partition is one partition's leadership and replica set.
type Partition struct {
	ID     int32
	Leader int32 // -1 when there is no leader (an election is under way)
	// LeaderEpoch grows each time leadership moves (KIP-320); -1 when the
	// broker did not send one (Metadata before v7). Updates never move it
	// backwards, which is how a stale answer from a lagging broker is told
	// apart from a real leader change.
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	Err         error // the partition's kerr error from the last update, or nil
}

// Topic is one topic's state. Snapshots share Topics: treat them, and every
// slice in them, as read-only.
type Topic struct {
	Name string
	ID   wire.UUID
	// Err is the topic-level error of the last response that named the topic
	// (kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable, ...), or nil.
	Err error
	// Partitions is indexed by partition id: Partitions[i].ID == i.
	Partitions []Partition
	// View is what the partitioner needs, built once per snapshot so that
	// partitioning a record allocates nothing. Available lists, ascending,
	// the partitions whose leader is a broker this snapshot knows.
	View *partitioner.Topic
	// Slot is where the accumulator keeps its handle on the topic's
	// partition queues, so that a record reaches its queue through the
	// metadata Produce has already looked up rather than by name again.
	// It passes from snapshot to snapshot for as long as the metadata
	// knows the topic; a Topic built elsewhere may leave it nil.
	Slot *slot.Slot

	// seen outlives Partitions when an answer drops them (epochs.go).
	seen epochsSeen
	// answer numbers the Metadata answer that last named the topic
	// (Cache.answers): a leader hint or a broker set's change copies it
	// into the Topic it builds, and tells nothing of a refusal.
	answer uint64
}

// Refused reports whether the last answer refuses t's records for good: an
// invalid name or a denied authorization will not heal, as a lagging
// broker's "unknown topic" or an election does, or a corrupt answer
// (ErrMalformed) from one broker. Access may still be granted later, which
// only a later answer tells. A nil t is not refused.
func (t *Topic) Refused() bool {
	return t != nil && len(t.Partitions) == 0 && t.Err != nil && !kerr.IsRetriable(t.Err) &&
		!errors.Is(t.Err, ErrMalformed)
}

// RefusedSince reports whether t is refused (Refused) by a Metadata answer
// later than the one that gave before, the topic as an earlier snapshot of
// the same cache had it (nil if none). A refusal cached then is old news:
// access may have been granted since, which only a later answer naming
// the topic tells, not a leader hint for another topic nor a refresh that
// failed, which leave t as it was.
func (t *Topic) RefusedSince(before *Topic) bool {
	return t.Refused() && (before == nil || t.answer > before.answer)
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}
