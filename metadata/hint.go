package metadata

import (
	"maps"

	"github.com/gokafka/producer/protocol/wire"
)

// ApplyLeaderHint applies a KIP-951 CurrentLeader hint from a Produce
// response: the broker that refused a batch with NOT_LEADER_OR_FOLLOWER names
// the partition's new leader, and the producer can redirect the batch at once
// instead of waiting a metadata round trip. It reports whether the cache
// changed.
//
// The hint is applied only when its epoch is newer than the cached one (or
// the cached one is unknown), so a late hint never undoes a newer refresh;
// when the partition is not cached (nothing to redirect); and when the leader
// can be addressed, either because the cache knows the broker or because
// endpoint (the response's NodeEndpoints entry for that leader) says where
// it is. An endpoint for the leader also updates the broker's address.
//
// topicID is the id the cache gave the topic when the Produce request was
// built, whether the request named the topic by id or by name, or the zero
// id when it gave none (Metadata before v10). A hint under an id other than
// the cached one is about another incarnation of the topic: a late answer
// about the topic deleted and re-created since, whose epochs (higher than
// the new incarnation's, which start over) would otherwise stick until the
// new ones passed them. It is not applied.
func (c *Cache) ApplyLeaderHint(topic string, topicID wire.UUID, partition int32, leader, epoch int32, endpoint *Broker) bool {
	if leader < 0 || epoch < 0 {
		return false // an incomplete hint says nothing
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.snap.Load()
	t := old.topics[topic]
	if t == nil || partition < 0 || int(partition) >= len(t.Partitions) || recreated(t.ID, topicID) {
		return false
	}
	p := t.Partitions[partition]
	if p.LeaderEpoch >= 0 && epoch <= p.LeaderEpoch {
		return false
	}

	// The same brokers, indexes and update time unless changed below; not
	// the memo of the old snapshot's first topic, which is not next's.
	next := &Snapshot{brokers: old.brokers, brokerList: old.brokerList, topics: old.topics, ledBy: old.ledBy, updated: old.updated}
	brokerSetChanged := false
	if endpoint != nil && endpoint.ID == leader {
		if known, ok := old.brokers[leader]; !ok || known.Host != endpoint.Host || known.Port != endpoint.Port {
			brokerSetChanged = !ok
			next.brokers = maps.Clone(old.brokers)
			if next.brokers == nil {
				next.brokers = make(map[int32]Broker, 1)
			}
			next.brokers[leader] = *endpoint
			next.brokerList = sortedBrokers(next.brokers)
		}
	}
	if _, ok := next.brokers[leader]; !ok {
		return false
	}

	p.Leader, p.LeaderEpoch = leader, epoch
	p.Err = nil // it has a leader now, whatever the last refresh said
	nt := *t
	nt.Partitions = append([]Partition(nil), t.Partitions...)
	nt.Partitions[partition] = p
	nt.seen = t.seen.with(t.ID, nt.Partitions)
	nt.View = buildView(&nt, next.brokers)

	next.topics = make(map[string]*Topic, len(old.topics))
	for name, ot := range old.topics {
		if brokerSetChanged && name != topic {
			// A broker new to the cache may already lead partitions of other
			// topics that were unavailable for want of its address.
			ot = withView(ot, next.brokers)
		}
		next.topics[name] = ot
	}
	next.topics[topic] = &nt
	next.ledBy = moveLed(old.ledBy, TopicPartition{Topic: topic, Partition: partition}, t.Partitions[partition].Leader, leader)

	c.snap.Store(next)
	return true
}

// sortedBrokers lists brokers by ascending id.
func sortedBrokers(m map[int32]Broker) []Broker {
	l := make([]Broker, 0, len(m))
	for _, b := range m {
		l = append(l, b)
	}
	sortBrokers(l)
	return l
}
