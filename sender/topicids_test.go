package sender

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// topicIDs is the metadata's topic ids as Hooks.TopicID reads them; a test
// changes them to play a re-created topic.
type topicIDs struct {
	mu  sync.Mutex
	ids map[string]wire.UUID
	// asked counts lookups, to check that the sender asks once per topic
	// of a request.
	asked int
}

func (ti *topicIDs) lookup(topic string) wire.UUID {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.asked++
	return ti.ids[topic]
}

func (ti *topicIDs) set(topic string, id wire.UUID) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.ids[topic] = id
}

func (ti *topicIDs) lookups() int {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.asked
}

// newTopicIDRig is a rig whose connection negotiated Produce version and
// whose metadata knows ids.
func newTopicIDRig(t *testing.T, version int16, ids map[string]wire.UUID, mod func(*Config)) (*rig, *topicIDs) {
	ti := &topicIDs{ids: ids}
	r := newRig(t, func(c *Config) {
		c.Hooks.TopicID = ti.lookup
		if mod != nil {
			mod(c)
		}
	})
	r.conn.produce = version
	return r, ti
}

// answerByID answers a request by topic id, as a v13 broker does: ids
// only, no names.
func answerByID(req *protocol.ProduceRequest, code int16, offset int64) *protocol.ProduceResponse {
	resp := answer(req, code, offset)
	for i := range resp.Topics {
		resp.Topics[i].Name, resp.Topics[i].TopicID = "", req.Topics[i].TopicID
	}
	return resp
}

var idT = wire.UUID{0: 't', 15: 1}

func TestRequestNamesTopicsByID(t *testing.T) {
	r, ti := newTopicIDRig(t, 13, map[string]wire.UUID{"t": idT}, func(c *Config) { c.MaxInFlight = 1 })
	r.produce(parts[0], 1)
	first := r.next()
	require.Equal(t, int16(13), first.version)
	require.Len(t, first.req.Topics, 1)
	require.Equal(t, idT, first.req.Topics[0].TopicID, "v13 carries the metadata's id")
	// Held on the first request, the sender drains two batches of "t"
	// into the next one.
	r.produce(parts[0], 2)
	r.produce(parts[1], 3)
	first.done(answerByID(first.req, 0, 40), nil)
	c := r.next()
	require.Len(t, c.req.Topics, 1)
	require.Len(t, c.req.Topics[0].Partitions, 2)
	require.Equal(t, 2, ti.lookups(), "one lookup per topic of a request, not per batch")
	c.done(answerByID(c.req, 0, 41), nil)
	for id, offset := range map[int]int64{1: 40, 2: 41, 3: 41} {
		out := r.outcome(id)
		require.NoError(t, out.Err, "record %d: the answer keyed by id reaches its batch", id)
		require.Equal(t, offset, out.Offset, "record %d", id)
	}
}

// A topic without an id in the metadata (a broker before Metadata v10, or a
// topic it does not describe yet) sends the request at v12, by name: never
// a failure, never a wait.
func TestUnknownTopicIDFallsBackToV12(t *testing.T) {
	for name, hook := range map[string]bool{"zero id": true, "no hook": false} {
		t.Run(name, func(t *testing.T) {
			r, _ := newTopicIDRig(t, 13, map[string]wire.UUID{}, func(c *Config) {
				if !hook {
					c.Hooks.TopicID = nil
				}
			})
			r.produce(parts[0], 1)
			c := r.next()
			require.Equal(t, int16(12), c.version)
			require.Equal(t, "t", c.req.Topics[0].Name)
			require.Zero(t, c.req.Topics[0].TopicID)
			c.done(answer(c.req, 0, 3), nil)
			require.Equal(t, int64(3), r.outcome(1).Offset)
		})
	}
}

// Below v13 the request names its topics, and records their ids all the
// same, once per topic: the leader hints in its answer go with them.
func TestARequestToAnOlderBrokerNamesItsTopicsAndRecordsTheirIDs(t *testing.T) {
	r, ti := newTopicIDRig(t, 12, map[string]wire.UUID{"t": idT}, nil)
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, int16(12), c.version)
	require.Equal(t, "t", sent(t, c).Topics[0].Name)
	require.Zero(t, sent(t, c).Topics[0].TopicID, "v12 sends no id")
	require.Equal(t, idT, c.req.Topics[0].TopicID, "the id recorded")
	c.done(answer(c.req, 0, 3), nil)
	r.outcome(1)
	require.Equal(t, 1, ti.lookups())
}

// sent is c's request as the broker reads it, at the version it went in.
func sent(t *testing.T, c *call) *protocol.ProduceRequest {
	t.Helper()
	var got protocol.ProduceRequest
	require.NoError(t, got.ReadFrom(c.req.AppendTo(nil, c.version), c.version))
	return &got
}

// A transactional producer stays at v11 whatever the broker offers, until
// transactions v2 is spoken (KIP-890); topic ids do not lift that.
func TestTransactionalCapHoldsWithTopicIDs(t *testing.T) {
	txn := "txn"
	r, _ := newTopicIDRig(t, 13, map[string]wire.UUID{"t": idT}, func(c *Config) { c.TransactionalID = &txn })
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, int16(11), c.version)
	require.Zero(t, sent(t, c).Topics[0].TopicID)
	c.done(answer(c.req, 0, 3), nil)
	r.outcome(1)
}

// UNKNOWN_TOPIC_ID is handled like an unknown topic: a metadata refresh,
// then a retry after the backoff, which carries the id the refreshed
// metadata gives (here, the topic was re-created under a new one).
func TestUnknownTopicIDRefreshesAndRetries(t *testing.T) {
	r, ti := newTopicIDRig(t, 13, map[string]wire.UUID{"t": idT}, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(answerByID(c.req, kerr.UnknownTopicID.Code, -1), nil)

	newID := wire.UUID{0: 't', 15: 2}
	ti.set("t", newID)
	retry := r.afterBackoff(120 * time.Millisecond)
	require.Equal(t, int16(13), retry.version)
	require.Equal(t, newID, retry.req.Topics[0].TopicID, "the retry names the topic by its current id")
	require.Equal(t, c.req.Topics[0].Partitions[0].Records, retry.req.Topics[0].Partitions[0].Records, "the same batch")
	retry.done(answerByID(retry.req, 0, 9), nil)
	require.Equal(t, int64(9), r.outcome(1).Offset)
	require.Contains(t, r.refreshesAsked(), "UNKNOWN_TOPIC_ID", "UNKNOWN_TOPIC_ID asks for fresh metadata")
}

// An answer under an id the request did not carry answers nothing: the
// batch is retried, never completed with another topic's offsets, and the
// retry's cause names the stray id. Before, the cause read as if the broker
// had left the partition out, and hid what it did answer.
func TestAnswerForAnotherIDIsNoAnswer(t *testing.T) {
	var causes []error
	r, _ := newTopicIDRig(t, 13, map[string]wire.UUID{"t": idT}, func(c *Config) {
		c.Events.Retried = func(_ accumulator.TopicPartition, _, _ int, _ time.Duration, r accumulator.Retry) {
			causes = append(causes, r.Cause)
		}
	})
	r.produce(parts[0], 1)
	c := r.next()
	resp := answerByID(c.req, 0, 5)
	resp.Topics[0].TopicID = wire.UUID{15: 0xee}
	c.done(resp, nil)
	retry := r.afterBackoff(120 * time.Millisecond)
	retry.done(answerByID(retry.req, 0, 6), nil)
	require.Equal(t, int64(6), r.outcome(1).Offset)
	require.Len(t, causes, 1)
	require.EqualError(t, causes[0], "broker 1 answered Produce v13 without the partition, "+
		"and under topic id AAAAAAAAAAAAAAAAAAAA7g, which the request did not carry")
}

// Two topics the metadata gives one id cannot be told apart in the answer:
// the request names them instead.
func TestSharedIDFallsBackToNames(t *testing.T) {
	t0, u0 := accumulator.TopicPartition{Topic: "t", Partition: 0}, accumulator.TopicPartition{Topic: "u", Partition: 0}
	r, _ := newTopicIDRig(t, 13, map[string]wire.UUID{"t": idT, "u": idT}, func(c *Config) {
		c.MaxInFlight = 1
		c.Hooks.Partitions = func() []accumulator.TopicPartition { return []accumulator.TopicPartition{parts[1], t0, u0} }
	})
	// Hold the sender on a first request so that the next one carries both
	// topics.
	r.produce(parts[1], 0)
	first := r.next()
	require.Equal(t, int16(13), first.version, "one topic, one id")
	r.produce(t0, 1)
	r.produce(u0, 2)
	first.done(answerByID(first.req, 0, 0), nil)

	c := r.next()
	require.Len(t, c.req.Topics, 2)
	require.Equal(t, int16(12), c.version)
	for _, rt := range sent(t, c).Topics {
		require.Zero(t, rt.TopicID, "topic %s", rt.Name)
	}
	c.done(answer(c.req, 0, 1), nil)
	require.NoError(t, r.outcome(1).Err)
	require.NoError(t, r.outcome(2).Err)
}

// BenchmarkByTopicID is what naming topics by id adds to a request: one
// lookup per topic, whatever the number of batches, and past eight topics
// the map that finds two under one id. The hook reads a map, as the producer's reads the
// metadata snapshot's.
func BenchmarkByTopicID(b *testing.B) {
	for _, topics := range []int{1, 10} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) {
			ids := map[string]wire.UUID{}
			req := &protocol.ProduceRequest{}
			for i := range topics {
				name := fmt.Sprintf("topic-%d", i)
				ids[name] = wire.UUID{0: 1, 15: byte(i)}
				req.Topics = append(req.Topics, protocol.ProduceRequestTopic{Name: name})
			}
			s := &Sender{cfg: Config{Hooks: Hooks{TopicID: func(topic string) wire.UUID { return ids[topic] }}}}
			b.ReportAllocs()
			for b.Loop() {
				if v, _ := s.byTopicID(req, 13); v != 13 {
					b.Fatalf("v%d", v)
				}
			}
		})
	}
}

// A leader hint in an answer goes with the id the metadata gave the topic
// when the request was built, not its id when the answer came: the topic
// may have been re-created since, and the hint is about the incarnation
// the batch was sent to (the metadata cache refuses it under another id).
// So does a request by name (Produce v12 and below, every broker before
// Kafka 4.1), which gave the zero id: a late hint about a deleted topic's
// old incarnation was applied to the re-created one, and its epoch, higher
// than the new incarnation's, stuck until theirs passed it.
func TestALeaderHintCarriesTheTopicIDOfWhenTheRequestWasBuilt(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version int16
		want    wire.UUID
	}{
		{"by id", 13, idT},
		{"by name", 12, idT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var hinted []wire.UUID
			r, ti := newTopicIDRig(t, tc.version, map[string]wire.UUID{"t": idT}, func(c *Config) {
				c.Hooks.LeaderHint = func(_ string, id wire.UUID, _, _, _ int32, _ *protocol.ProduceResponseNodeEndpoint) bool {
					mu.Lock()
					defer mu.Unlock()
					hinted = append(hinted, id)
					return false
				}
			})
			r.produce(parts[0], 1)
			c := r.next()
			ti.set("t", wire.UUID{0: 't', 15: 2}) // re-created while the request was out
			resp := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
			if tc.version >= protocol.ProduceTopicIDVersion {
				resp = answerByID(c.req, kerr.NotLeaderOrFollower.Code, -1)
			}
			resp.Topics[0].Partitions[0].CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: 2, LeaderEpoch: 8}
			c.done(resp, nil)
			require.Eventually(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(hinted) > 0
			}, 10*time.Second, time.Millisecond, "no hint applied")
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, []wire.UUID{tc.want}, hinted)
		})
	}
}
