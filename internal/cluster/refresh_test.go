package cluster

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

func TestAWantedTopicIsAskedForUntilReleased(t *testing.T) {
	r := newRig(t, fakebroker.Options{}, 1)
	asked := make(chan string, 100)
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		for _, tp := range req.Topics {
			if tp.Name != nil {
				select {
				case asked <- *tp.Name:
				default:
				}
			}
		}
		return fakebroker.Action{}
	})
	// As the producer's callers do: want, then ask. Wanting alone does not
	// wake a loop that is waiting out MetadataMaxAge.
	release := r.c.Want("later")
	r.c.RequestRefresh("test")
	select {
	case name := <-asked:
		require.Equal(t, "later", name, "an unknown wanted topic is polled for")
	case <-time.After(waitFor):
		t.Fatal("a wanted topic was never asked for")
	}
	require.NoError(t, r.fake.CreateTopic("later", 2))
	require.Eventually(t, func() bool {
		tp := r.c.Snapshot().Topic("later")
		return tp != nil && len(tp.Partitions) == 2
	}, waitFor, time.Millisecond)
	release()
	release() // a second call does nothing
	require.Empty(t, r.c.wantedTopics())
}

// A release called again takes nothing more away: each waiter takes away
// its own want only. Counted twice (a deferred release after an explicit
// one), it took another waiter's, whose topic was then no longer asked for
// nor polled while that waiter still waited for it.
func TestAReleaseCalledAgainLeavesTheOtherWaitersWant(t *testing.T) {
	c := New(Config{Clock: clock.Real{}})
	first, second := c.Want("t"), c.Want("t")
	firstPartition, secondPartition := c.WantPartition("t", 1), c.WantPartition("t", 1)
	first()
	first()
	firstPartition()
	firstPartition()
	require.Equal(t, []string{"t"}, c.wantedTopics(), "topics awaited while one of two waiters waits")
	require.Equal(t, []metadata.TopicPartition{{Topic: "t", Partition: 1}}, c.partitionsWanted(),
		"partitions awaited while one of two waiters waits")
	second()
	secondPartition()
	require.Empty(t, c.wantedTopics(), "topics awaited once both released")
	require.Empty(t, c.partitionsWanted(), "partitions awaited once both released")
}

// hideOnce makes the fake answer topic as unknown once, as a broker whose
// metadata lags behind the cluster's would, after arm is called; asked
// reports whether a later request named topic again. The requests after
// the lagging one come only once its answer is applied.
func (r *rig) hideOnce(topic string) (arm func(), asked func() bool) {
	var hide, hidden, again atomic.Bool
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			hidden.Store(true)
			return fakebroker.Action{Hide: []string{topic}}
		}
		for _, rt := range req.Topics {
			if hidden.Load() && rt.Name != nil && *rt.Name == topic {
				again.Store(true)
			}
		}
		return fakebroker.Action{}
	})
	return func() { hide.Store(true) }, again.Load
}

// A topic the producer has batches of stays in the metadata requests after
// a lagging broker called it unknown, and the loop polls for it at once
// rather than at MetadataMaxAge (an hour here): its batches need leaders.
// Before, only cached topics with partitions and awaited ones were asked
// for, and the batches waited for their DeliveryTimeout.
func TestATopicWithBatchesIsAskedForAgainAfterAnAnswerCallsItUnknown(t *testing.T) {
	r := newRig(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1)
	r.awaitTopic("t")
	r.buffered.Store(&[]metadata.TopicPartition{{Topic: "t"}})
	arm, askedAgain := r.hideOnce("t")
	arm()
	r.c.RequestRefresh("test")
	require.Eventually(t, func() bool {
		tp := r.c.Snapshot().Topic("t")
		return askedAgain() && tp != nil && len(tp.Partitions) == 2
	}, waitFor, time.Millisecond, "the topic was not asked for, or not known again, after one answer called it unknown")
}

// A refresh tells the producer what its answer changed (Applied), a topic
// re-created under a new id among it, before anyone can read the new
// snapshot: not through Snapshot, which the senders read a request's topic
// ids from, nor through Updated. A sender that read the new id first could
// build requests under it with the old topic's pipelining. Before, the
// changes were dropped; then they were told after the cache stored the
// snapshot.
func TestARefreshTellsWhatItsAnswerChangedBeforeAnyoneReadsIt(t *testing.T) {
	// The topics Applied told of as re-created, and the id of t that
	// Snapshot and Updated gave by then.
	type told struct {
		recreated    []string
		read, spread wire.UUID
	}
	tell := make(chan told, 1)
	var r *rig
	r = newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1, func(cfg *Config) {
		cfg.Applied = func(ch *metadata.Changes) {
			if len(ch.RecreatedTopics) > 0 {
				tell <- told{ch.RecreatedTopics, r.c.Snapshot().Topic("t").ID, r.spread.Load().Topic("t").ID}
			}
		}
	})
	old := r.awaitTopic("t").ID
	require.NoError(t, r.fake.RecreateTopic("t"))
	r.c.RequestRefresh("test")
	got := bounded.Receive(t, tell, waitFor, "no refresh told of the re-created topic")
	require.Equal(t, []string{"t"}, got.recreated)
	require.Equal(t, old, got.read, "Snapshot gave the new id before the change was told")
	require.Equal(t, old, got.spread, "Updated spread the new id before the change was told")
	require.Eventually(t, func() bool {
		return r.spread.Load().Topic("t").ID != old
	}, waitFor, time.Millisecond, "the new id never spread")
}

// A partition with batches that an answer leaves out (a broker that has
// not seen CreatePartitions yet, under no topic id, so the cache takes its
// count) has no leader, and the loop polls for it at once rather than at
// MetadataMaxAge (an hour here). Before, it polled only for a buffered
// topic with no partitions at all, and the batches had no sender until
// their DeliveryTimeout.
func TestAPartitionWithBatchesLeftOutOfAnAnswerIsAskedForAgain(t *testing.T) {
	r := newRig(t, fakebroker.Options{Topics: map[string]int32{"t": 4},
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}}, 1)
	require.Zero(t, r.awaitTopic("t").ID, "Metadata v9 names no topic id")
	r.buffered.Store(&[]metadata.TopicPartition{{Topic: "t", Partition: 3}})
	var shrink, shrunk, askedAgain atomic.Bool
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if shrink.CompareAndSwap(true, false) {
			shrunk.Store(true)
			return fakebroker.Action{Shrink: map[string]int32{"t": 2}}
		}
		if shrunk.Load() {
			askedAgain.Store(true)
		}
		return fakebroker.Action{}
	})
	shrink.Store(true)
	r.c.RequestRefresh("test")
	require.Eventually(t, func() bool {
		tp := r.c.Snapshot().Topic("t")
		return askedAgain.Load() && tp != nil && len(tp.Partitions) == 4
	}, waitFor, time.Millisecond, "the partition left out was not asked for again")
}

// A refresh with no topic to ask for asks for none, and keeps what the
// cache knows: applied as an answer for every topic, it deleted the
// topics it did not name. Here the only topic, called unknown by a
// lagging broker, is neither awaited nor buffered, so the next refresh
// asks for nothing.
func TestARefreshForNoTopicKeepsTheCachedOnes(t *testing.T) {
	r := newRig(t, fakebroker.Options{Topics: map[string]int32{"t": 2}}, 1)
	r.awaitTopic("t")
	arm, _ := r.hideOnce("t")
	arm()
	r.c.RequestRefresh("test")
	require.Eventually(t, func() bool {
		tp := r.c.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 0
	}, waitFor, time.Millisecond, "the lagging answer was never applied")

	// Refreshes run one after another: once the fake has seen a request,
	// the updates that follow the count it saw are that request's.
	var asked []protocol.MetadataRequestTopic
	seen, updatesSeen := false, 0
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !seen {
			seen, asked, updatesSeen = true, req.Topics, r.updates
		}
		return fakebroker.Action{}
	})
	r.c.RequestRefresh("test")
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return seen && r.updates > updatesSeen
	}, waitFor, time.Millisecond, "no refresh applied after the lagging answer")
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotNil(t, asked, "a request for no topic asked for all of them")
	require.Empty(t, asked)
	tp := r.c.Snapshot().Topic("t")
	require.NotNil(t, tp, "the refresh for no topic deleted the cached one")
	require.ErrorIs(t, tp.Err, kerr.UnknownTopicOrPartition)
}

// A topic the cluster refused (TOPIC_AUTHORIZATION_FAILED) is asked for
// by every refresh while cached, as a topic with partitions is, though
// nothing awaits it: access granted later is told only by an answer that
// names it. Asked for only while awaited, its refusal stayed cached, the
// answer to every later PartitionsFor and to the records held for it. An
// unknown topic, by contrast, is asked for only while awaited: asked for
// ever after, it could be auto-created long after everyone gave up on it.
func TestARefusedTopicIsAskedForWhileCached(t *testing.T) {
	c := New(Config{Clock: clock.Real{}})
	refused, unknown := "refused", "unknown"
	c.cache.Apply(&protocol.MetadataResponse{
		Brokers: []protocol.MetadataResponseBroker{{NodeID: 0, Host: "127.0.0.1", Port: 9092}},
		Topics: []protocol.MetadataResponseTopic{
			{Name: &refused, ErrorCode: kerr.TopicAuthorizationFailed.Code},
			{Name: &unknown, ErrorCode: kerr.UnknownTopicOrPartition.Code},
		},
	}, 12, []string{refused, unknown}, time.Now())
	require.True(t, c.Snapshot().Topic(refused).Refused(), "the topic the answer refused")
	ask, _ := c.topics()
	require.Equal(t, []string{refused}, ask, "the topics a refresh asks for, none awaited")
}

// A leader hint the cache does not take (stale: its epoch no newer than
// the one cached) asks for a refresh instead, so that the partition's
// leader comes from a broker soon rather than at MetadataMaxAge; a hint
// the cache takes asks for none, having told the news itself.
func TestAStaleLeaderHintAsksForARefresh(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := New(Config{Clock: clock.Real{}, Logger: logger, Conn: conn.Config{Logger: logger}})
	t.Cleanup(c.Close)
	name := "t"
	c.cache.Apply(&protocol.MetadataResponse{
		Brokers: []protocol.MetadataResponseBroker{{NodeID: 0, Host: "127.0.0.1", Port: 9092}, {NodeID: 1, Host: "127.0.0.1", Port: 9093}},
		Topics: []protocol.MetadataResponseTopic{{Name: &name, Partitions: []protocol.MetadataResponsePartition{
			{PartitionIndex: 0, LeaderID: 0, LeaderEpoch: 5},
		}}},
	}, 12, []string{name}, time.Now())
	require.False(t, c.ApplyLeaderHint(name, wire.UUID{}, 0, 1, 5, nil), "a hint at the cached epoch taken")
	require.True(t, refreshAsked(c), "a stale hint asked for no refresh")
	require.True(t, c.ApplyLeaderHint(name, wire.UUID{}, 0, 1, 6, nil), "a hint at a newer epoch not taken")
	require.False(t, refreshAsked(c), "a hint taken asked for a refresh")
}
