package metadata

import (
	"iter"
	"sync/atomic"
	"time"
)

// Snapshot is the cluster as of one update. It is immutable once published
// (but for a memo of one lookup): any number of goroutines may read it
// without locks, and the slices and Topics it returns are shared with them,
// so callers must not modify them.
type Snapshot struct {
	brokers    map[int32]Broker
	brokerList []Broker // ascending by ID
	topics     map[string]*Topic
	ledBy      map[int32][]TopicPartition
	updated    time.Time
	// first is the first topic Topic found, which most producers, writing
	// to one topic, look up for every record: comparing its name costs
	// less than hashing it into the map. It is set once, so that a
	// producer writing to several topics does not write it for every
	// record, from every core.
	first atomic.Pointer[firstTopic]
}

// firstTopic is the memo of Snapshot.Topic: the topic, and its name as the
// caller that found it spelt it. A producer passes the same string for
// every record, so the comparison of that name with the next record's
// finds the same bytes and stops at their address; compared with the
// topic's own copy of the name (decoded from a response) it ran over all
// of its bytes, some 60 instructions a record of a 43-byte name.
type firstTopic struct {
	name  string
	topic *Topic
}

// emptySnapshot is what a Cache holds before its first update. Reads from nil
// maps are well defined, so it needs no allocation.
var emptySnapshot = &Snapshot{}

// Topic returns the named topic, or nil when no update has mentioned it.
func (s *Snapshot) Topic(name string) *Topic {
	first := s.first.Load()
	if first != nil && first.name == name {
		return first.topic
	}
	t := s.topics[name]
	if first == nil && t != nil {
		s.first.CompareAndSwap(nil, &firstTopic{name: name, topic: t})
	}
	return t
}

// Peek returns the named topic as Topic does, without taking the memo: for
// the metadata loop's sweeps over a fresh snapshot, which would otherwise
// leave it to whichever topic they looked at first rather than the one the
// producer writes to.
func (s *Snapshot) Peek(name string) *Topic { return s.topics[name] }

// Broker returns the broker with the given node id.
func (s *Snapshot) Broker(id int32) (Broker, bool) {
	b, ok := s.brokers[id]
	return b, ok
}

// Brokers lists the known brokers in ascending id order.
func (s *Snapshot) Brokers() []Broker {
	return s.brokerList
}

// Leader returns the leader and leader epoch of a partition. ok is true only
// when the leader is a broker this snapshot can address: a leader id without
// an address is as useless to the sender as no leader at all.
func (s *Snapshot) Leader(topic string, partition int32) (node int32, epoch int32, ok bool) {
	t := s.topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) {
		return -1, -1, false
	}
	p := &t.Partitions[partition]
	if p.Leader < 0 {
		return -1, p.LeaderEpoch, false
	}
	_, ok = s.brokers[p.Leader]
	return p.Leader, p.LeaderEpoch, ok
}

// LedBy lists the partitions whose leader is node, ordered by topic name and
// then partition. It is computed once per snapshot because the per-broker
// sender asks for it on every drain.
func (s *Snapshot) LedBy(node int32) []TopicPartition {
	return s.ledBy[node]
}

// LeadersNotAmongBrokers yields each leader id the snapshot names but not
// among its brokers, in no order, with the partitions it leads (as LedBy):
// partitions no sender can lead. It visits the leaders, a few, rather than
// every partition, so that a caller after every update pays next to
// nothing while every leader is a broker.
func (s *Snapshot) LeadersNotAmongBrokers() iter.Seq2[int32, []TopicPartition] {
	return func(yield func(int32, []TopicPartition) bool) {
		for leader, led := range s.ledBy {
			if _, known := s.brokers[leader]; !known && !yield(leader, led) {
				return
			}
		}
	}
}

// Updated is when the last metadata response was applied. Leader hints do
// not move it: it schedules the next full refresh (metadata.max.age.ms), and
// a hint refreshes one partition, not the cluster.
func (s *Snapshot) Updated() time.Time {
	return s.updated
}
