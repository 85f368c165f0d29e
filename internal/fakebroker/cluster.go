// Package fakebroker is an in-process Kafka cluster for the producer's unit
// tests and benchmarks. Each node listens on its own 127.0.0.1 port and
// speaks the real protocol, built only on protocol/ and record/: ApiVersions
// (with the KIP-511 fallback), Metadata, Produce, InitProducerId,
// FindCoordinator (it names a node, coordinating nothing)
// and, when asked, SCRAM authentication. It keeps per-partition offsets
// and, when asked, the decoded records, so a test can check exactly what
// reached the "broker".
//
// It is a fake, not a broker: one replica per partition, no log, no TLS,
// no transactions. What it does do, it does the way Kafka does: leadership
// with epochs, NOT_LEADER_OR_FOLLOWER with the KIP-951 current-leader
// hint, CRC checks, message.max.bytes, acks=0 without a reply, answers in
// request order on each connection, and idempotence: producer ids, and per
// partition each producer's epoch and last 5 batches, which turn retries
// into duplicates answered with their first offset and refuse stale epochs
// and sequence gaps (producerstate.go). Hooks let a test make any request
// fail, wait, hang or break its connection.
//
// Per request it costs a few small allocations and one decode per batch, so
// benchmarks of the producer measure the producer.
package fakebroker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// Options describe the cluster to start. The zero value is one node and no
// topics.
type Options struct {
	// Nodes is the number of brokers, with node ids 0..Nodes-1, each on its
	// own listener. Default 1.
	Nodes int
	// Topics are created at start: name -> partition count.
	Topics map[string]int32
	// Leader picks the leader of a new partition. Default: round-robin
	// over the nodes, starting from the topic's creation index, so that
	// topics do not all pile their partition 0 on node 0. -1 leaves the
	// partition without a leader, offline, for good.
	Leader func(topic string, partition int32) int32
	// KeepRecords stores every accepted record, decoded, for Records. Off,
	// records are only counted: what benchmarks want.
	KeepRecords bool
	// AutoCreateTopics is the broker's auto.create.topics.enable: a
	// Metadata request that allows it creates unknown topics with
	// DefaultPartitions partitions.
	AutoCreateTopics bool
	// DefaultPartitions is num.partitions, for auto-created topics.
	// Default 1.
	DefaultPartitions int32
	// MaxMessageBytes is message.max.bytes: a batch larger than this is
	// refused with MESSAGE_TOO_LARGE. Zero means no limit.
	MaxMessageBytes int
	// Versions overrides the version ranges the cluster advertises, per
	// API; a range with Min > Max removes the API. Requests outside the
	// advertised ranges close the connection, except ApiVersions, which
	// gets the KIP-511 fallback answer.
	Versions map[protocol.APIKey]protocol.VersionRange
	// SCRAM, when set, makes every connection authenticate with
	// SCRAM-SHA-256 or SCRAM-SHA-512 as one of these users (name to
	// password) before any request but ApiVersions (scram.go).
	SCRAM map[string]string
}

// Cluster is a running fake cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	opts     Options
	nodes    []*node
	versions map[protocol.APIKey]protocol.VersionRange

	mu        sync.Mutex
	topics    map[string]*topic
	byID      map[wire.UUID]*topic   // the same topics, by id (Produce v13+)
	created   int                    // topics created so far, for leader round-robin and ids
	maxMsg    int                    // message.max.bytes; 0 = none
	frozen    map[string][]partition // leaders as Metadata describes them; nil = current
	produceFn atomic.Pointer[ProduceHook]
	metaFn    atomic.Pointer[MetadataHook]

	records      atomic.Int64 // records accepted
	produceReqs  atomic.Int64
	metadataReqs atomic.Int64
	accepted     atomic.Int64 // connections accepted

	// Idempotence.
	initProducerIdFn   atomic.Pointer[InitProducerIdHook]
	initProducerIdReqs atomic.Int64
	coordinatorFn      atomic.Pointer[FindCoordinatorHook]
	findCoordinatorReq atomic.Int64
	nextProducerID     atomic.Int64 // the id the next InitProducerId gives
	duplicates         atomic.Int64 // batches recognised as retries, not appended
	outOfOrder         atomic.Int64 // partitions refused OUT_OF_ORDER_SEQUENCE_NUMBER
	invalidEpoch       atomic.Int64 // partitions refused INVALID_PRODUCER_EPOCH

	closing   chan struct{} // closed by Close: delays end, loops stop
	closeOnce sync.Once
	wg        sync.WaitGroup // accept loops and connection goroutines
}

// node is one broker: a listener and its live connections.
type node struct {
	id   int32
	ln   net.Listener
	host string
	port int32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

// advertised is what the cluster speaks unless Options.Versions says
// otherwise: every version of these APIs that protocol/ implements.
var advertised = []protocol.APIKey{protocol.Produce, protocol.Metadata, protocol.ApiVersions,
	protocol.InitProducerId, protocol.FindCoordinator}

// Start starts a cluster and its listeners.
func Start(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.DefaultPartitions <= 0 {
		opts.DefaultPartitions = 1
	}
	c := &Cluster{
		opts:     opts,
		versions: make(map[protocol.APIKey]protocol.VersionRange),
		topics:   make(map[string]*topic),
		byID:     make(map[wire.UUID]*topic),
		maxMsg:   opts.MaxMessageBytes,
		closing:  make(chan struct{}),
	}
	for _, api := range advertised {
		c.versions[api] = protocol.Supported(api)
	}
	if opts.SCRAM != nil {
		c.versions[protocol.SaslHandshake] = protocol.VersionRange{Min: 1, Max: 1}
		c.versions[protocol.SaslAuthenticate] = protocol.Supported(protocol.SaslAuthenticate)
	}
	for api, r := range opts.Versions {
		if r.Min > r.Max {
			delete(c.versions, api)
			continue
		}
		c.versions[api] = r
	}
	for name, n := range opts.Topics {
		if err := c.CreateTopic(name, n); err != nil {
			return nil, err
		}
	}
	for i := 0; i < opts.Nodes; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("fakebroker: node %d: %w", i, err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		n := &node{id: int32(i), ln: ln, host: addr.IP.String(), port: int32(addr.Port), conns: make(map[net.Conn]struct{})}
		c.nodes = append(c.nodes, n)
		c.wg.Add(1)
		go c.accept(n)
	}
	return c, nil
}

// Addrs are the nodes' addresses, host:port, by node id: seed brokers for a
// producer.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = net.JoinHostPort(n.host, strconv.Itoa(int(n.port)))
	}
	return out
}

// ProduceCount is the number of records accepted (appended to a partition)
// so far, over all nodes; records of failed partitions are not counted.
func (c *Cluster) ProduceCount() int64 { return c.records.Load() }

// ProduceRequests is the number of Produce requests received.
func (c *Cluster) ProduceRequests() int64 { return c.produceReqs.Load() }

// MetadataRequests is the number of Metadata requests received.
func (c *Cluster) MetadataRequests() int64 { return c.metadataReqs.Load() }

// Connections is the number of connections accepted so far.
func (c *Cluster) Connections() int64 { return c.accepted.Load() }

// OpenConnections is the number of connections whose requests are still
// being served. A connection counts until its last request is handled, a
// delayed one included, so once a closed client's connections are all gone
// nothing it sent can still change a partition.
func (c *Cluster) OpenConnections() int {
	open := 0
	for _, n := range c.nodes {
		n.mu.Lock()
		open += len(n.conns)
		n.mu.Unlock()
	}
	return open
}

// SetMaxMessageBytes changes message.max.bytes; 0 removes the limit.
func (c *Cluster) SetMaxMessageBytes(n int) {
	c.mu.Lock()
	c.maxMsg = n
	c.mu.Unlock()
}

// Close stops the listeners, closes every connection, ends pending delays
// and waits for the cluster's goroutines. It is idempotent.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		for _, n := range c.nodes {
			n.ln.Close()
			n.mu.Lock()
			for nc := range n.conns {
				nc.Close()
			}
			n.mu.Unlock()
		}
	})
	c.wg.Wait()
}

// DropConnections closes every open connection to node, as a broker
// restart would; new connections are accepted as usual.
func (c *Cluster) DropConnections(node int32) error {
	n, err := c.node(node)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for nc := range n.conns {
		nc.Close()
	}
	return nil
}

func (c *Cluster) node(id int32) (*node, error) {
	if id < 0 || int(id) >= len(c.nodes) {
		return nil, fmt.Errorf("fakebroker: no node %d (the cluster has %d)", id, len(c.nodes))
	}
	return c.nodes[id], nil
}

// errClosed ends a connection's loop because the cluster is closing.
var errClosed = errors.New("fakebroker: closed")
