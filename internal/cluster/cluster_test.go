package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
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
	"github.com/gokafka/producer/sasl/plain"
)

const waitFor = 10 * time.Second

// rig is a Cluster over a fake cluster, with its callbacks recorded.
type rig struct {
	t    *testing.T
	fake *fakebroker.Cluster
	c    *Cluster

	// buffered and used are what Config.InUse answers: the partitions the
	// test pretends to have batches of, and the topics it pretends to have
	// started one of lately.
	buffered atomic.Pointer[[]metadata.TopicPartition]
	used     atomic.Pointer[[]string]

	// spread is the last snapshot Config.Updated got: one the node set
	// (and NodeJoined, NodeLeft) already matches, which Snapshot, read
	// between the cache's Apply and the sync after it, may not be yet.
	spread atomic.Pointer[metadata.Snapshot]

	mu      sync.Mutex
	events  []string // "joined 1", "left 2"
	updates int
	errs    []error
}

func newRig(t *testing.T, opts fakebroker.Options, seeds int) *rig {
	return newRigWith(t, opts, seeds, nil)
}

// newRigWith is newRig with mod applied to the Cluster's Config.
func newRigWith(t *testing.T, opts fakebroker.Options, seeds int, mod func(*Config)) *rig {
	fake, err := fakebroker.Start(opts)
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	r := &rig{t: t, fake: fake}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{
		Seeds:           fake.Addrs()[:seeds],
		Conn:            conn.Config{Logger: logger, RequestTimeout: waitFor},
		RetryBackoff:    10 * time.Millisecond,
		RetryBackoffMax: 50 * time.Millisecond,
		MetadataMaxAge:  time.Hour,
		Clock:           clock.Real{},
		Logger:          logger,
		NodeJoined:      func(n *Node) { r.event("joined", n.ID) },
		NodeLeft:        func(n *Node) { r.event("left", n.ID) },
		Updated: func(snap *metadata.Snapshot) {
			r.spread.Store(snap)
			r.mu.Lock()
			r.updates++
			r.mu.Unlock()
		},
		Refreshed: func(err error) {
			if err != nil {
				r.mu.Lock()
				r.errs = append(r.errs, err)
				r.mu.Unlock()
			}
		},
		InUse: func(time.Time) (buffered []metadata.TopicPartition, used []string) {
			if l := r.buffered.Load(); l != nil {
				buffered = *l
			}
			if l := r.used.Load(); l != nil {
				used = append(used, *l...)
			}
			for _, tp := range buffered {
				used = append(used, tp.Topic)
			}
			return buffered, used
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	r.c = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		bounded.Receive(t, done, waitFor, "Run did not return once its ctx ended")
		r.c.Close()
	})
	return r
}

func (r *rig) event(what string, id int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, what+" "+string(rune('0'+id)))
}

func (r *rig) eventsNow() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

// awaitTopic wants topic until the metadata knows it, within waitFor. It
// reads the snapshot Updated last got, not Snapshot: the cache publishes
// an answer before the node set is synced to it (NodeJoined run), and a
// test that then looks at the nodes could find them missing.
func (r *rig) awaitTopic(topic string) *metadata.Topic {
	r.t.Helper()
	defer r.c.Want(topic)()
	var t *metadata.Topic
	require.Eventually(r.t, func() bool {
		changed := r.c.Changed()
		if snap := r.spread.Load(); snap != nil {
			if t = snap.Topic(topic); t != nil && len(t.Partitions) > 0 {
				return true
			}
		}
		r.c.RequestRefresh("test")
		select {
		case <-changed:
		case <-time.After(100 * time.Millisecond):
		}
		return false
	}, waitFor, time.Millisecond, "topic %q never in the metadata", topic)
	return t
}

func TestNodesJoinFromTheSeedsAndLeaveWhenTheMetadataDropsThem(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"t": 3}}, 1)
	r.awaitTopic("t")
	require.ElementsMatch(t, []string{"joined 0", "joined 1", "joined 2"}, r.eventsNow(), "the seed led to every node")
	for id := int32(0); id < 3; id++ {
		require.NotNil(t, r.c.Node(id))
	}
	require.NotEmpty(t, r.c.Node(0).Led(), "a node knows the partitions it leads")

	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{HideBrokers: []int32{2}}
	})
	// NodeLeft runs once the node is out of the set, outside its lock: the
	// wait is for both.
	require.Eventually(t, func() bool {
		r.c.RequestRefresh("test")
		return r.c.Node(2) == nil && len(r.eventsNow()) > 3
	}, waitFor, 10*time.Millisecond, "node 2 was never dropped, or NodeLeft never ran")
	require.Equal(t, "left 2", r.eventsNow()[3])
}

// A node one answer leaves out keeps its connection for the requests in
// flight on it (a lagging broker's answer may leave out a live one, whose
// requests, cut, could be written with their answers lost), until
// CloseLeft, or Close.
func TestANodeLeftOutKeepsItsConnectionUntilCloseLeftOrClose(t *testing.T) {
	for _, closing := range []string{"CloseLeft", "Close"} {
		t.Run(closing, func(t *testing.T) {
			left := make(chan *Node, 1)
			r := newRigWith(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
				cfg.NodeLeft = func(n *Node) { left <- n }
			})
			r.awaitTopic("t")
			cn, err := r.c.Node(1).Broker.Conn(context.Background())
			require.NoError(t, err)
			r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
				return fakebroker.Action{HideBrokers: []int32{1}}
			})
			r.c.RequestRefresh("test")
			n := bounded.Receive(t, left, waitFor, "node 1 never left")
			require.Nil(t, r.c.Node(1), "a node that left is asked nothing more")
			require.NoError(t, cn.Err(), "the connection of a node that left closed before CloseLeft")

			if closing == "CloseLeft" {
				r.c.CloseLeft(n)
			} else {
				r.c.Close()
			}
			bounded.Receive(t, cn.Done(), waitFor, "the connection of a node that left outlived "+closing)
		})
	}
}

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

func TestAskAnyPassesOverBrokersItCannotReach(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 2)
	r.awaitTopic("t")
	require.NoError(t, r.fake.DropConnections(0))
	r.fake.OnMetadata(func(node int32, _ *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{Drop: node == 0} // node 0 hangs up
	})
	for range 5 {
		resp, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
		require.NoError(t, err)
		require.IsType(t, &protocol.MetadataResponse{}, resp)
	}
}

func TestACoordinatorIsFoundOnceAndFoundAgainWhenForgotten(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2}, 1)
	coordinator := int32(1)
	var mu sync.Mutex
	var asked []string
	r.fake.OnFindCoordinator(func(_ int32, keyType int8, key string) (int32, fakebroker.Action) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, fmt.Sprint(keyType, " ", key))
		return coordinator, fakebroker.Action{}
	})
	ctx := context.Background()
	b, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[1], b.Addr())
	again, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Same(t, b, again)
	require.Equal(t, int64(1), r.fake.FindCoordinatorRequests(), "cached")
	mu.Lock()
	require.Equal(t, []string{fmt.Sprint(int8(TransactionCoordinator), " tx")}, asked)
	mu.Unlock()

	mu.Lock()
	coordinator = 0 // it moved; the old one would say NOT_COORDINATOR
	mu.Unlock()
	r.c.ForgetCoordinator(TransactionCoordinator, "tx")
	moved, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[0], moved.Addr())
}

// A coordinator whose connection fails a request is forgotten, and the
// next request looks the coordinator up again: it may have moved (its
// broker restarting hands the transactions it coordinated to another),
// and kept, the one that failed would be asked again and again while the
// new one went unasked.
func TestACoordinatorThatFailedARequestIsLookedUpAgain(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2}, 1)
	var coordinator atomic.Int32
	coordinator.Store(1)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return coordinator.Load(), fakebroker.Action{}
	})
	r.fake.OnInitProducerId(func(node int32, _ *protocol.InitProducerIdRequest) fakebroker.Action {
		return fakebroker.Action{Drop: node == 1} // node 1 hangs up: it is going down
	})
	ctx := context.Background()
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1, TransactionTimeoutMs: 60000}
	_, err := r.c.AskCoordinator(ctx, TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	_, known := r.c.KnownCoordinator(TransactionCoordinator, "tx")
	require.False(t, known, "the coordinator whose connection failed the request is still known")

	coordinator.Store(0) // node 0 took the transactions over
	_, err = r.c.AskCoordinator(ctx, TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.NoError(t, err, "the request after the coordinator moved")
	require.Equal(t, int64(2), r.fake.FindCoordinatorRequests(), "lookups")
}

func TestACoordinatorNotAvailableIsRetriable(t *testing.T) {
	r := newRig(t, fakebroker.Options{}, 1)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return 0, fakebroker.Action{Err: kerr.CoordinatorNotAvailable}
	})
	_, err := r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.ErrorIs(t, err, kerr.CoordinatorNotAvailable)
	require.True(t, Retriable(err))
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return 0, fakebroker.Action{Err: kerr.GroupAuthorizationFailed}
	})
	_, err = r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.ErrorIs(t, err, kerr.GroupAuthorizationFailed)
	require.False(t, Retriable(err))
}

// A FindCoordinator answer's message and the host it names are the
// broker's text: they reach the lookup's error, and the errors of every
// request to the coordinator, quoted, control characters escaped, and cut
// after 512 bytes. Before, a line break in them faked a line of the
// application's log and an escape ran on its terminal. Up to v3 the answer
// is the response's own fields, from v4 its entry for the key; the Kafka
// error still matches, and a host a resolver takes is as it came.
func TestACoordinatorAnswersTextIsShownSafely(t *testing.T) {
	evil, long := "loading\n\x1b[2Jkprod: done", strings.Repeat("x", 600)+"THE END"
	_, _, err := coordinatorIn(&protocol.FindCoordinatorResponse{
		ErrorCode: kerr.CoordinatorLoadInProgress.Code, ErrorMessage: &evil}, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress)
	require.Contains(t, err.Error(), `("loading\n\x1b[2Jkprod: done")`)
	require.NotContains(t, err.Error(), "\n")

	_, _, err = coordinatorIn(&protocol.FindCoordinatorResponse{Coordinators: []protocol.FindCoordinatorResponseCoordinator{
		{Key: "tx", ErrorCode: kerr.CoordinatorLoadInProgress.Code, ErrorMessage: &long}}}, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress)
	require.Contains(t, err.Error(), `("`+strings.Repeat("x", 512)+`"... (607 bytes))`)
	require.NotContains(t, err.Error(), "THE END")

	for host, want := range map[string]string{
		"b1.example":  "b1.example:9092",
		"b1\n\x1b[2J": `"b1\n\x1b[2J":9092`,
		long:          `"` + strings.Repeat("x", 512) + `"... (607 bytes):9092`,
	} {
		id, addr, err := coordinatorIn(&protocol.FindCoordinatorResponse{Coordinators: []protocol.FindCoordinatorResponseCoordinator{
			{Key: "tx", NodeID: 1, Host: host, Port: 9092}}}, TransactionCoordinator, "tx")
		require.NoError(t, err)
		require.Equal(t, int32(1), id)
		require.Equal(t, want, addr)
	}
}

// Every broker refuses the producer (its SASL finds no mechanism the
// broker speaks): the lookup fails without any broker's answer, but a
// refusal is not a failure that heals, so the transaction calls must not
// ask again until their ctx ends.
func TestACoordinatorLookupRefusedIsNotRetriable(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.SaslHandshake: {Min: 1, Max: 0}, // the broker offers no SASL
	}}, 1, func(cfg *Config) { cfg.Conn.SASL = plain.New("u", "p") })
	_, err := r.c.Coordinator(context.Background(), TransactionCoordinator, "tx")
	require.ErrorIs(t, err, conn.ErrAuthentication)
	require.ErrorIs(t, err, ErrNoBroker)
	require.False(t, Retriable(err))
}

// FindCoordinator v0 has no KeyType: a transactional id's lookup sent at
// v0 reads as a group's, and would find the coordinator of a group named
// as the id. A broker speaking v0 alone (no Kafka broker since 0.11,
// when transactions came with v1) gets nothing, and the error names the
// API and both ranges, a failure no version fits; a group's lookup still
// goes at v0.
func TestATransactionCoordinatorIsNotLookedUpAtV0(t *testing.T) {
	r := newRig(t, fakebroker.Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.FindCoordinator: {Min: 0, Max: 0},
	}}, 1)
	var mu sync.Mutex
	var keyTypes []int8
	r.fake.OnFindCoordinator(func(_ int32, keyType int8, _ string) (int32, fakebroker.Action) {
		mu.Lock()
		defer mu.Unlock()
		keyTypes = append(keyTypes, keyType)
		return 0, fakebroker.Action{}
	})
	ctx := context.Background()
	_, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.ErrorContains(t, err, "no common version of FindCoordinator: we speak v1-v6, the broker v0-v0")
	require.True(t, NoVersionFits(err), "%v", err)
	require.Zero(t, r.fake.FindCoordinatorRequests(), "a transaction coordinator looked up at v0")

	_, err = r.c.Coordinator(ctx, GroupCoordinator, "g")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int8{protocol.CoordinatorKeyGroup}, keyTypes)
}

// After Close no new broker gets a connection handle, which nothing would
// close: not a node named by a leader hint from an answer that came as the
// producer closed, nor a coordinator found by a lookup answered then.
func TestNoBrokerIsAddedAfterClose(t *testing.T) {
	r := newRig(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1)
	r.awaitTopic("t")
	_, epoch, ok := r.c.Snapshot().Leader("t", 0)
	require.True(t, ok)
	r.c.Close()

	require.True(t, r.c.ApplyLeaderHint("t", wire.UUID{}, 0, 7, epoch+1, &metadata.Broker{ID: 7, Host: "127.0.0.1", Port: 1}))
	require.Nil(t, r.c.Node(7), "a node named after Close")
	_, err := r.c.brokerFor(8, "127.0.0.1:1").Conn(context.Background())
	require.ErrorIs(t, err, conn.ErrClosed, "a coordinator found after Close")
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

// One broker refusing the producer while the other could not be reached
// (restarting, say) may heal: the lookup is asked again. Only a refusal
// from every broker asked is final.
func TestARefusalAmongBrokersNotReachedIsRetriable(t *testing.T) {
	refused := &conn.AuthError{Addr: "b1:9092", Mechanism: "PLAIN", Err: kerr.SaslAuthenticationFailed}
	down := fmt.Errorf("%w: dialing b2:9092: connection refused", conn.ErrDisconnected)
	asked := func(errs ...error) error {
		return fmt.Errorf("%w: %w", ErrNoBroker, brokersFailed(errs))
	}
	require.True(t, Retriable(asked(refused, down)), "one refusal of two")
	require.False(t, Retriable(asked(refused, refused)), "both refused")
	require.False(t, Retriable(fmt.Errorf("EndTxn: %w", refused)), "the coordinator's own refusal")
}

func TestANodeTheMetadataDoesNotNameMayStillCoordinate(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 1)
	r.awaitTopic("t")
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{HideBrokers: []int32{1}}
	})
	require.Eventually(t, func() bool {
		r.c.RequestRefresh("test")
		return r.c.Node(1) == nil
	}, waitFor, 10*time.Millisecond)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) { return 1, fakebroker.Action{} })
	b, err := r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[1], b.Addr(), "FindCoordinator's address serves")
	_, err = b.Conn(context.Background())
	require.NoError(t, err)
}

// Once nodes are known, a request goes to a seed only if every node failed
// it: a seed that is gone, which a seed list outlives, cost a dial, and a
// failed request or a dial timeout, whenever the shuffle put it first.
func TestAskAnyAsksTheSeedsOnlyAfterTheNodes(t *testing.T) {
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { gone.Close() })
	var dials atomic.Int64
	go func() {
		for {
			c, err := gone.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close() // a broker that is no more
		}
	}()
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		cfg.Seeds = append(cfg.Seeds, gone.Addr().String())
	})
	r.awaitTopic("t") // the node is known
	before := dials.Load()
	for range 30 {
		_, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
		require.NoError(t, err)
	}
	require.Equal(t, before, dials.Load(), "a seed was dialled while the node answered")
}

// A node with a live connection is asked before one that AskAny would
// have to dial: the dial costs round trips (and, with SASL, an
// authentication) before the request can go, and makes one more
// connection to keep. The Java client's leastLoadedNode, too, prefers a
// node with a ready connection.
func TestAskAnyAsksAConnectedNodeBeforeOneItWouldDial(t *testing.T) {
	fake, err := fakebroker.Start(fakebroker.Options{Nodes: 2})
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := New(Config{Seeds: fake.Addrs()[:1], Clock: clock.Real{}, Logger: logger,
		Conn: conn.Config{Logger: logger, RequestTimeout: waitFor}})
	t.Cleanup(c.Close)
	require.NoError(t, c.refresh(context.Background())) // through the seed
	_, err = c.Node(1).Broker.Conn(context.Background())
	require.NoError(t, err)
	require.Equal(t, conn.Dialable, c.Node(0).Broker.Readiness(), "node 0, never dialled")
	for range 10 { // the nodes are shuffled each time
		require.Same(t, c.Node(1).Broker, c.brokers()[0], "the broker AskAny asks first")
	}
}

// A node whose host stopped answering, which its sender keeps dialling, is
// asked only after the connected nodes: AskAny joining that dial made one
// metadata request in three wait up to ConnectionSetupTimeout while two
// brokers had live connections. The Java client's leastLoadedNode, too,
// prefers a node with a ready connection over one connecting.
func TestAskAnyDoesNotWaitOnADialWhileOtherNodesAreConnected(t *testing.T) {
	var hanging atomic.Value // the address whose dials hang, until closed
	hanging.Store("")
	dialing := make(chan struct{}, 1)
	backoffClock := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := newRigWith(t, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"t": 3}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = backoffClock
		cfg.Conn.DialTimeout = time.Hour
		cfg.Conn.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == hanging.Load().(string) {
				select {
				case dialing <- struct{}{}:
				default:
				}
				<-ctx.Done() // a host that drops packets
				return nil, ctx.Err()
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
	r.awaitTopic("t")
	var node1 *conn.Conn
	for id := int32(0); id < 3; id++ {
		cn, err := r.c.Node(id).Broker.Conn(context.Background())
		require.NoError(t, err)
		if id == 1 {
			node1 = cn
		}
	}
	// Node 1's host goes dark: its connection breaks, and once the
	// reconnect backoff is over its sender dials it, and waits.
	hanging.Store(r.c.Node(1).Broker.Addr())
	node1.Close()
	_, err := r.c.Node(1).Broker.Conn(context.Background())
	require.ErrorIs(t, err, conn.ErrBackoff)
	backoffClock.Advance(r.c.Node(1).Broker.NextAttempt().Sub(backoffClock.Now()))
	go r.c.Node(1).Broker.Conn(context.Background()) // until Close
	bounded.Receive(t, dialing, waitFor, "node 1 was never dialled")

	for i := range 30 {
		ctx, cancel := context.WithTimeoutCause(context.Background(), waitFor,
			fmt.Errorf("request %d waited on the dial to node 1 while nodes 0 and 2 were connected", i))
		_, err := r.c.AskAny(ctx, &protocol.MetadataRequest{})
		cancel()
		require.NoError(t, err)
	}
}

// A node the metadata advertises under a new address (here another name
// for the same listener) keeps its live connection, and the request in
// flight on it gets its answer: failed as the connection closed, it would
// be retried while the broker may still write it, twice without
// idempotence.
func TestAMovedNodeAnswersTheRequestInFlightOnItsConnection(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 1)
	r.awaitTopic("t")
	n := r.c.Node(1)
	cn, err := n.Broker.Conn(context.Background())
	require.NoError(t, err)
	release, holding := make(chan struct{}), make(chan struct{})
	var heldOne atomic.Bool
	r.fake.OnMetadata(func(node int32, _ *protocol.MetadataRequest) fakebroker.Action {
		if node == 1 && heldOne.CompareAndSwap(false, true) {
			close(holding)
			<-release
		}
		return fakebroker.Action{}
	})
	released := sync.OnceFunc(func() { close(release) })
	t.Cleanup(released)
	answered := make(chan error, 1)
	go func() {
		_, err := cn.Request(context.Background(), &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{}})
		answered <- err
	}()
	bounded.Receive(t, holding, waitFor, "the request never reached node 1")

	r.moveToLocalhost(1)
	require.Same(t, n, r.c.Node(1), "a moved node is the same node")
	released()
	err = bounded.Receive(t, answered, waitFor, "the request in flight was never answered")
	require.NoError(t, err, "the request in flight as node 1 moved")
	again, err := n.Broker.Conn(context.Background())
	require.NoError(t, err)
	require.Same(t, cn, again, "later requests go on the live connection")
}

// moveToLocalhost applies an answer advertising node id under another name
// for its listener, localhost, and syncs the nodes to it; it returns the
// node's new address.
func (r *rig) moveToLocalhost(id int32) string {
	var moved protocol.MetadataResponse
	var addr string
	for _, b := range r.c.Snapshot().Brokers() {
		host := b.Host
		if b.ID == id {
			host = "localhost"
			addr = net.JoinHostPort(host, strconv.Itoa(int(b.Port)))
		}
		moved.Brokers = append(moved.Brokers, protocol.MetadataResponseBroker{NodeID: b.ID, Host: host, Port: b.Port})
	}
	r.c.cache.Apply(&moved, 12, []string{}, time.Now()) // the version names a malformed answer only
	r.c.sync(true)
	return addr
}

// A node the metadata advertises under a new address is dialed there
// next: a broker that moved (a new host after a restart) would otherwise be
// dialed at its old address for ever.
func TestAMovedNodesBrokerTakesTheNewAddress(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 1)
	r.awaitTopic("t")
	n := r.c.Node(1)
	addr := r.moveToLocalhost(1)
	require.Equal(t, addr, n.Broker.Addr(), "node 1's address after it moved")
}
