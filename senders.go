package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/sender"
)

// senders is one sender per broker node, started when the cluster layer
// meets the node and stopped when the node leaves the cluster's metadata.
type senders struct {
	mu     sync.RWMutex
	byNode map[int32]*nodeSender
	// ended is closed when the latest sender started for a node id has
	// ended, which a sender started for the same id after it waits for.
	ended  map[int32]chan struct{}
	closed bool           // set by wait: no sender starts after it
	wg     sync.WaitGroup // their goroutines
}

// wait waits for every sender's goroutine to end, once the producer's
// context has ended, and keeps any from starting later. Set under mu, as
// each start is, closed orders the start of a node that the metadata loop
// meets meanwhile before the wait, or has it not start: a WaitGroup must
// not be added to while it is waited for.
func (s *senders) wait() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

type nodeSender struct {
	s    *sender.Sender
	stop context.CancelFunc
}

// nodeJoined starts the sender of a broker the metadata names, for the
// first time or again after it left. A node's new sender drains nothing
// until its last one has ended (its requests in flight answered, or failed
// at RequestTimeout or by Close): the answers on the old connection come
// to the old sender and wake no other, so a partition's next batch, sent
// at once on the new connection, would race them, written before the
// earlier batch, or refused as out of order with nothing to wake its
// retry. The wait is the goroutine's: nodeJoined runs under the cluster's
// syncMu.
func (p *Producer) nodeJoined(n *cluster.Node) {
	ns := &nodeSender{s: sender.New(p.senderConfig(n))}
	p.senders.mu.Lock()
	defer p.senders.mu.Unlock()
	if p.senders.byNode == nil {
		p.senders.byNode = make(map[int32]*nodeSender)
		p.senders.ended = make(map[int32]chan struct{})
	}
	p.senders.byNode[n.ID] = ns
	if p.senders.closed || p.ctx.Err() != nil {
		return // closing: nothing will be sent any more
	}
	ctx, stop := context.WithCancel(p.ctx)
	ns.stop = stop
	last, ended := p.senders.ended[n.ID], make(chan struct{})
	p.senders.ended[n.ID] = ended
	if stillRunning(last) {
		p.cfg.Logger.Info("broker back in the cluster's metadata; its sender starts once the last one has ended", "node", n.ID)
	}
	p.senders.wg.Add(1)
	go func() {
		defer p.senders.wg.Done()
		defer close(ended)
		if last != nil {
			select {
			case <-last:
			case <-p.ctx.Done(): // Close fails what the last one waits for
			}
		}
		ns.s.Run(ctx)
		// Run returns once the node left or the producer closes, with
		// nothing in flight: its connection is of no more use.
		p.cluster.CloseLeft(n)
	}()
}

// stillRunning reports whether the sender whose end closes ended has not
// ended yet; nil stands for no sender.
func stillRunning(ended chan struct{}) bool {
	if ended == nil {
		return false
	}
	select {
	case <-ended:
		return false
	default:
		return true
	}
}

// nodeLeft stops the sender of a broker that left the cluster: it drains
// nothing more, so its partitions' batches go to their new leaders (a
// partition with batches in flight once their answers come), and it ends
// once the requests it has in flight are answered (or time out); then its
// connection is closed. Closed at once, a request the broker is still
// writing would have its answer lost and be sent again: written twice
// without idempotence.
func (p *Producer) nodeLeft(n *cluster.Node) {
	p.senders.mu.Lock()
	ns := p.senders.byNode[n.ID]
	delete(p.senders.byNode, n.ID)
	p.senders.mu.Unlock()
	if ns == nil || ns.stop == nil {
		p.cluster.CloseLeft(n) // no sender ran: nothing is in flight
		return
	}
	ns.stop()
}

// connConfig is the connection layer's share of the producer's settings.
func (p *Producer) connConfig() conn.Config {
	return conn.Config{
		ClientID:            p.cfg.ClientID,
		SoftwareName:        "gokafka-producer",
		SoftwareVersion:     Version,
		DialTimeout:         p.cfg.ConnectionSetupTimeout,
		RequestTimeout:      p.cfg.RequestTimeout,
		MaxInFlight:         p.cfg.MaxInFlight,
		ReconnectBackoff:    p.cfg.ReconnectBackoff,
		ReconnectBackoffMax: p.cfg.ReconnectBackoffMax,
		Dial:                p.cfg.Dialer.DialContext,
		TLS:                 p.cfg.TLS,
		SASL:                p.cfg.SASL,
		Logger:              p.cfg.Logger,
		Clock:               p.cfg.clock,
		Events:              p.connEvents(),
	}
}

// senderConfig wires a node's sender to the rest of the producer.
func (p *Producer) senderConfig(n *cluster.Node) sender.Config {
	var txnID *string
	var v2 func() bool
	if p.txn != nil {
		txnID, v2 = &p.cfg.TransactionalID, p.txn.V2
	}
	return sender.Config{
		Node:            n.ID,
		TransactionalID: txnID,
		TransactionsV2:  v2,
		Acks:            p.cfg.Acks.wire(),
		Timeout:         p.cfg.RequestTimeout,
		MaxRequestSize:  p.cfg.MaxRequestSize,
		MaxInFlight:     p.cfg.MaxInFlight,
		RetryBackoff:    p.cfg.RetryBackoff,
		RetryBackoffMax: p.cfg.RetryBackoffMax,
		Accumulator:     p.acc,
		Clock:           p.cfg.clock,
		Logger:          p.cfg.Logger.With(slog.Int("node", int(n.ID))),
		Counters:        &p.counters,
		Events:          p.senderEvents(),
		Hooks: sender.Hooks{
			Partitions: n.Led,
			Connect: func(ctx context.Context) (sender.Conn, error) {
				c, err := n.Broker.Conn(ctx)
				if err != nil {
					return nil, err
				}
				return c, nil
			},
			NextAttempt:     n.Broker.NextAttempt,
			RefreshMetadata: p.cluster.RequestRefresh,
			LeaderHint:      p.leaderHint,
			TopicID:         p.topicID,
		},
	}
}

// leaderHint applies a KIP-951 hint from a Produce answer; the cluster
// layer's update then wakes the senders.
func (p *Producer) leaderHint(topic string, topicID wire.UUID, partition, leader, epoch int32, ep *protocol.ProduceResponseNodeEndpoint) bool {
	var endpoint *metadata.Broker
	if ep != nil {
		endpoint = &metadata.Broker{ID: ep.NodeID, Host: ep.Host, Port: ep.Port, Rack: ep.Rack}
	}
	return p.cluster.ApplyLeaderHint(topic, topicID, partition, leader, epoch, endpoint)
}

// wakeLeader nudges the sender of tp's leader; with no known leader it asks
// for metadata instead, and the refresh wakes every sender. A leader named
// but not among the brokers is booked as tp's last error first.
func (p *Producer) wakeLeader(snap *metadata.Snapshot, tp metadata.TopicPartition) {
	leader, _, ok := snap.Leader(tp.Topic, tp.Partition)
	if ok {
		p.senders.mu.RLock()
		ns := p.senders.byNode[leader]
		p.senders.mu.RUnlock()
		if ns != nil {
			ns.s.Wake()
			return
		}
	} else if leader >= 0 {
		p.leaderNotAmongBrokers(tp, leader)
	}
	p.cluster.RequestRefresh("no leader for " + tp.Topic)
}

// leaderNotAmongBrokers books, as the last error of tp's batches waiting to
// be sent, that the metadata names leader as tp's leader but not among its
// brokers: no sender leads tp, and a batch that times out unsent says why
// rather than only that it was sent 0 times. Like the Java client, the
// producer takes such a leader for none, and the metadata loop asks again
// until a broker names one it can reach.
func (p *Producer) leaderNotAmongBrokers(tp metadata.TopicPartition, leader int32) {
	err := fmt.Errorf("leader %d is not among the brokers the metadata names", leader)
	p.acc.Unreachable([]metadata.TopicPartition{tp}, err)
}

// noteLeadersNotAmongBrokers books leaderNotAmongBrokers for each partition
// of snap whose leader is not among its brokers, after every update:
// wakeLeader books it for a batch that starts later, but the batches
// waiting when an update left their leader's broker out get no wake. It
// visits snap's leaders, not its topics: every update and leader hint
// comes here, and with every leader a broker it has nothing to book.
func (p *Producer) noteLeadersNotAmongBrokers(snap *metadata.Snapshot) {
	for leader, led := range snap.LeadersNotAmongBrokers() {
		for _, tp := range led {
			p.leaderNotAmongBrokers(tp, leader)
		}
	}
}

// wakeAll nudges every sender: after a metadata change, a flush or a close.
func (p *Producer) wakeAll() {
	p.senders.mu.RLock()
	defer p.senders.mu.RUnlock()
	for _, ns := range p.senders.byNode {
		ns.s.Wake()
	}
}

// metadataUpdated is the cluster layer's news of new metadata: records that
// waited for it may go, and senders may have new partitions to send.
func (p *Producer) metadataUpdated(snap *metadata.Snapshot) {
	p.held.release(p, snap)
	p.noteLeadersNotAmongBrokers(snap)
	p.wakeAll()
}

// metadataApplied is what a refresh's answer changed, before the cache
// stores it: no sender can read a new topic id yet. A topic under a new id
// was deleted and created again; one with partitions after none may have
// been too, with no id to tell (Metadata before v10, or a topic the
// metadata forgot as idle). Either way its leaders may have no state for
// the producer, and its partitions keep one request in flight until a
// leader acknowledges one.
func (p *Producer) metadataApplied(ch *metadata.Changes) {
	p.acc.Recreated(ch.RecreatedTopics)
	p.acc.Recreated(ch.NewTopics)
}

// topicErr is the latest metadata's error for topic, or nil.
func (p *Producer) topicErr(topic string) error {
	if t := p.cluster.Snapshot().Peek(topic); t != nil {
		return t.Err
	}
	return nil
}

// topicID is the id the latest metadata gives topic, for Produce v13+; the
// zero id when it gives none, and the sender then names the topic.
func (p *Producer) topicID(topic string) wire.UUID {
	if t := p.cluster.Snapshot().Topic(topic); t != nil {
		return t.ID
	}
	return wire.UUID{}
}

// leaderErr says why the latest metadata gives tp no leader, or is nil:
// tp is past its topic's partition count (a topic re-created with fewer
// partitions, or an answer without topic ids from a broker that has not
// seen CreatePartitions), or it names no leader (with the partition's
// error, LEADER_NOT_AVAILABLE say, if it gave one). A leader it names but
// not among its brokers is booked as the partition's last error instead
// (leaderNotAmongBrokers). Like that error, it does not name tp: it is
// read in a record's error, whose PartitionError does.
func (p *Producer) leaderErr(tp metadata.TopicPartition) error {
	t := p.cluster.Snapshot().Peek(tp.Topic)
	switch {
	case t == nil:
		return errors.New("the topic is not in the metadata")
	case int(tp.Partition) >= len(t.Partitions):
		return fmt.Errorf("the partition is not in the metadata (the topic has %d partitions)", len(t.Partitions))
	}
	part := &t.Partitions[tp.Partition]
	switch {
	case part.Leader >= 0:
		return nil
	case part.Err != nil:
		return fmt.Errorf("the partition has no leader: %w", part.Err)
	default:
		return errors.New("the partition has no leader")
	}
}
