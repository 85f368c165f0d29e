package producer

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/sender"
)

// brokers holds one connection handle and one sender per broker node, made
// as metadata names the nodes and closed when it stops naming them. Seed
// brokers have negative ids (-1, -2, ...) and no sender: they answer the
// first metadata requests, and any once the known nodes do not.
type brokers struct {
	p     *Producer
	mu    sync.RWMutex
	nodes map[int32]*node
	seeds []*conn.Broker
	wg    sync.WaitGroup // the senders' goroutines
}

// node is one broker: its connection and its sender.
type node struct {
	id     int32
	broker *conn.Broker
	sender *sender.Sender
	stop   context.CancelFunc // ends the sender, once the node left the cluster
	// led is the partitions this node leads in the latest snapshot; the
	// sender reads it on every drain.
	led atomic.Pointer[[]metadata.TopicPartition]
}

func (bs *brokers) init(p *Producer) {
	bs.p = p
	bs.nodes = make(map[int32]*node)
	for i, addr := range p.cfg.Brokers {
		bs.seeds = append(bs.seeds, conn.NewBroker(int32(-1-i), addr, p.connConfig()))
	}
}

// connConfig is the connection layer's share of the producer's settings.
func (p *Producer) connConfig() conn.Config {
	return conn.Config{
		ClientID:            p.cfg.ClientID,
		SoftwareName:        "gokafka-producer",
		SoftwareVersion:     Version,
		DialTimeout:         defaultDialTimeout,
		RequestTimeout:      p.cfg.RequestTimeout,
		MaxInFlight:         p.cfg.MaxInFlight,
		ReconnectBackoff:    p.cfg.ReconnectBackoff,
		ReconnectBackoffMax: p.cfg.ReconnectBackoffMax,
		Dial:                p.cfg.Dialer.DialContext,
		TLS:                 p.cfg.TLS,
		SASL:                p.cfg.SASL,
		Logger:              p.cfg.Logger,
		Clock:               p.cfg.clock,
	}
}

// sync makes the node set match a snapshot: new nodes get a connection
// handle and a sender, moved nodes a new address, and every node the list
// of partitions it leads. With prune, nodes the snapshot no longer names
// (they left the cluster) are closed: their sender stops once the requests
// it had in flight are answered, by the closed connection if not before,
// and their batches go to the partitions' new leaders. A node that comes
// back later is met as a new one.
func (bs *brokers) sync(snap *metadata.Snapshot, prune bool) {
	p := bs.p
	var gone []*node
	bs.mu.Lock()
	for _, b := range snap.Brokers() {
		n := bs.nodes[b.ID]
		switch {
		case n == nil:
			n = &node{id: b.ID, broker: conn.NewBroker(b.ID, b.Addr(), p.connConfig())}
			n.sender = sender.New(p.senderConfig(n))
			bs.nodes[b.ID] = n
			if p.ctx.Err() == nil {
				ctx, stop := context.WithCancel(p.ctx)
				n.stop = stop
				bs.wg.Add(1)
				go func() {
					defer bs.wg.Done()
					n.sender.Run(ctx)
				}()
			}
		case n.broker.Addr() != b.Addr():
			n.broker.SetAddr(b.Addr())
		}
	}
	for id, n := range bs.nodes {
		if _, known := snap.Broker(id); prune && !known {
			delete(bs.nodes, id)
			gone = append(gone, n)
			continue
		}
		led := snap.LedBy(id)
		n.led.Store(&led)
	}
	bs.mu.Unlock()
	for _, n := range gone {
		p.cfg.Logger.Info("broker left the cluster's metadata; closing its connection", "node", n.id, "addr", n.broker.Addr())
		if n.stop != nil {
			n.stop()
		}
		n.broker.Close()
	}
}

// senderConfig wires a node's sender to the rest of the producer.
func (p *Producer) senderConfig(n *node) sender.Config {
	return sender.Config{
		Node:            n.id,
		Acks:            p.cfg.Acks.wire(),
		Timeout:         p.cfg.RequestTimeout,
		MaxRequestSize:  p.cfg.MaxRequestSize,
		MaxInFlight:     p.cfg.MaxInFlight,
		RetryBackoff:    p.cfg.RetryBackoff,
		RetryBackoffMax: p.cfg.RetryBackoffMax,
		Accumulator:     p.acc,
		Clock:           p.cfg.clock,
		Logger:          p.cfg.Logger.With(slog.Int("node", int(n.id))),
		Counters:        &p.counters,
		Hooks: sender.Hooks{
			Partitions: func() []metadata.TopicPartition {
				if led := n.led.Load(); led != nil {
					return *led
				}
				return nil
			},
			Connect: func(ctx context.Context) (sender.Conn, error) {
				c, err := n.broker.Conn(ctx)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
			RefreshMetadata: p.requestRefresh,
			LeaderHint:      p.leaderHint,

			TopicID: func(topic string) wire.UUID {
				if t := p.cache.Snapshot().Topic(topic); t != nil {
					return t.ID
				}
				return wire.UUID{}
			},
		},
	}
}

// wakeLeader nudges the sender of tp's leader; with no known leader it asks
// for metadata instead, and the refresh wakes every sender.
func (bs *brokers) wakeLeader(snap *metadata.Snapshot, tp metadata.TopicPartition) {
	leader, _, ok := snap.Leader(tp.Topic, tp.Partition)
	if ok && leader >= 0 {
		bs.mu.RLock()
		n := bs.nodes[leader]
		bs.mu.RUnlock()
		if n != nil {
			n.sender.Wake()
			return
		}
	}
	bs.p.requestRefresh("no leader for " + tp.Topic)
}

// wakeAll nudges every sender: after a metadata change, a flush or a close.
func (bs *brokers) wakeAll() {
	bs.mu.RLock()
	defer bs.mu.RUnlock()
	for _, n := range bs.nodes {
		n.sender.Wake()
	}
}

// candidates returns connection handles to ask for metadata: known nodes
// first, then the seeds.
func (bs *brokers) candidates() []*conn.Broker {
	bs.mu.RLock()
	defer bs.mu.RUnlock()
	out := make([]*conn.Broker, 0, len(bs.nodes)+len(bs.seeds))
	for _, n := range bs.nodes {
		out = append(out, n.broker)
	}
	return append(out, bs.seeds...)
}

// closeAll closes every connection, which fails their requests in flight
// and so lets the senders finish.
func (bs *brokers) closeAll() {
	bs.mu.RLock()
	defer bs.mu.RUnlock()
	for _, n := range bs.nodes {
		n.broker.Close()
	}
	for _, s := range bs.seeds {
		s.Close()
	}
}

// leaderHint applies a KIP-951 hint from a Produce response at once, so the
// retry goes to the new leader without waiting for a metadata round trip.
func (p *Producer) leaderHint(topic string, partition, leader, epoch int32, ep *protocol.ProduceResponseNodeEndpoint) bool {
	var endpoint *metadata.Broker
	if ep != nil {
		endpoint = &metadata.Broker{ID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack}
	}
	if !p.cache.ApplyLeaderHint(topic, partition, leader, epoch, endpoint) {
		p.requestRefresh("stale leader hint for " + topic)
		return false
	}
	snap := p.cache.Snapshot()
	p.brokers.sync(snap, false) // a hint names one broker, not the cluster
	p.brokers.wakeLeader(snap, metadata.TopicPartition{Topic: topic, Partition: partition})
	return true
}
