package metadata

import (
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// Topic remembers the first topic it finds: the memo must answer for its
// own name only, spelt by any string (it keeps the caller's), and a
// snapshot built from another must not inherit it.
func TestTopicRemembersTheFirstFoundForItsNameOnly(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5)), topic("b", none0, part(0, 2, 0))), answerVersion, nil, t0)
	s := c.Snapshot()
	if s.Topic("zz") != nil {
		t.Fatal("Topic(zz) of a snapshot without zz is not nil")
	}
	for round := range 2 { // the first round sets the memo, the second reads past it
		for _, name := range []string{"a", "b"} {
			if got := s.Topic(name); got == nil || got.Name != name {
				t.Fatalf("round %d: Topic(%q) = %+v", round, name, got)
			}
			if got := s.Topic(strings.Clone(name)); got == nil || got.Name != name {
				t.Fatalf("round %d: Topic(%q) in another string = %+v", round, name, got)
			}
		}
		if s.Topic("zz") != nil {
			t.Fatalf("round %d: Topic(zz) is not nil", round)
		}
	}

	if !c.ApplyLeaderHint("a", wire.UUID{}, 0, 2, 6, nil) {
		t.Fatal("the hint was not applied")
	}
	next := c.Snapshot().Topic("a")
	equal(t, int32(2), next.Partitions[0].Leader, "leader of a-0 in the snapshot after the hint")
	equal(t, int32(1), s.Topic("a").Partitions[0].Leader, "leader of a-0 in the snapshot before it")
}

// Peek finds a topic without taking the memo, which stays for the first
// topic that Topic finds: the metadata loop's sweeps over a fresh snapshot
// left it to whichever topic they looked at first.
func TestPeekLeavesTheMemoToTopic(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5)), topic("b", none0, part(0, 2, 0))), answerVersion, nil, t0)
	s := c.Snapshot()
	if got := s.Peek("b"); got == nil || got.Name != "b" {
		t.Fatalf("Peek(b) = %+v", got)
	}
	if s.Peek("zz") != nil {
		t.Fatal("Peek(zz) of a snapshot without zz is not nil")
	}
	s.Topic("a")
	if first := s.first.Load(); first == nil || first.name != "a" {
		t.Fatalf("the memo after Peek(b), then Topic(a), is %+v; want a", first)
	}
}

// LeadersNotAmongBrokers names the leaders an answer gives but leaves out
// of its brokers, with the partitions they lead; a leader hint moving one
// of them away takes it off, and one giving the missing broker's address
// takes that leader off.
func TestLeadersNotAmongBrokersFollowsHintsAndBrokers(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2),
		topic("a", none0, part(0, 1, 5), part(1, 3, 5), part(2, 3, 5)),
		topic("b", none0, part(0, 3, 5), part(1, -1, 5))), answerVersion, nil, t0)
	equal(t, map[int32][]TopicPartition{3: {tp("a", 1), tp("a", 2), tp("b", 0)}},
		leadersNotAmongBrokers(c.Snapshot()), "after the answer")

	if !c.ApplyLeaderHint("a", wire.UUID{}, 1, 2, 6, nil) {
		t.Fatal("the hint was not applied")
	}
	equal(t, map[int32][]TopicPartition{3: {tp("a", 2), tp("b", 0)}},
		leadersNotAmongBrokers(c.Snapshot()), "after a-1 moved to broker 2")

	if !c.ApplyLeaderHint("a", wire.UUID{}, 2, 3, 6, &Broker{ID: 3, Host: "b3.example", Port: 9092}) {
		t.Fatal("the hint with broker 3's address was not applied")
	}
	equal(t, map[int32][]TopicPartition{}, leadersNotAmongBrokers(c.Snapshot()), "with broker 3's address")
}

func leadersNotAmongBrokers(s *Snapshot) map[int32][]TopicPartition {
	out := map[int32][]TopicPartition{}
	for leader, led := range s.LeadersNotAmongBrokers() {
		out[leader] = led
	}
	return out
}
