package metadata

import (
	"testing"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// A refusal is news only from a Metadata answer that names the topic after
// the one cached: a leader hint for another topic, an answer that leaves
// the topic out, and a broker set's change copy the cached topic into the
// next snapshot, and the refusal in it stays old.
func TestARefusalIsNewOnlyFromALaterAnswerNamingTheTopic(t *testing.T) {
	denied := kerr.TopicAuthorizationFailed.Code
	c := NewCache()
	c.Apply(resp(brokers(1), topic("secret", denied), topic("other", none0, part(0, 1, 5))), []string{"secret", "other"}, t0)
	cached := c.Snapshot().Peek("secret")
	equal(t, true, cached.RefusedSince(nil), "a refusal with nothing cached before")

	c.ApplyLeaderHint("other", wire.UUID{}, 0, 2, 6, &Broker{ID: 2, Host: "b2.example", Port: 9092})
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(cached), "after a leader hint for another topic, with a new broker")
	c.Apply(resp(brokers(1, 3), topic("other", none0, part(0, 3, 7))), []string{"other"}, t0)
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(cached), "after an answer leaving the topic out, with a new broker")

	c.Apply(resp(brokers(1, 3), topic("secret", denied)), []string{"secret"}, t0)
	equal(t, true, c.Snapshot().Peek("secret").RefusedSince(cached), "after an answer refusing the topic again")
	c.Apply(resp(brokers(1, 3), topic("secret", none0, part(0, 1, 0))), []string{"secret"}, t0)
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(nil), "a topic with partitions")
}
