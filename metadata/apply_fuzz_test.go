package metadata

import (
	"slices"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// FuzzCacheApply applies a sequence of Metadata answers that data spells
// (answersFrom) and checks, after each, what Apply's doc promises and the
// sender relies on:
//   - every topic's Partitions[i].ID is i, and its partitioner view counts
//     them and lists as available exactly those whose leader is a known
//     broker, even for topics the answer did not name;
//   - under one non-zero topic id, a partition's leader epoch never goes
//     below the newest seen under that id since the topic was last
//     forgotten, even across answers that drop the partitions or carry no
//     id (a lagging broker must not move a leader back);
//   - from one answer to the next under the same non-zero id, a topic
//     without an error keeps at least as many partitions (Kafka cannot
//     remove one).
//
// Single answers are TestApply's; these properties are about sequences.
func FuzzCacheApply(f *testing.F) {
	// One answer a line, in answersFrom's format. Topic a under id 1 at
	// epoch 3, a lagging broker's epoch 1, the partitions dropped
	// (UNKNOWN_TOPIC_OR_PARTITION), epoch 2 again, then a re-creation.
	f.Add([]byte{
		0, 2, 0, 1, 1, 0, 1, 2, 1, 4, 2, 4,
		0, 0, 1, 0, 1, 2, 2, 2, 1, 2,
		0, 0, 1, 0, 1 | 1<<2, 0,
		0, 0, 1, 0, 1, 2, 1, 3, 2, 3,
		0, 0, 1, 0, 2, 1, 1, 1,
	})
	// Topics a (id 1) and b (no id); a grows to 3 partitions, a lagging
	// broker lists 2; then an answer for all topics forgets b and broker
	// 2, which leads a's partition 2.
	f.Add([]byte{
		0, 3, 0, 1, 2, 2, 0, 1, 1, 1, 1, 1, 0, 1, 2, 1,
		0, 0, 1, 0, 1, 3, 1, 1, 2, 1, 3, 1,
		0, 0, 1, 0, 1, 2, 1, 1, 2, 1,
		1, 2, 0, 1, 1, 0, 1, 3, 1, 1, 2, 1, 3, 1,
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewCache()
		seen := make(map[string]*idEpochs) // by topic name
		for n, a := range answersFrom(data) {
			before := c.Snapshot()
			c.Apply(a.resp, answerVersion, a.requested, t0)
			after := c.Snapshot()
			for _, name := range fuzzTopics {
				prev, tp := before.Peek(name), after.Peek(name)
				if tp == nil {
					delete(seen, name) // forgotten: its epochs may start over
					continue
				}
				checkView(t, n, after, tp)
				if tp.ID == (wire.UUID{}) {
					continue // nothing is promised under the zero id
				}
				if s := seen[name]; s == nil || s.id != tp.ID {
					seen[name] = &idEpochs{id: tp.ID}
				}
				seen[name].check(t, n, tp)
				if prev != nil && prev.ID == tp.ID && tp.Err == nil && len(tp.Partitions) < len(prev.Partitions) {
					t.Fatalf("answer %d: topic %s, id %v: partitions went from %d to %d",
						n, name, tp.ID, len(prev.Partitions), len(tp.Partitions))
				}
			}
		}
	})
}

// checkView checks tp's numbering and partitioner view in snapshot s.
func checkView(t *testing.T, n int, s *Snapshot, tp *Topic) {
	t.Helper()
	var available []int32
	for i, p := range tp.Partitions {
		if int(p.ID) != i {
			t.Fatalf("answer %d: topic %s: Partitions[%d].ID is %d", n, tp.Name, i, p.ID)
		}
		if _, _, ok := s.Leader(tp.Name, int32(i)); ok {
			available = append(available, int32(i))
		}
	}
	if int(tp.View.Partitions) != len(tp.Partitions) || !slices.Equal(tp.View.Available, available) {
		t.Fatalf("answer %d: topic %s: view of %d partitions, %v available; want %d, %v",
			n, tp.Name, tp.View.Partitions, tp.View.Available, len(tp.Partitions), available)
	}
}

// idEpochs is the newest leader epoch seen of each partition of a topic
// under one topic id.
type idEpochs struct {
	id     wire.UUID
	epochs []int32
}

// check fails if a partition of tp has gone back to an epoch older than the
// newest seen, then notes tp's epochs. An epoch of -1 carries no order.
func (s *idEpochs) check(t *testing.T, n int, tp *Topic) {
	t.Helper()
	for i, p := range tp.Partitions {
		if p.LeaderEpoch < 0 {
			continue
		}
		if i < len(s.epochs) && p.LeaderEpoch < s.epochs[i] {
			t.Fatalf("answer %d: topic %s, id %v, partition %d: leader epoch %d, but %d was seen",
				n, tp.Name, tp.ID, i, p.LeaderEpoch, s.epochs[i])
		}
		for len(s.epochs) <= i {
			s.epochs = append(s.epochs, -1)
		}
		s.epochs[i] = p.LeaderEpoch
	}
}

// fuzzTopics, fuzzIDs and fuzzCodes are the small world answersFrom draws
// from, so that successive answers speak of the same topics: the zero id
// and two incarnations; no error, UNKNOWN_TOPIC_OR_PARTITION,
// LEADER_NOT_AVAILABLE, INVALID_TOPIC_EXCEPTION, TOPIC_AUTHORIZATION_FAILED.
var (
	fuzzTopics = []string{"a", "b"}
	fuzzIDs    = []wire.UUID{{}, {1}, {2}}
	fuzzCodes  = []int16{0, 3, 5, 17, 29}
)

// answersFrom reads up to 8 Metadata answers from data, each with whether
// it answered a request for all topics. Every byte that data lacks reads as
// zero. Per answer: requested (odd: all topics), a broker count and the ids
// (0-3); a topic count, then per topic its name, a byte whose low two bits
// pick the id and the rest the error code, a partition count (0-5), and per
// partition its leader (-1 to 3) and epoch (-1 to 4); a leader byte of 128
// or more also gives the partition a wrong index (-1 to 6), which Apply
// must refuse as malformed.
func answersFrom(data []byte) []update {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	var out []update
	for len(data) > 0 && len(out) < 8 {
		var u update
		if next()%2 == 0 {
			u.requested = fuzzTopics
		}
		var ids []int32
		for range next() % 5 {
			ids = append(ids, int32(next()%4))
		}
		u.resp = resp(brokers(ids...))
		for range next() % 3 {
			rt := topic(fuzzTopics[next()%2], 0)
			b := next()
			rt.TopicID, rt.ErrorCode = fuzzIDs[int(b&3)%len(fuzzIDs)], fuzzCodes[int(b>>2)%len(fuzzCodes)]
			for i := range int32(next() % 6) {
				l := next()
				p := part(i, int32(l%5)-1, int32(next()%6)-1)
				if l >= 128 {
					p.PartitionIndex = int32(l%8) - 1
				}
				rt.Partitions = append(rt.Partitions, p)
			}
			u.resp.Topics = append(u.resp.Topics, rt)
		}
		out = append(out, u)
	}
	return out
}
