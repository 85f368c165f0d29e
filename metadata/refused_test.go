package metadata

import (
	"errors"
	"fmt"
	"strings"
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
	c.Apply(resp(brokers(1), topic("secret", denied), topic("other", none0, part(0, 1, 5))), answerVersion, []string{"secret", "other"}, t0)
	cached := c.Snapshot().Peek("secret")
	equal(t, true, cached.RefusedSince(nil), "a refusal with nothing cached before")

	c.ApplyLeaderHint("other", wire.UUID{}, 0, 2, 6, &Broker{ID: 2, Host: "b2.example", Port: 9092})
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(cached), "after a leader hint for another topic, with a new broker")
	c.Apply(resp(brokers(1, 3), topic("other", none0, part(0, 3, 7))), answerVersion, []string{"other"}, t0)
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(cached), "after an answer leaving the topic out, with a new broker")

	c.Apply(resp(brokers(1, 3), topic("secret", denied)), answerVersion, []string{"secret"}, t0)
	equal(t, true, c.Snapshot().Peek("secret").RefusedSince(cached), "after an answer refusing the topic again")
	c.Apply(resp(brokers(1, 3), topic("secret", none0, part(0, 1, 0))), answerVersion, []string{"secret"}, t0)
	equal(t, false, c.Snapshot().Peek("secret").RefusedSince(nil), "a topic with partitions")
}

// One broker's corrupt answer (a partition listed twice, or an index past
// the count) for a topic not cached yet is no refusal: it says nothing of
// the topic, and the next answer may be right, where a refusal fails the
// topic's records at once. Its error names the answer: Metadata, the
// version it was read at, and what was wrong.
func TestAMalformedAnswerIsNoRefusal(t *testing.T) {
	for name, parts := range map[string][]protocolPartition{
		"partition 0 listed twice":   {part(0, 1, 1), part(0, 1, 1)},
		"partition 2 listed among 2": {part(0, 1, 1), part(2, 1, 1)},
	} {
		t.Run(name, func(t *testing.T) {
			c := NewCache()
			c.Apply(resp(brokers(1), topic("a", none0, parts...)), answerVersion, []string{"a"}, t0)
			got := c.Snapshot().Peek("a")
			equal(t, false, got.Refused(), "refused after a malformed answer (%v)", got.Err)
			equal(t, true, errors.Is(got.Err, ErrMalformed), "the error wraps ErrMalformed: %v", got.Err)
			for _, what := range []string{"Metadata v12", name} {
				equal(t, true, strings.Contains(fmt.Sprint(got.Err), what), "the error %q names %q", got.Err, what)
			}
		})
	}
}
