package metadata

import (
	"cmp"
	"slices"
	"sort"

	"github.com/gokafka/producer/partitioner"
)

// This file builds the derived, per-snapshot indexes: the partitioner's view
// of each topic and the partitions each broker leads. Both depend on the
// broker set as well as on the topics, which is why updates rebuild them
// whenever either changes.

// buildView returns the partitioner's view of t: its partition count and the
// partitions with a leader in brokers, ascending.
func buildView(t *Topic, brokers map[int32]Broker) *partitioner.Topic {
	v := &partitioner.Topic{Name: t.Name, Partitions: int32(len(t.Partitions))}
	for i := range t.Partitions {
		if l := t.Partitions[i].Leader; l >= 0 {
			if _, ok := brokers[l]; ok {
				v.Available = append(v.Available, int32(i))
			}
		}
	}
	return v
}

// withView returns t with a view built against brokers. Topics are shared
// between snapshots, so a stale view is replaced on a copy, never in place.
func withView(t *Topic, brokers map[int32]Broker) *Topic {
	nt := *t
	nt.View = buildView(&nt, brokers)
	return &nt
}

// buildLedBy groups every led partition by its leader, ordered by topic name
// and partition so that drains are deterministic.
func buildLedBy(topics map[string]*Topic) map[int32][]TopicPartition {
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	sort.Strings(names)
	ledBy := make(map[int32][]TopicPartition)
	for _, name := range names {
		for _, p := range topics[name].Partitions {
			if p.Leader >= 0 {
				ledBy[p.Leader] = append(ledBy[p.Leader], TopicPartition{Topic: name, Partition: p.ID})
			}
		}
	}
	return ledBy
}

// compareTP orders TopicPartitions as buildLedBy does.
func compareTP(a, b TopicPartition) int {
	if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// moveLed returns a copy of ledBy in which tp has moved from leader from to
// leader to (either may be -1, meaning none). Slices of other leaders are
// shared with the old snapshot; the two that change are rebuilt.
func moveLed(ledBy map[int32][]TopicPartition, tp TopicPartition, from, to int32) map[int32][]TopicPartition {
	out := make(map[int32][]TopicPartition, len(ledBy)+1)
	for k, v := range ledBy {
		out[k] = v
	}
	if from >= 0 {
		old := out[from]
		if i, found := slices.BinarySearchFunc(old, tp, compareTP); found {
			out[from] = slices.Delete(slices.Clone(old), i, i+1)
			if len(out[from]) == 0 {
				delete(out, from)
			}
		}
	}
	if to >= 0 {
		old := out[to]
		if i, found := slices.BinarySearchFunc(old, tp, compareTP); !found {
			out[to] = slices.Insert(slices.Clone(old), i, tp)
		}
	}
	return out
}
