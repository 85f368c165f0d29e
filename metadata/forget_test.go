package metadata

import "testing"

// Forget drops a topic, its partitions from the brokers' lists among them,
// and keeps the rest; a topic looked up again after it comes back with a
// fresh slot, so no component finds a handle of the forgotten one.
func TestForgetDropsOnlyTheNamedTopics(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5)), topic("b", none0, part(0, 2, 0), part(1, 1, 0))), answerVersion, []string{"a", "b"}, t0)
	before := c.Snapshot()
	slotA := before.Topic("a").Slot

	equal(t, []string{"a"}, c.Forget([]string{"a", "never-known"}), "the topics forgotten")
	s := c.Snapshot()
	if s.Topic("a") != nil {
		t.Fatal("topic a is still cached after Forget")
	}
	equal(t, []TopicPartition{tp("b", 1)}, s.LedBy(1), "partitions broker 1 leads")
	equal(t, []TopicPartition{tp("b", 0)}, s.LedBy(2), "partitions broker 2 leads")
	equal(t, 2, len(s.Brokers()), "brokers")
	if before.Topic("a") == nil {
		t.Fatal("Forget changed a snapshot already taken")
	}

	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 5))), answerVersion, []string{"a"}, t0)
	if got := c.Snapshot().Topic("a"); got == nil || got.Slot == slotA {
		t.Fatalf("topic a came back as %+v, with the forgotten topic's slot", got)
	}
}

func TestForgetOfNothingKnownKeepsTheSnapshot(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1), topic("a", none0, part(0, 1, 5))), answerVersion, []string{"a"}, t0)
	s := c.Snapshot()
	if got := c.Forget([]string{"b"}); got != nil {
		t.Fatalf("Forget of a topic the cache does not hold says it forgot %q", got)
	}
	if c.Snapshot() != s {
		t.Fatal("forgetting a topic the cache does not hold published a new snapshot")
	}
}
