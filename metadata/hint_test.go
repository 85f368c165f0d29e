package metadata

import (
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func TestApplyLeaderHint(t *testing.T) {
	setup := resp(brokers(1, 2),
		topic("a", none0, part(0, 1, 5), part(1, 2, 5)),
		topic("b", none0, part(0, 3, 0)), // led by broker 3, whose address is unknown
	)
	ep3 := &Broker{ID: 3, Host: "b3.example", Port: 9092}

	tests := []struct {
		name                     string
		topic                    string
		partition, leader, epoch int32
		endpoint                 *Broker
		applied                  bool
		wantLeader               leader                     // Leader(topic, partition) afterwards
		wantLed                  map[int32][]TopicPartition // nil: as before the hint
	}{
		{
			name: "newer epoch moves the leader", topic: "a", partition: 0, leader: 2, epoch: 6,
			applied: true, wantLeader: leader{2, 6, true},
			wantLed: map[int32][]TopicPartition{2: {tp("a", 0), tp("a", 1)}, 3: {tp("b", 0)}},
		},
		{
			name: "equal epoch is ignored", topic: "a", partition: 0, leader: 2, epoch: 5,
			wantLeader: leader{1, 5, true}},
		{
			name: "older epoch is ignored", topic: "a", partition: 0, leader: 2, epoch: 4,
			wantLeader: leader{1, 5, true}},
		{
			name: "unknown leader without an endpoint is ignored", topic: "a", partition: 0, leader: 3, epoch: 9,
			wantLeader: leader{1, 5, true},
		},
		{
			name: "unknown leader with its endpoint is applied", topic: "a", partition: 0, leader: 3, epoch: 9,
			endpoint: ep3, applied: true, wantLeader: leader{3, 9, true},
			wantLed: map[int32][]TopicPartition{2: {tp("a", 1)}, 3: {tp("a", 0), tp("b", 0)}},
		},
		{
			name: "incomplete hint is ignored", topic: "a", partition: 0, leader: -1, epoch: 9,
			wantLeader: leader{1, 5, true}},
		{
			name: "partition not cached is ignored", topic: "a", partition: 7, leader: 1, epoch: 9,
			wantLeader: leader{-1, -1, false}},
		{
			name: "topic not cached is ignored", topic: "zz", partition: 0, leader: 1, epoch: 9,
			wantLeader: leader{-1, -1, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache()
			c.Apply(setup, answerVersion, nil, t0)
			before := c.Snapshot()
			got := c.ApplyLeaderHint(tc.topic, wire.UUID{}, tc.partition, tc.leader, tc.epoch, tc.endpoint)
			equal(t, tc.applied, got, "applied")
			s := c.Snapshot()
			if !tc.applied && s != before {
				t.Error("an ignored hint published a new snapshot")
			}
			n, e, ok := s.Leader(tc.topic, tc.partition)
			equal(t, tc.wantLeader, leader{n, e, ok}, "Leader")
			wantLed := tc.wantLed
			if wantLed == nil {
				wantLed = map[int32][]TopicPartition{1: {tp("a", 0)}, 2: {tp("a", 1)}, 3: {tp("b", 0)}}
			}
			for node := int32(1); node <= 3; node++ {
				equal(t, wantLed[node], s.LedBy(node), "LedBy(%d)", node)
			}
			equal(t, t0, s.Updated(), "a hint does not count as a refresh")
			equal(t, int32(2), s.Topic("a").View.Partitions, "view partition count")
		})
	}
}

func TestLeaderHintEndpointMakesOtherTopicsAvailable(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1),
		topic("a", none0, part(0, 1, 5)),
		topic("b", none0, part(0, 3, 0), part(1, 1, 0)),
	), answerVersion, nil, t0)
	equal(t, []int32{1}, c.Snapshot().Topic("b").View.Available, "b before the hint")

	ok := c.ApplyLeaderHint("a", wire.UUID{}, 0, 3, 6, &Broker{ID: 3, Host: "b3.example", Port: 9092})
	equal(t, true, ok, "applied")
	s := c.Snapshot()
	equal(t, []int32{0}, s.Topic("a").View.Available, "a after the hint")
	equal(t, []int32{0, 1}, s.Topic("b").View.Available, "b after the hint: broker 3 is addressable now")
	b, found := s.Broker(3)
	equal(t, true, found, "broker 3 known")
	equal(t, "b3.example:9092", b.Addr(), "broker 3 address")
	equal(t, 2, len(s.Brokers()), "broker count")
}

func TestLeaderHintEndpointUpdatesAddress(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5))), answerVersion, nil, t0)
	ok := c.ApplyLeaderHint("a", wire.UUID{}, 0, 2, 6, &Broker{ID: 2, Host: "moved.example", Port: 9093})
	equal(t, true, ok, "applied")
	b, _ := c.Snapshot().Broker(2)
	equal(t, "moved.example:9093", b.Addr(), "broker 2 address")
}

func TestLeaderHintOverUnknownEpoch(t *testing.T) {
	// Metadata before v7 has no epochs: any real epoch is news.
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, -1))), answerVersion, nil, t0)
	equal(t, true, c.ApplyLeaderHint("a", wire.UUID{}, 0, 2, 0, nil), "applied")
	n, e, ok := c.Snapshot().Leader("a", 0)
	equal(t, leader{2, 0, true}, leader{n, e, ok}, "Leader")
}

func TestLeaderHintThenLaggingRefresh(t *testing.T) {
	// The hint raised the epoch; a refresh from a broker that has not seen
	// the election yet must not undo it.
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5))), answerVersion, nil, t0)
	c.ApplyLeaderHint("a", wire.UUID{}, 0, 2, 6, nil)
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5))), answerVersion, []string{"a"}, t0)
	n, e, ok := c.Snapshot().Leader("a", 0)
	equal(t, leader{2, 6, true}, leader{n, e, ok}, "Leader")
}

// A late hint from a Produce answer about a topic's old incarnation, whose
// request was built under its old id (by id or by name), comes after the
// metadata learnt the re-created topic: it is not applied. Applied, its
// epoch (8) stuck over the new incarnation's (0), whose own hints and
// refreshes lost to it until its epochs passed 8. A hint under the cached
// id, or under none (metadata before v10), is applied as before.
func TestAHintAboutAnotherIncarnationOfATopicIsNotApplied(t *testing.T) {
	oldID, newID := wire.UUID{1}, wire.UUID{2}
	withID := func(rt protocolTopic, id wire.UUID) protocolTopic { rt.TopicID = id; return rt }
	c := NewCache()
	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 1, 7)), oldID)), answerVersion, []string{"a"}, t0)
	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 2, 0)), newID)), answerVersion, []string{"a"}, t0)

	equal(t, false, c.ApplyLeaderHint("a", oldID, 0, 1, 8, nil), "the old incarnation's hint applied")
	c.Apply(resp(brokers(1, 2), withID(topic("a", none0, part(0, 2, 0)), newID)), answerVersion, []string{"a"}, t0)
	n, e, ok := c.Snapshot().Leader("a", 0)
	equal(t, leader{2, 0, true}, leader{n, e, ok}, "leader after a refresh")

	equal(t, true, c.ApplyLeaderHint("a", newID, 0, 1, 1, nil), "the new incarnation's hint applied")
	equal(t, true, c.ApplyLeaderHint("a", wire.UUID{}, 0, 2, 2, nil), "a hint under no id applied")
	n, e, ok = c.Snapshot().Leader("a", 0)
	equal(t, leader{2, 2, true}, leader{n, e, ok}, "leader after the hints")
}
