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
