package metadata

import (
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

const unknownTopicCode = 3 // UNKNOWN_TOPIC_OR_PARTITION

// KIP-320: an UNKNOWN_TOPIC_OR_PARTITION answer from a broker that has not
// caught up drops the topic's partitions, but not the leader epochs seen
// under its id: the next lagging answer, with an older epoch under the same
// id, leaves the partition without a leader at the epoch seen, rather than
// taking the leader back (the leader of epoch 5 was applied after epoch 6's
// had been seen, and records went to it). An answer at the epoch seen or a
// newer one is taken; so is any epoch of a re-created topic (a new id), of
// one forgotten since, and under no id (Metadata before v10, where an
// unknown topic may have been deleted and re-created).
func TestALaggingUnknownTopicAnswerDoesNotTakeTheLeaderEpochBack(t *testing.T) {
	id, newID := wire.UUID{7}, wire.UUID{8}
	withID := func(rt protocolTopic, id wire.UUID) protocolTopic { rt.TopicID = id; return rt }
	known := func(c *Cache) {
		c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 2, 6), part(1, 1, 3)), id)), answerVersion, []string{"a"}, t0)
		c.Apply(resp(brokers(1, 2), topic("a", unknownTopicCode)), answerVersion, []string{"a"}, t0)
	}
	lagging := withID(topic("a", none0, part(0, 1, 5), part(1, 1, 3)), id)

	t.Run("same id", func(t *testing.T) {
		c := NewCache()
		known(c)
		c.Apply(resp(brokers(1, 2), lagging), answerVersion, []string{"a"}, t0)
		s := c.Snapshot()
		n, e, ok := s.Leader("a", 0)
		equal(t, leader{-1, 6, false}, leader{n, e, ok}, "partition 0 after an answer at epoch 5 (leader 1), epoch 6 (leader 2) seen")
		n, e, ok = s.Leader("a", 1)
		equal(t, leader{1, 3, true}, leader{n, e, ok}, "partition 1, at the epoch seen")
		equal(t, []int32{1}, s.Topic("a").View.Available, "available partitions")

		c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 2, 6), part(1, 1, 3)), id)), answerVersion, []string{"a"}, t0)
		n, e, ok = c.Snapshot().Leader("a", 0)
		equal(t, leader{2, 6, true}, leader{n, e, ok}, "partition 0 once a broker names epoch 6's leader")
	})
	t.Run("epoch of a hint", func(t *testing.T) {
		c := NewCache()
		c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 5)), id)), answerVersion, []string{"a"}, t0)
		equal(t, true, c.ApplyLeaderHint("a", id, 0, 2, 6, nil), "hint applied")
		c.Apply(resp(brokers(1, 2), topic("a", unknownTopicCode)), answerVersion, []string{"a"}, t0)
		c.Apply(resp(brokers(1, 2), lagging), answerVersion, []string{"a"}, t0)
		n, e, ok := c.Snapshot().Leader("a", 0)
		equal(t, leader{-1, 6, false}, leader{n, e, ok}, "partition 0 after an answer at epoch 5, epoch 6 hinted")
	})
	for name, apply := range map[string]func(c *Cache){
		"re-created": func(c *Cache) {
			known(c)
			c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 0)), newID)), answerVersion, []string{"a"}, t0)
		},
		"forgotten": func(c *Cache) {
			known(c)
			c.Forget([]string{"a"})
			c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 0)), id)), answerVersion, []string{"a"}, t0)
		},
		"no id": func(c *Cache) {
			c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 2, 6))), answerVersion, []string{"a"}, t0)
			c.Apply(resp(brokers(1, 2), topic("a", unknownTopicCode)), answerVersion, []string{"a"}, t0)
			c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 0))), answerVersion, []string{"a"}, t0)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := NewCache()
			apply(c)
			n, e, ok := c.Snapshot().Leader("a", 0)
			equal(t, leader{1, 0, true}, leader{n, e, ok}, "partition 0")
		})
	}
}

// Kafka never removes a partition: a topic seen with 3 partitions under
// its id, then called unknown by a broker that has not caught up, keeps
// the 3 when another lagging broker, which has not seen CreatePartitions,
// lists 2 under the same id. The cache took the 2 (the id of the unknown
// answer is zero, and the cached count was gone), and keyed records hashed
// modulo 2 meanwhile. The partition past the answer's count has no known
// leader, at the epoch seen, until a broker names it. A topic re-created
// under a new id still shrinks.
func TestAPartitionCountSeenUnderAnIDOutlivesAnUnknownTopicAnswer(t *testing.T) {
	id, newID := wire.UUID{7}, wire.UUID{8}
	withID := func(rt protocolTopic, id wire.UUID) protocolTopic { rt.TopicID = id; return rt }
	known := func(c *Cache) {
		c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 4), part(1, 2, 5), part(2, 1, 6)), id)), answerVersion, []string{"a"}, t0)
		c.Apply(resp(brokers(1, 2), topic("a", unknownTopicCode)), answerVersion, []string{"a"}, t0)
	}

	c := NewCache()
	known(c)
	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 4), part(1, 2, 5)), id)), answerVersion, []string{"a"}, t0)
	s := c.Snapshot()
	equal(t, 3, len(s.Topic("a").Partitions), "partitions after a lagging answer listing 2 of the 3 under the same id")
	n, e, ok := s.Leader("a", 2)
	equal(t, leader{-1, 6, false}, leader{n, e, ok}, "partition 2, past the answer's count")
	equal(t, []int32{0, 1}, s.Topic("a").View.Available, "available partitions")

	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 4), part(1, 2, 5), part(2, 2, 7)), id)), answerVersion, []string{"a"}, t0)
	n, e, ok = c.Snapshot().Leader("a", 2)
	equal(t, leader{2, 7, true}, leader{n, e, ok}, "partition 2 once a broker names its leader")

	c = NewCache()
	known(c)
	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 0)), newID)), answerVersion, []string{"a"}, t0)
	equal(t, 1, len(c.Snapshot().Topic("a").Partitions), "partitions of the topic re-created under a new id")
}

// A topic first learned without an id (an answer below Metadata v10) and
// then with one is the same topic, not a re-created one: a lagging
// broker's older leader epoch must not take the leader back.
func TestAnIDLearnedLateIsNotARecreation(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 2, 5))), 9, []string{"a"}, t0)
	lagging := topic("a", none0, part(0, 1, 3))
	lagging.TopicID = wire.UUID{7}
	c.Apply(resp(brokers(1, 2), lagging), answerVersion, []string{"a"}, t0)
	n, e, ok := c.Snapshot().Leader("a", 0)
	equal(t, leader{2, 5, true}, leader{n, e, ok}, "partition 0 after a lagging answer at epoch 3")
}

// An answer without leader epochs (Metadata below v7, from an older broker
// in a mixed cluster) is not older than the epochs seen: its leaders are
// taken, where leaderless placeholders would hold every record back.
func TestAnAnswerWithoutEpochsIsNotOlder(t *testing.T) {
	c := NewCache()
	withID := topic("a", none0, part(0, 1, 5))
	withID.TopicID = wire.UUID{7}
	c.Apply(resp(brokers(1, 2), withID), answerVersion, []string{"a"}, t0)
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 2, -1))), 6, []string{"a"}, t0)
	n, e, ok := c.Snapshot().Leader("a", 0)
	equal(t, leader{2, -1, true}, leader{n, e, ok}, "partition 0 after an answer without epochs")
}
