// Package cluster is the producer's view of the brokers: a connection
// handle per broker node (and per seed address), the metadata cache kept
// fresh by a loop of its own, the topics someone waits for, requests to
// "any broker", and the coordinators of transactions and groups.
//
// It knows nothing of records or batches. The producer is told when a
// broker joins the cluster's metadata or leaves it (to start or stop its
// sender), and after every metadata update (to release the records that
// waited for it); nothing here points back at the producer. package
// metadata stays a pure cache: this package is what fills it.
package cluster

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/metadata"
)

// Config is what the cluster layer needs from the producer's settings, and
// the producer's callbacks. Callbacks must not block for long, and must not
// call the Cluster's methods that take its locks (Want, Close) from within.
type Config struct {
	Seeds []string    // host:port
	Conn  conn.Config // for every broker connection
	// RetryBackoff and RetryBackoffMax pace metadata refreshes after a
	// failure, the requested ones too, and the polling while topics are
	// awaited; after an answer a requested refresh waits only RetryBackoff.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	MetadataMaxAge  time.Duration // a refresh at least this often
	// AllowAutoTopicCreation is sent with every Metadata request.
	AllowAutoTopicCreation bool
	Clock                  clock.Clock
	Logger                 *slog.Logger

	// NodeJoined is called when metadata first names a broker, NodeLeft
	// when it stops naming one. The calls for one node come in that order.
	// After NodeLeft the node's connection stays open until CloseLeft (or
	// Close): one answer that leaves out a live broker (a lagging one's)
	// must not cut the requests in flight to it, which the broker may be
	// writing; the Java client, too, keeps a connection to a node the
	// metadata stops naming. Without NodeLeft it is closed at once.
	NodeJoined func(*Node)
	NodeLeft   func(*Node)
	// Updated is called after every metadata update, a full refresh or a
	// leader hint, with the new snapshot.
	Updated func(*metadata.Snapshot)
	// Applied, if set, is called with what each refresh's answer changed
	// (metadata.Changes), before the cache stores the new snapshot
	// (metadata.Cache.ApplyTelling), and so before Snapshot or Updated
	// shows it: a topic deleted and created again is news for the batches
	// it has, before a sender can build a request under its new id. It
	// runs under the cache's lock, and must not write to the cache. A
	// leader hint changes one partition's leader and calls only Updated.
	Applied func(*metadata.Changes)
	// Forgot, if set, is told the topics a refresh forgot as idle (see
	// MaxIdle), once the snapshot without them is stored and before
	// Updated: what the producer keeps per topic only as a hint can go
	// with them. A topic used again is looked up afresh, and whatever was
	// dropped for it is made anew. It runs on the metadata loop's
	// goroutine and must not block.
	Forgot func(names []string)
	// Refreshed is called with the outcome of every metadata refresh: nil,
	// or why no broker answered.
	Refreshed func(error)
	// InUse returns the partitions the producer still has batches of
	// (lingering, in flight, or awaiting a retry), and, in used, their
	// topics and the topics it started a batch of at or after since.
	// Every refresh asks for the buffered partitions' topics whatever the
	// last answer said, and while one of those partitions has no leader
	// the loop polls: a lagging broker that calls such a topic unknown, or
	// lists fewer of its partitions, must not leave its batches without a
	// leader until their DeliveryTimeout, as the Java client keeps the
	// topics it produces to in its requests and asks for metadata at once
	// for a ready batch whose leader it does not know. Optional; it must
	// not block for long.
	InUse func(since time.Time) (buffered []metadata.TopicPartition, used []string)
	// MaxIdle is how long a cached topic stays in the metadata after its
	// last use: neither buffered, nor used, nor awaited for that long, it
	// is forgotten, and refreshes stop asking for it. Zero keeps every
	// topic.
	MaxIdle time.Duration
}

// Cluster is the producer's view of the brokers. It is safe for concurrent
// use.
type Cluster struct {
	cfg   Config
	cache *metadata.Cache

	mu    sync.RWMutex
	nodes map[int32]*Node
	// left is the nodes dropped from the metadata whose connections are
	// still open, until CloseLeft or Close.
	left  map[*Node]struct{}
	seeds []*conn.Broker
	// syncMu orders the node callbacks: a node's NodeLeft never overtakes
	// its NodeJoined, whichever goroutines apply the updates.
	syncMu sync.Mutex

	refreshCh chan struct{} // asks the metadata loop for a refresh now
	updates   notify.Notifier

	wantMu sync.Mutex
	wanted map[string]int // topics awaited, with how many wait for each
	// wantedPartitions is the partitions awaited, with how many wait for
	// each (WantPartition).
	wantedPartitions map[metadata.TopicPartition]int
	// released is when each topic no longer awaited was last released:
	// a use that keeps it from MaxIdle's expiry for a while.
	released map[string]time.Time

	coordinators coordinators
	// closed: Close has run, so no new node gets a connection handle (a
	// leader hint applied from an answer that came as the producer closed
	// would leave one that nothing closes). Set before Close takes c.mu
	// and read under it.
	closed atomic.Bool
}

// Node is one broker of the cluster: its connection handle and the
// partitions it leads in the latest metadata.
type Node struct {
	ID     int32
	Broker *conn.Broker
	led    atomic.Pointer[[]metadata.TopicPartition]
}

// Led is the partitions the node leads in the latest metadata.
func (n *Node) Led() []metadata.TopicPartition {
	if led := n.led.Load(); led != nil {
		return *led
	}
	return nil
}

// New returns a Cluster that knows only its seeds; Run fills it in.
func New(cfg Config) *Cluster {
	c := &Cluster{
		cfg:              cfg,
		cache:            metadata.NewCache(),
		nodes:            make(map[int32]*Node),
		left:             make(map[*Node]struct{}),
		refreshCh:        make(chan struct{}, 1),
		wanted:           make(map[string]int),
		wantedPartitions: make(map[metadata.TopicPartition]int),
		released:         make(map[string]time.Time),
	}
	c.cfg.Conn.Events.Closed = c.refreshOnBreak(cfg.Conn.Events.Closed)
	// Seeds have negative ids (-1, -2, ...): they are no node of the
	// metadata, only addresses to start from.
	for i, addr := range cfg.Seeds {
		c.seeds = append(c.seeds, conn.NewBroker(int32(-1-i), addr, c.cfg.Conn))
	}
	c.coordinators.init()
	return c
}

// Snapshot is the latest metadata.
func (c *Cluster) Snapshot() *metadata.Snapshot { return c.cache.Snapshot() }

// Node returns the broker with the given id, if metadata names it.
func (c *Cluster) Node(id int32) *Node {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes[id]
}

// sync makes the node set match the cache's snapshot, which it returns: new
// nodes get a connection handle, moved nodes a new address for their next
// dial (a live connection, to the same broker process, carries every
// request until it breaks: see conn.Broker.SetAddr), and every node the
// list of partitions it leads. With prune, nodes the snapshot no longer
// names (they left the cluster) are dropped: no new request goes to them,
// and their connections close by CloseLeft. A node that comes back later
// is met as a new one, with a connection of its own. The
// snapshot is read under syncMu: read before, a refresh and a leader hint
// applied at once could each read theirs and sync in the other order,
// leaving the nodes with the older one's partitions until the next update.
func (c *Cluster) sync(prune bool) *metadata.Snapshot {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	snap := c.cache.Snapshot()
	var joined, left []*Node
	c.mu.Lock()
	for _, b := range snap.Brokers() {
		n := c.nodes[b.ID]
		switch {
		case n == nil && c.closed.Load():
			continue
		case n == nil:
			n = &Node{ID: b.ID, Broker: conn.NewBroker(b.ID, b.Addr(), c.cfg.Conn)}
			c.nodes[b.ID] = n
			joined = append(joined, n)
		case n.Broker.Addr() != b.Addr():
			n.Broker.SetAddr(b.Addr())
		}
	}
	for id, n := range c.nodes {
		if _, known := snap.Broker(id); prune && !known {
			delete(c.nodes, id)
			c.left[n] = struct{}{}
			left = append(left, n)
			continue
		}
		led := snap.LedBy(id)
		n.led.Store(&led)
	}
	c.mu.Unlock()
	for _, n := range joined {
		if c.cfg.NodeJoined != nil {
			c.cfg.NodeJoined(n)
		}
	}
	for _, n := range left {
		if c.cfg.NodeLeft == nil {
			c.cfg.Logger.Info("broker left the cluster's metadata; closing its connection", "node", n.ID, "addr", n.Broker.Addr())
			c.CloseLeft(n)
			continue
		}
		c.cfg.Logger.Info("broker left the cluster's metadata; its connection closes once its requests in flight are answered or time out", "node", n.ID, "addr", n.Broker.Addr())
		c.cfg.NodeLeft(n)
	}
	return snap
}

// CloseLeft closes the connection of a node NodeLeft was called for, which
// its caller has nothing in flight on any more. For a node the metadata
// still names it does nothing.
func (c *Cluster) CloseLeft(n *Node) {
	c.mu.Lock()
	_, left := c.left[n]
	delete(c.left, n)
	c.mu.Unlock()
	if left {
		n.Broker.Close()
	}
}

// Close closes every connection, those of nodes that left included, which
// fails the requests in flight on them. Run must have returned, or be
// about to (its context ended).
func (c *Cluster) Close() {
	c.closed.Store(true)
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, n := range c.nodes {
		n.Broker.Close()
	}
	for n := range c.left {
		n.Broker.Close()
	}
	for _, s := range c.seeds {
		s.Close()
	}
	c.coordinators.close()
}

// brokers returns connection handles to ask anything: the known nodes,
// those with a live connection first, then those Conn would dial at once,
// then those dialling, backing off or connected only to an address they
// have moved from (conn.Readiness), each group in random order, then the
// seeds, in random order. Random, so that the requests spread over the
// brokers. A node whose host stopped answering (its sender re-dials it
// most of the time) would otherwise make the caller join a dial of up to
// DialTimeout while other brokers could answer at once. A seed is asked
// only once every node has failed: its connection would be one more to a
// broker the producer is connected to already, and a seed that is gone (a
// seed list outlives the brokers it names) costs a dial timeout each time
// it is asked first.
func (c *Cluster) brokers() []*conn.Broker {
	c.mu.RLock()
	nodes := make([]*conn.Broker, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n.Broker)
	}
	seeds := slices.Clone(c.seeds)
	c.mu.RUnlock()
	shuffle(nodes)
	shuffle(seeds)
	var byReadiness [conn.Unready + 1][]*conn.Broker
	for _, b := range nodes {
		r := b.Readiness()
		byReadiness[r] = append(byReadiness[r], b)
	}
	return slices.Concat(byReadiness[conn.Connected], byReadiness[conn.Dialable], byReadiness[conn.Unready], seeds)
}

func shuffle(bs []*conn.Broker) {
	rand.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
}
