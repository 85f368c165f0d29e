package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
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
	"github.com/gokafka/producer/protocol/wire"
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
