package metadata

import (
	"errors"
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// leader is what Snapshot.Leader answers for one partition.
type leader struct {
	node, epoch int32
	ok          bool
}

func TestApply(t *testing.T) {
	const (
		none          = 0
		unknownTopic  = 3
		leaderNA      = 5
		invalidTopic  = 17
		authorization = 29
	)
	idA := wire.UUID{1}
	idA2 := wire.UUID{2}
	withID := func(tp2 protocolTopic, id wire.UUID) protocolTopic { tp2.TopicID = id; return tp2 }

	tests := []struct {
		name  string
		setup []update
		apply update
		// Expectations after apply.
		changes     Changes
		leaders     map[TopicPartition]leader
		partitions  map[string]int   // partition count per topic
		errs        map[string]error // topic errors
		absent      []string         // topics Topic() must not know
		updatedISR  map[TopicPartition][]int32
		partErrs    map[TopicPartition]error
		brokerCount int
	}{
		{
			name:        "first update learns topics and brokers",
			apply:       update{resp(brokers(1, 2), topic("a", none, part(0, 1, 0), part(1, 2, 0))), []string{"a"}},
			changes:     Changes{NewTopics: []string{"a"}, BrokersAdded: []int32{1, 2}},
			leaders:     map[TopicPartition]leader{tp("a", 0): {1, 0, true}, tp("a", 1): {2, 0, true}},
			partitions:  map[string]int{"a": 2},
			brokerCount: 2,
		},
		{
			name: "requested topics are replaced, others kept",
			setup: []update{{resp(brokers(1, 2),
				topic("a", none, part(0, 1, 0)), topic("b", none, part(0, 2, 0))), nil}},
			apply:      update{resp(brokers(1, 2), topic("a", none, part(0, 2, 1))), []string{"a"}},
			changes:    Changes{LeadersMoved: []TopicPartition{tp("a", 0)}},
			leaders:    map[TopicPartition]leader{tp("a", 0): {2, 1, true}, tp("b", 0): {2, 0, true}},
			partitions: map[string]int{"a": 1, "b": 1},
		},
		{
			name: "requested topic missing from the response is kept",
			setup: []update{{resp(brokers(1),
				topic("a", none, part(0, 1, 0)), topic("b", none, part(0, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0))), []string{"a", "b"}},
			partitions: map[string]int{"a": 1, "b": 1},
		},
		{
			name: "all-topics response drops topics it no longer lists",
			setup: []update{{resp(brokers(1),
				topic("a", none, part(0, 1, 0)), topic("b", none, part(0, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0))), nil},
			changes:    Changes{RemovedTopics: []string{"b"}},
			partitions: map[string]int{"a": 1},
			absent:     []string{"b"},
		},
		{
			name:    "older leader epoch from a lagging broker keeps the cached partition",
			setup:   []update{{resp(brokers(1, 2), topic("a", none, part(0, 1, 5))), nil}},
			apply:   update{resp(brokers(1, 2), topic("a", none, part(0, 2, 4))), []string{"a"}},
			leaders: map[TopicPartition]leader{tp("a", 0): {1, 5, true}},
		},
		{
			name:    "newer leader epoch moves the leader",
			setup:   []update{{resp(brokers(1, 2), topic("a", none, part(0, 1, 5))), nil}},
			apply:   update{resp(brokers(1, 2), topic("a", none, part(0, 2, 6))), []string{"a"}},
			changes: Changes{LeadersMoved: []TopicPartition{tp("a", 0)}},
			leaders: map[TopicPartition]leader{tp("a", 0): {2, 6, true}},
		},
		{
			name:  "equal epoch is taken, so replica changes land",
			setup: []update{{resp(brokers(1, 2), topic("a", none, part(0, 1, 5))), nil}},
			apply: update{resp(brokers(1, 2), topic("a", none, func() protocolPartition {
				p := part(0, 1, 5)
				p.IsrNodes = []int32{1, 2}
				return p
			}())), []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 0): {1, 5, true}},
			updatedISR: map[TopicPartition][]int32{tp("a", 0): {1, 2}},
		},
		{
			name:    "unknown epoch (-1) carries no order and is taken",
			setup:   []update{{resp(brokers(1, 2), topic("a", none, part(0, 1, 5))), nil}},
			apply:   update{resp(brokers(1, 2), topic("a", none, part(0, 2, -1))), []string{"a"}},
			changes: Changes{LeadersMoved: []TopicPartition{tp("a", 0)}},
			leaders: map[TopicPartition]leader{tp("a", 0): {2, -1, true}},
		},
		{
			name:    "a re-created topic (new id) restarts epochs",
			setup:   []update{{resp(brokers(1, 2), withID(topic("a", none, part(0, 1, 9)), idA)), nil}},
			apply:   update{resp(brokers(1, 2), withID(topic("a", none, part(0, 2, 0)), idA2)), []string{"a"}},
			changes: Changes{LeadersMoved: []TopicPartition{tp("a", 0)}, RecreatedTopics: []string{"a"}},
			leaders: map[TopicPartition]leader{tp("a", 0): {2, 0, true}},
		},
		{
			name:       "LEADER_NOT_AVAILABLE keeps the partitions already known",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 3), part(1, 1, 3))), nil}},
			apply:      update{resp(brokers(1), topic("a", leaderNA)), []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 0): {1, 3, true}, tp("a", 1): {1, 3, true}},
			partitions: map[string]int{"a": 2},
			errs:       map[string]error{"a": kerr.LeaderNotAvailable},
		},
		{
			name:       "LEADER_NOT_AVAILABLE for a new topic records the error only",
			apply:      update{resp(brokers(1), topic("a", leaderNA)), []string{"a"}},
			changes:    Changes{BrokersAdded: []int32{1}},
			partitions: map[string]int{"a": 0},
			errs:       map[string]error{"a": kerr.LeaderNotAvailable},
			leaders:    map[TopicPartition]leader{tp("a", 0): {-1, -1, false}},
		},
		{
			name:       "UNKNOWN_TOPIC_OR_PARTITION records the error and drops partitions",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", unknownTopic)), []string{"a"}},
			changes:    Changes{UnknownTopics: []string{"a"}},
			partitions: map[string]int{"a": 0},
			errs:       map[string]error{"a": kerr.UnknownTopicOrPartition},
		},
		{
			name:       "INVALID_TOPIC_EXCEPTION is reported as unknown",
			apply:      update{resp(brokers(1), topic("bad name", invalidTopic)), []string{"bad name"}},
			changes:    Changes{UnknownTopics: []string{"bad name"}, BrokersAdded: []int32{1}},
			partitions: map[string]int{"bad name": 0},
			errs:       map[string]error{"bad name": kerr.InvalidTopicException},
		},
		{
			name:       "a non-retriable topic error drops partitions",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", authorization)), []string{"a"}},
			partitions: map[string]int{"a": 0},
			errs:       map[string]error{"a": kerr.TopicAuthorizationFailed},
		},
		{
			name:       "partition count growth is picked up",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1, 1, 0), part(2, 1, 0), part(3, 1, 0))), []string{"a"}},
			changes:    Changes{GrownTopics: []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 3): {1, 0, true}},
			partitions: map[string]int{"a": 4},
		},
		{
			// One partition more is growth too, the least CreatePartitions
			// can add.
			name:       "growth by a single partition is picked up",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1, 1, 0), part(2, 1, 0))), []string{"a"}},
			changes:    Changes{GrownTopics: []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 2): {1, 0, true}},
			partitions: map[string]int{"a": 3},
		},
		{
			// Kafka never removes a partition: the answer comes from a broker
			// that has not seen CreatePartitions yet. Taken as it was, it
			// left the batches of partitions 2 and 3 with no sender.
			name: "fewer partitions under the same id keep the cached ones past the answer's count",
			setup: []update{{resp(brokers(1, 2), withID(topic("a", none,
				part(0, 1, 3), part(1, 2, 3), part(2, 1, 3), part(3, 2, 3)), idA)), nil}},
			apply:      update{resp(brokers(1, 2), withID(topic("a", none, part(0, 2, 4), part(1, 2, 3)), idA)), []string{"a"}},
			changes:    Changes{LeadersMoved: []TopicPartition{tp("a", 0)}},
			leaders:    map[TopicPartition]leader{tp("a", 0): {2, 4, true}, tp("a", 2): {1, 3, true}, tp("a", 3): {2, 3, true}},
			partitions: map[string]int{"a": 4},
		},
		{
			// Without ids a lagging broker cannot be told from a topic
			// re-created with fewer partitions: the answer is taken.
			name: "fewer partitions under no id are taken",
			setup: []update{{resp(brokers(1, 2), topic("a", none,
				part(0, 1, 3), part(1, 2, 3), part(2, 1, 3), part(3, 2, 3))), nil}},
			apply:      update{resp(brokers(1, 2), topic("a", none, part(0, 1, 3), part(1, 2, 3))), []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 3): {-1, -1, false}},
			partitions: map[string]int{"a": 2},
		},
		{
			name: "fewer partitions under a new id are taken",
			setup: []update{{resp(brokers(1, 2), withID(topic("a", none,
				part(0, 1, 3), part(1, 2, 3), part(2, 1, 3), part(3, 2, 3)), idA)), nil}},
			apply:      update{resp(brokers(1, 2), withID(topic("a", none, part(0, 1, 0), part(1, 2, 0)), idA2)), []string{"a"}},
			changes:    Changes{RecreatedTopics: []string{"a"}},
			leaders:    map[TopicPartition]leader{tp("a", 0): {1, 0, true}, tp("a", 3): {-1, -1, false}},
			partitions: map[string]int{"a": 2},
		},
		{
			name: "a vanished broker makes the partitions it led unavailable",
			setup: []update{{resp(brokers(1, 2),
				topic("a", none, part(0, 1, 0)), topic("b", none, part(0, 2, 0))), nil}},
			apply:       update{resp(brokers(1), topic("a", none, part(0, 1, 0))), []string{"a"}},
			changes:     Changes{BrokersRemoved: []int32{2}},
			leaders:     map[TopicPartition]leader{tp("b", 0): {2, 0, false}},
			brokerCount: 1,
		},
		{
			name:  "a broker at a new address is reported as moved",
			setup: []update{{resp(brokers(1)), nil}},
			apply: update{resp(func() []protocolBroker {
				b := brokers(1)
				b[0].Host = "elsewhere"
				return b
			}()), []string{}},
			changes:     Changes{BrokersMoved: []int32{1}},
			brokerCount: 1,
		},
		{
			// A broker restarted on another port must be dialed there, or
			// its partitions' records have nowhere to go.
			name:  "a broker on a new port of the same host is reported as moved",
			setup: []update{{resp(brokers(1)), nil}},
			apply: update{resp(func() []protocolBroker {
				b := brokers(1)
				b[0].Port = 9093
				return b
			}()), []string{}},
			changes:     Changes{BrokersMoved: []int32{1}},
			brokerCount: 1,
		},
		{
			name:        "a response without brokers leaves them alone",
			setup:       []update{{resp(brokers(1, 2)), nil}},
			apply:       update{resp(nil, topic("a", none, part(0, 2, 0))), []string{"a"}},
			changes:     Changes{NewTopics: []string{"a"}},
			leaders:     map[TopicPartition]leader{tp("a", 0): {2, 0, true}},
			brokerCount: 2,
		},
		{
			name: "partition errors are recorded",
			apply: update{resp(brokers(1), topic("a", none, part(0, 1, 0), func() protocolPartition {
				p := part(1, -1, 2)
				p.ErrorCode = leaderNA
				return p
			}())), []string{"a"}},
			changes:  Changes{NewTopics: []string{"a"}, BrokersAdded: []int32{1}},
			leaders:  map[TopicPartition]leader{tp("a", 1): {-1, 2, false}},
			partErrs: map[TopicPartition]error{tp("a", 1): kerr.LeaderNotAvailable, tp("a", 0): nil},
		},
		{
			// Metadata v12 may name a topic by id alone (a null name): this
			// producer asks by name, and such a topic must not crash it.
			name:       "a topic answered by id alone is skipped",
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0)), protocolTopic{TopicID: idA}), []string{"a"}},
			changes:    Changes{NewTopics: []string{"a"}, BrokersAdded: []int32{1}},
			partitions: map[string]int{"a": 1},
		},
		{
			name:    "partitions not numbered 0 to n-1 are an error for the topic",
			apply:   update{resp(brokers(1), topic("a", none, part(0, 1, 0), part(2, 1, 0))), []string{"a"}},
			changes: Changes{BrokersAdded: []int32{1}},
			errs:    map[string]error{"a": ErrMalformed},
			leaders: map[TopicPartition]leader{tp("a", 0): {-1, -1, false}},
		},
		{
			name:       "an absurd partition index keeps what was known, and allocates nothing for it",
			setup:      []update{{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1, 1, 0))), nil}},
			apply:      update{resp(brokers(1), topic("a", none, part(0, 1, 0), part(1_000_000, 1, 0))), []string{"a"}},
			errs:       map[string]error{"a": ErrMalformed},
			partitions: map[string]int{"a": 2},
			leaders:    map[TopicPartition]leader{tp("a", 1): {1, 0, true}},
		},
		{
			name:    "a partition listed twice is an error for the topic",
			apply:   update{resp(brokers(1), topic("a", none, part(0, 1, 0), part(0, 1, 0))), []string{"a"}},
			changes: Changes{BrokersAdded: []int32{1}},
			errs:    map[string]error{"a": ErrMalformed},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache()
			for _, u := range tc.setup {
				c.Apply(u.resp, answerVersion, u.requested, t0)
			}
			got := c.Apply(tc.apply.resp, answerVersion, tc.apply.requested, t0.Add(1))
			equal(t, tc.changes, got, "changes")
			s := c.Snapshot()
			equal(t, t0.Add(1), s.Updated(), "Updated")
			for tp, want := range tc.leaders {
				n, e, ok := s.Leader(tp.Topic, tp.Partition)
				equal(t, want, leader{n, e, ok}, "Leader(%v)", tp)
			}
			for name, n := range tc.partitions {
				top := s.Topic(name)
				if top == nil {
					t.Fatalf("topic %q unknown", name)
				}
				equal(t, n, len(top.Partitions), "partitions of %q", name)
				if top.View == nil {
					t.Fatalf("topic %q has no view", name)
				}
				equal(t, int32(n), top.View.Partitions, "view partition count of %q", name)
				for i, p := range top.Partitions {
					equal(t, int32(i), p.ID, "Partitions[%d].ID of %q", i, name)
				}
			}
			for name, want := range tc.errs {
				top := s.Topic(name)
				if top == nil {
					t.Fatalf("topic %q unknown", name)
				}
				if !errors.Is(top.Err, want) {
					t.Errorf("error of %q = %v, want %v", name, top.Err, want)
				}
			}
			for _, name := range tc.absent {
				if s.Topic(name) != nil {
					t.Errorf("topic %q should be gone", name)
				}
			}
			for tp, isr := range tc.updatedISR {
				equal(t, isr, s.Topic(tp.Topic).Partitions[tp.Partition].ISR, "ISR of %v", tp)
			}
			for tp, want := range tc.partErrs {
				equal(t, want, s.Topic(tp.Topic).Partitions[tp.Partition].Err, "error of %v", tp)
			}
			if tc.brokerCount > 0 {
				equal(t, tc.brokerCount, len(s.Brokers()), "broker count")
			}
		})
	}
}

// A topic re-created under a new id, first named with a retriable error
// (its leaders being elected): the old incarnation's partitions are not
// kept under the new id, where the next answer's lower epochs would lose
// to theirs, and the old leader stay.
func TestARecreatedTopicNamedWithARetriableErrorKeepsNothingOfTheOld(t *testing.T) {
	const leaderNA = 5
	c := NewCache()
	old := topic("t", 0, part(0, 1, 10))
	old.TopicID = wire.UUID{1}
	c.Apply(resp(brokers(1, 2), old), answerVersion, []string{"t"}, t0)
	electing := topic("t", leaderNA)
	electing.TopicID = wire.UUID{2}
	c.Apply(resp(brokers(1, 2), electing), answerVersion, []string{"t"}, t0)
	if n := len(c.Snapshot().Topic("t").Partitions); n != 0 {
		t.Fatalf("the new incarnation, electing its leaders, has %d partitions of the old", n)
	}
	elected := topic("t", 0, part(0, 2, 0))
	elected.TopicID = wire.UUID{2}
	c.Apply(resp(brokers(1, 2), elected), answerVersion, []string{"t"}, t0)
	if leader, epoch, _ := c.Snapshot().Leader("t", 0); leader != 2 || epoch != 0 {
		t.Fatalf("leader %d epoch %d, want 2 epoch 0: the old incarnation's epoch 10 won", leader, epoch)
	}
}

// A topic is reported re-created when an answer gives it another id than
// the last one seen of it, whether the answer before named it under the old
// id or called it unknown (no id) in between; each such topic once, in
// order. Neither the first id of a topic, nor an answer without an id
// (Metadata before v10, an error), nor the same id again, nor a malformed
// answer, which is not taken, reports one.
func TestChangesListTheTopicsRecreated(t *testing.T) {
	const unknownTopic, leaderNA = 3, 5
	withID := func(tp2 protocolTopic, id byte) protocolTopic { tp2.TopicID = wire.UUID{id}; return tp2 }
	c := NewCache()
	apply := func(topics ...protocolTopic) Changes {
		return c.Apply(resp(brokers(1), topics...), answerVersion, []string{"a", "b", "c", "d"}, t0)
	}
	ch := apply(withID(topic("a", none0, part(0, 1, 0)), 1), withID(topic("b", none0, part(0, 1, 0)), 2),
		withID(topic("c", none0, part(0, 1, 0)), 3), topic("d", none0, part(0, 1, 0)))
	equal(t, []string(nil), ch.RecreatedTopics, "the first ids")

	ch = apply(withID(topic("a", none0, part(0, 1, 0)), 1), topic("b", unknownTopic),
		withID(topic("c", leaderNA), 3), topic("d", none0, part(0, 1, 0)))
	equal(t, []string(nil), ch.RecreatedTopics, "the same id, no id, no id again")

	malformed := withID(topic("c", none0, part(0, 1, 0)), 9)
	malformed.Partitions = append(malformed.Partitions, part(0, 1, 0))
	ch = apply(withID(topic("a", none0, part(0, 1, 0)), 4), withID(topic("b", none0, part(0, 1, 0)), 5),
		malformed, withID(topic("d", none0, part(0, 1, 0)), 6))
	equal(t, []string{"a", "b"}, ch.RecreatedTopics, "a new id after the old, and after none (b was unknown)")
	equal(t, []string{"b"}, ch.NewTopics, "b had no partitions")
	equal(t, wire.UUID{3}, c.Snapshot().Topic("c").ID, "the malformed answer's id not taken")
	if (&Changes{RecreatedTopics: []string{"a"}}).Empty() {
		t.Error("a re-created topic is a change")
	}
}

// A retriable topic error (LEADER_NOT_AVAILABLE) whose answer omits the
// topic id keeps the id known: lost, the next answer under it would look
// like a new topic, and a lagging broker's older epochs would be taken.
func TestARetriableTopicErrorKeepsTheTopicID(t *testing.T) {
	const leaderNA = 5
	c := NewCache()
	id := wire.UUID{7}
	ok := topic("a", none0, part(0, 1, 0))
	ok.TopicID = id
	c.Apply(resp(brokers(1), ok), answerVersion, []string{"a"}, t0)
	c.Apply(resp(brokers(1), topic("a", leaderNA)), answerVersion, []string{"a"}, t0.Add(1)) // no id
	equal(t, id, c.Snapshot().Topic("a").ID, "topic id after a retriable error")
}

// A topic not asked for keeps its partitions, but a broker leaving
// rebuilds its view: the partitioner must stop choosing the partitions the
// gone broker led, whose records would wait for their DeliveryTimeout.
func TestABrokerLeavingRebuildsTheViewsOfTopicsNotAskedFor(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 0)), topic("b", none0, part(0, 1, 0), part(1, 2, 0))), answerVersion, nil, t0)
	c.Apply(resp(brokers(1), topic("a", none0, part(0, 1, 0))), answerVersion, []string{"a"}, t0.Add(1))
	b := c.Snapshot().Topic("b")
	if b == nil {
		t.Fatal("topic b forgotten")
	}
	equal(t, []int32{0}, b.View.Available, "b's available partitions after broker 2 left")
}

func TestViewAvailableExcludesLeaderlessAndUnknownBrokers(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0,
		part(0, 1, 0),
		part(1, -1, 0), // election under way
		part(2, 7, 0),  // leader not in the broker list
		part(3, 2, 0),
	)), answerVersion, nil, t0)
	v := c.Snapshot().Topic("a").View
	equal(t, "a", v.Name, "view name")
	equal(t, int32(4), v.Partitions, "view partition count")
	equal(t, []int32{0, 3}, v.Available, "available partitions")
}

func TestLedBy(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2),
		topic("b", none0, part(0, 2, 0), part(1, 1, 0)),
		topic("a", none0, part(0, 1, 0), part(1, 2, 0), part(2, 1, 0), part(3, -1, 0)),
	), answerVersion, nil, t0)
	s := c.Snapshot()
	equal(t, []TopicPartition{tp("a", 0), tp("a", 2), tp("b", 1)}, s.LedBy(1), "LedBy(1)")
	equal(t, []TopicPartition{tp("a", 1), tp("b", 0)}, s.LedBy(2), "LedBy(2)")
	equal(t, 0, len(s.LedBy(3)), "LedBy(3) of an unknown broker")
	equal(t, 0, len(s.LedBy(-1)), "LedBy(-1): leaderless partitions are led by nobody")

	// A leader move shows in the next snapshot, never in the old one.
	c.Apply(resp(brokers(1, 2), topic("b", none0, part(0, 1, 1), part(1, 1, 0))), answerVersion, []string{"b"}, t0)
	equal(t, []TopicPartition{tp("a", 1), tp("b", 0)}, s.LedBy(2), "old snapshot's LedBy(2)")
	s2 := c.Snapshot()
	equal(t, []TopicPartition{tp("a", 0), tp("a", 2), tp("b", 0), tp("b", 1)}, s2.LedBy(1), "new LedBy(1)")
	equal(t, []TopicPartition{tp("a", 1)}, s2.LedBy(2), "new LedBy(2)")
}

func TestEmptySnapshot(t *testing.T) {
	s := NewCache().Snapshot()
	if s == nil {
		t.Fatal("Snapshot() is nil before the first update")
	}
	if s.Topic("a") != nil || len(s.Brokers()) != 0 || len(s.LedBy(1)) != 0 {
		t.Error("empty snapshot knows something")
	}
	if _, ok := s.Broker(1); ok {
		t.Error("empty snapshot knows broker 1")
	}
	if _, _, ok := s.Leader("a", 0); ok {
		t.Error("empty snapshot knows a leader")
	}
	if !s.Updated().IsZero() {
		t.Error("empty snapshot has an update time")
	}
}

func TestBrokerAddr(t *testing.T) {
	equal(t, "b1.example:9092", Broker{ID: 1, Host: "b1.example", Port: 9092}.Addr(), "Addr")
	equal(t, "[::1]:9093", Broker{Host: "::1", Port: 9093}.Addr(), "IPv6 Addr")
}

// A broker's address is dialled and named in its connections' errors: a
// host an answer gave that no resolver takes is quoted, control characters
// escaped, and cut after 512 bytes. Before, a line break in it faked a line
// of the application's log, once per failed dial, and an escape ran on its
// terminal. A host a resolver may take is as it came.
func TestABrokersHostNoResolverTakesIsQuotedInItsAddr(t *testing.T) {
	c := NewCache()
	bs := brokers(1, 2, 3)
	bs[1].Host = "b2\n\x1b[2J.example"
	bs[2].Host = strings.Repeat("h", 600)
	c.Apply(resp(bs), answerVersion, nil, t0)
	for id, want := range map[int32]string{
		1: "b1.example:9092",
		2: `"b2\n\x1b[2J.example":9092`,
		3: `"` + strings.Repeat("h", 512) + `"... (600 bytes):9092`,
	} {
		b, ok := c.Snapshot().Broker(id)
		equal(t, true, ok, "broker %d known", id)
		equal(t, want, b.Addr(), "broker %d's Addr", id)
	}
}

func TestSnapshotTopics(t *testing.T) {
	c := NewCache()
	equal(t, []string{}, c.Snapshot().Topics(), "topics of the empty snapshot")
	c.Apply(resp(brokers(1), topic("b", none0, part(0, 1, 0)), topic("a", 3)), answerVersion, nil, t0)
	equal(t, []string{"a", "b"}, c.Snapshot().Topics(), "topics, sorted, errors included")
}

// TestSlotPassesFromSnapshotToSnapshot holds what the accumulator relies
// on: a topic's Slot is the same across every snapshot that knows the
// topic, refreshes and leader changes included.
func TestSlotPassesFromSnapshotToSnapshot(t *testing.T) {
	c := NewCache()
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 1, 0), part(1, 2, 0))), answerVersion, nil, t0)
	first := c.Snapshot().Topic("a").Slot
	if first == nil {
		t.Fatal("a topic learnt from a response has no slot")
	}
	c.Apply(resp(brokers(1, 2), topic("a", none0, part(0, 2, 1), part(1, 2, 0))), answerVersion, nil, t0)
	if got := c.Snapshot().Topic("a").Slot; got != first {
		t.Errorf("after a leader change the slot is %p, want %p", got, first)
	}
	c.Apply(resp(brokers(1, 2, 3), topic("b", none0, part(0, 3, 0))), answerVersion, []string{"b"}, t0)
	if got := c.Snapshot().Topic("a").Slot; got != first {
		t.Errorf("after a refresh of another topic the slot is %p, want %p", got, first)
	}
	if b := c.Snapshot().Topic("b").Slot; b == nil || b == first {
		t.Errorf("topic b's slot is %p, want one of its own", b)
	}
}
