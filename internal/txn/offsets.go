package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Offset is a consumer's position to commit in a transaction: the offset
// of the next record to consume from a partition.
type Offset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32   // of the last record consumed; -1 if unknown
	Metadata    *string // optional
}

// Group is the consumer group the offsets belong to, with the consumer's
// membership (KIP-447), so that the group coordinator refuses the commit
// of a consumer the group has rebalanced away (a zombie).
type Group struct {
	ID         string
	Generation int32   // -1 outside a group generation
	MemberID   string  // "" if none
	InstanceID *string // static membership (KIP-345), nil if none
}

// SendOffsets adds a consumer group's offsets to the transaction: they are
// committed if, and only if, the transaction commits. With transactions v1
// the group joins the transaction first (AddOffsetsToTxn); with v2,
// TxnOffsetCommit does both.
func (m *Manager) SendOffsets(ctx context.Context, offsets []Offset, group Group) error {
	if err := m.calls.lock(ctx, "SendOffsetsToTransaction"); err != nil {
		return err
	}
	defer m.calls.unlock()
	m.mu.Lock()
	switch m.state {
	case InTransaction:
		m.started = true
	case AbortableError, FatalError:
		defer m.mu.Unlock()
		return m.lastErr
	default:
		defer m.mu.Unlock()
		return fmt.Errorf("%w: SendOffsetsToTransaction in state %v: BeginTransaction first", ErrState, m.state)
	}
	v2 := m.v2
	m.mu.Unlock()
	id, _ := m.cfg.ProducerID()
	if !v2 {
		req := &protocol.AddOffsetsToTxnRequest{TransactionalID: m.cfg.TransactionalID, ProducerID: id.ID, ProducerEpoch: id.Epoch, GroupID: group.ID}
		if _, err := m.call(ctx, cluster.TransactionCoordinator, m.cfg.TransactionalID, req, -1, func(r protocol.Response) error {
			return code(protocol.AddOffsetsToTxn, r.(*protocol.AddOffsetsToTxnResponse).ErrorCode)
		}); err != nil {
			return m.offsetsFailed(err)
		}
	}
	req := &protocol.TxnOffsetCommitRequest{
		TransactionalID: m.cfg.TransactionalID, GroupID: group.ID, ProducerID: id.ID, ProducerEpoch: id.Epoch,
		GenerationID: group.Generation, MemberID: group.MemberID, GroupInstanceID: group.InstanceID,
	}
	for _, o := range offsets {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Name != o.Topic {
			req.Topics = append(req.Topics, protocol.TxnOffsetCommitRequestTopic{Name: o.Topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, protocol.TxnOffsetCommitRequestPartition{
			PartitionIndex: o.Partition, CommittedOffset: o.Offset, CommittedLeaderEpoch: o.LeaderEpoch, CommittedMetadata: o.Metadata,
		})
	}
	maxVersion := int16(4) // v5 is transactions v2's
	if v2 {
		maxVersion = 5
	}
	if _, err := m.call(ctx, cluster.GroupCoordinator, group.ID, req, maxVersion, func(r protocol.Response) error {
		return offsetCommitError(r.(*protocol.TxnOffsetCommitResponse))
	}); err != nil {
		return m.offsetsFailed(err)
	}
	return nil
}

// offsetsFailed books a failed SendOffsets: fencing ends the producer; a
// group that moved on (the consumer was rebalanced away) or a denial makes
// the transaction abortable; a context that ended leaves the call to be
// made again.
func (m *Manager) offsetsFailed(err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var code *kerr.Error
	switch {
	case fencedByCoordinator(err):
		return fmt.Errorf("SendOffsetsToTransaction: %w", m.fatal(err))
	case errors.As(err, &code):
		m.abortable(err)
		return fmt.Errorf("SendOffsetsToTransaction: %w", m.lastErr)
	}
	return fmt.Errorf("SendOffsetsToTransaction: %w", err)
}

// offsetCommitError is the first partition error of a TxnOffsetCommit
// answer.
func offsetCommitError(r *protocol.TxnOffsetCommitResponse) error {
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("TxnOffsetCommit: %s-%d: %w", t.Name, p.PartitionIndex, err)
			}
		}
	}
	return nil
}
