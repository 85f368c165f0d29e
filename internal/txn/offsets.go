package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/badchar"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/topicname"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Offset is a consumer's position to commit in a transaction: the offset
// of the next record to consume from a partition. Its fields are
// producer.Offset's, documented there, which converts to it.
type Offset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32 // -1 or 0 if unknown: both go as -1 (orUnknown)
	Metadata    *string
}

// Group is the consumer group the offsets belong to, with the consumer's
// membership (KIP-447): producer.GroupMetadata, documented there, which
// converts to it. A coordinator older than Kafka 2.5 cannot check a
// membership: offsets with one are refused before they are sent, and the
// producer stops (see SendOffsets).
type Group struct {
	ID         string
	Generation int32 // -1 or 0 outside one: both go as -1 (orUnknown)
	MemberID   string
	InstanceID *string
}

// membershipVersion is the first TxnOffsetCommit version with fields for
// the consumer's group membership (KIP-447, Kafka 2.5).
const membershipVersion = 3

// hasMembership reports whether g names the consumer's membership of the
// group, which only TxnOffsetCommit v3 and later can carry.
func (g Group) hasMembership() bool {
	return orUnknown(g.Generation) > 0 || g.MemberID != "" || g.InstanceID != nil
}

// orUnknown is a generation or leader epoch as it goes on the wire: -1,
// unknown, for a zero value or any negative one.
func orUnknown(n int32) int32 {
	if n <= 0 {
		return -1
	}
	return n
}

// offsetKey names a group's offset of one partition in a transaction.
type offsetKey struct {
	group     string
	topic     string
	partition int32
}

// SendOffsets adds a consumer group's offsets to the transaction: they are
// committed if, and only if, the transaction commits. With transactions v1
// the group joins the transaction first (AddOffsetsToTxn); with v2,
// TxnOffsetCommit does both. A call that fails but for fencing or a
// broker's refusal (its ctx ended, no coordinator answered) leaves its
// offsets missing: Commit refuses until a later call for the same group
// and partitions succeeds (TxnOffsetCommit is idempotent within a
// transaction, so the same offsets may be sent again), or Abort ends the
// transaction. The Java client cannot commit without them either: a
// timed-out sendOffsetsToTransaction leaves its requests queued, and its
// commit's EndTxn goes after them. A group coordinator older than Kafka 2.5
// (TxnOffsetCommit below v3) cannot check the group's membership: offsets
// with one are not sent, and the producer stops (ErrFatal), as the Java
// client's does on their UnsupportedVersionException. Offsets no
// coordinator should commit are refused first (checkOffsets), leaving the
// transaction as it was.
func (m *Manager) SendOffsets(ctx context.Context, offsets []Offset, group Group) error {
	if err := checkOffsets(offsets, group); err != nil {
		return err
	}
	if err := m.calls.lock(ctx, "SendOffsetsToTransaction"); err != nil {
		return err
	}
	defer m.calls.unlock()
	m.mu.Lock()
	switch m.state {
	case InTransaction:
		m.started = true
		m.markMissing(offsets, group)
	case AbortableError, FatalError:
		defer m.mu.Unlock()
		return m.lastErr
	default:
		defer m.mu.Unlock()
		return m.refused("SendOffsetsToTransaction", "BeginTransaction first")
	}
	v2 := m.v2
	m.mu.Unlock()
	id, _ := m.cfg.ProducerID()
	if !v2 {
		if err := m.addOffsetsToTransaction(ctx, id, group); err != nil {
			return m.offsetsFailed(err)
		}
	}
	req := &protocol.TxnOffsetCommitRequest{
		TransactionalID: m.cfg.TransactionalID, GroupID: group.ID, ProducerID: id.ID, ProducerEpoch: id.Epoch,
		GenerationID: orUnknown(group.Generation), MemberID: group.MemberID, GroupInstanceID: group.InstanceID,
	}
	for _, o := range offsets {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Name != o.Topic {
			req.Topics = append(req.Topics, protocol.TxnOffsetCommitRequestTopic{Name: o.Topic})
		}
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, protocol.TxnOffsetCommitRequestPartition{
			PartitionIndex: o.Partition, CommittedOffset: o.Offset, CommittedLeaderEpoch: orUnknown(o.LeaderEpoch), CommittedMetadata: o.Metadata,
		})
	}
	versions := protocol.VersionRange{Max: 4} // v5 is transactions v2's
	if v2 {
		// And v2 needs it: v4 is checked as v1's, against a group the
		// transaction never added.
		versions = protocol.VersionRange{Min: 5, Max: 5}
	}
	if group.hasMembership() {
		// Older versions leave it out, and the offsets would commit
		// without the check that fences a zombie consumer.
		versions.Min = max(versions.Min, membershipVersion)
	}
	_, unanswered, err := m.call(ctx, cluster.GroupCoordinator, group.ID, req, versions, func(r protocol.Response) error {
		return offsetCommitError(r.(*protocol.TxnOffsetCommitResponse), req)
	})
	// Unanswered, it may reach the group coordinator late: under the epoch
	// a v1 transaction keeps, in the next transaction, whose offsets it
	// would rewind. The new epoch the transaction then ends with fences it.
	m.mu.Lock()
	m.unanswered = m.unanswered || unanswered
	m.mu.Unlock()
	if err != nil {
		return m.offsetsFailed(membershipUnchecked(err, group))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.markSent(offsets, group)
	if m.state == FatalError {
		// The producer stopped while the call waited (a Produce answer
		// that ends it): the offsets went, but nothing of the transaction
		// will commit, and the call says so rather than succeed.
		return m.lastErr
	}
	return nil
}

// checkOffsets refuses, before anything is sent or booked, what no group
// coordinator should commit: a negative offset (a consumer's -1 is "no
// position"; committed, a consumer restarting from it applies
// auto.offset.reset, and reads its input again or skips it), which the
// Java client's OffsetAndMetadata refuses too; a negative partition, or a
// topic name no broker takes; an empty group ID, which Kafka's coordinator
// refuses (INVALID_GROUP_ID) a round trip later. A refused argument is the
// caller's to correct, not a failure of the transaction.
func checkOffsets(offsets []Offset, group Group) error {
	if group.ID == "" {
		return fmt.Errorf("SendOffsetsToTransaction: %w: empty group ID", ErrInvalidOffsets)
	}
	for i, o := range offsets {
		why := topicname.Check(o.Topic)
		switch {
		case why != nil:
		case o.Partition < 0:
			why = errors.New("negative partition")
		case o.Offset < 0:
			why = errors.New("negative offset; a consumer's -1 is no position, and commits none")
		default:
			continue
		}
		// A refused name is excerpted: a megabyte of one made an error as long.
		return fmt.Errorf("SendOffsetsToTransaction: %w: offsets[%d] (topic %s, partition %d, offset %d): %v",
			ErrInvalidOffsets, i, topicname.Quote(o.Topic), o.Partition, o.Offset, why)
	}
	return nil
}

// addOffsetsToTransaction adds group to the transaction (v1), and books
// whether the coordinator has the transaction since (bookAdded).
func (m *Manager) addOffsetsToTransaction(ctx context.Context, id accumulator.ProducerID, group Group) error {
	req := &protocol.AddOffsetsToTxnRequest{TransactionalID: m.cfg.TransactionalID, ProducerID: id.ID, ProducerEpoch: id.Epoch, GroupID: group.ID}
	_, unanswered, err := m.call(ctx, cluster.TransactionCoordinator, m.cfg.TransactionalID, req, protocol.AllVersions, func(r protocol.Response) error {
		return code(protocol.AddOffsetsToTxn, r.(*protocol.AddOffsetsToTxnResponse).ErrorCode)
	})
	m.mu.Lock()
	m.bookAdded(err, unanswered)
	m.mu.Unlock()
	return err
}

// markMissing books offsets as missing from the transaction until they
// are sent: from the first request on, a failure may leave them anywhere
// between the client and the group coordinator. m.mu must be held.
func (m *Manager) markMissing(offsets []Offset, group Group) {
	for _, o := range offsets {
		m.missingOffsets[offsetKey{group.ID, o.Topic, o.Partition}] = true
	}
}

// markSent books offsets the group coordinator took for the transaction.
// m.mu must be held.
func (m *Manager) markSent(offsets []Offset, group Group) {
	for _, o := range offsets {
		delete(m.missingOffsets, offsetKey{group.ID, o.Topic, o.Partition})
	}
	if len(m.missingOffsets) == 0 {
		m.offsetsFailure = nil
	}
}

// offsetsMissing is Commit's refusal while a failed SendOffsets left
// offsets out of the transaction: committing its records without them
// would have the consumer read their input again after a restart, and
// write their output twice. m.mu must be held.
func (m *Manager) offsetsMissing() error {
	if len(m.missingOffsets) == 0 {
		return nil
	}
	// The cause is told, not wrapped: a ctx that ended in SendOffsets is
	// not the commit's to retry.
	return fmt.Errorf("%w: CommitTransaction after SendOffsetsToTransaction failed: the offsets of %d partitions may be missing from the transaction, which would commit its records without them; call SendOffsetsToTransaction again, or AbortTransaction (it failed with: %v)",
		ErrState, len(m.missingOffsets), m.offsetsFailure)
}

// offsetsFailed books a failed SendOffsets: fencing, or a coordinator that
// speaks no version the offsets can go at (no call again would find one),
// ends the producer; a group that moved on (the consumer was rebalanced
// away) or a denial makes the transaction abortable (offsetsAbortable), as
// does a context that ended while the call waited to retry a broker's
// error, and any other refusal no retry heals ends the producer. A context
// that ended otherwise, or a coordinator that did not answer or could not
// be reached (a broker that refused the producer's credentials on the
// way: a code, but not the coordinator's answer), leaves the call to be
// made again, and the commit refused until it succeeds (offsetsMissing).
// A producer that stopped while the call waited (a Produce answer that
// ends it) fails it as fatal, whatever err: calling again could not help.
func (m *Manager) offsetsFailed(err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var code *kerr.Error
	switch {
	case m.state == FatalError:
		return fmt.Errorf("SendOffsetsToTransaction: %w", m.lastErr)
	case coordinatorEndsProducer(err), refusedForGood(err) && !offsetsAbortable(err):
		return fmt.Errorf("SendOffsetsToTransaction: %w", m.fatal(err))
	case refusedForGood(err), errors.As(err, &code) && cluster.Retriable(code):
		m.abortable(err)
		return fmt.Errorf("SendOffsetsToTransaction: %w", m.lastErr)
	}
	m.offsetsFailure = err
	return fmt.Errorf("SendOffsetsToTransaction: the offsets may not have reached the group coordinator: call it again, or AbortTransaction; CommitTransaction refuses until then: %w", err)
}

// offsetsAbortable reports an AddOffsetsToTxn or TxnOffsetCommit refusal
// that leaves the transaction to abort, as the Java client's
// AddOffsetsToTxnHandler and TxnOffsetCommitHandler have them: the
// consumer's membership moved on (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
// FENCED_INSTANCE_ID: the consumer rejoins and rewinds), the group denied,
// the producer id unknown, or TRANSACTION_ABORTABLE. Any other it does
// not expect stops the Java client, and the producer here: the same
// offsets meet the same refusal after an abort (OFFSET_METADATA_TOO_LARGE
// for their metadata, UNSUPPORTED_FOR_MESSAGE_FORMAT for the topic's
// format), and a loop aborting on ErrAbortable would never end.
func offsetsAbortable(err error) bool {
	for _, code := range []*kerr.Error{kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.FencedInstanceID,
		kerr.GroupAuthorizationFailed, kerr.UnknownProducerID, kerr.TransactionAbortable} {
		if errors.Is(err, code) {
			return true
		}
	}
	return false
}

// membershipUnchecked says what a group coordinator speaking TxnOffsetCommit
// only below v3 (Kafka before 2.5) means to offsets with the consumer's
// membership, when err is its refusal of them: it could not check it. The
// group and member ids are excerpted (badchar.Excerpt): the caller gave
// them, of any length, and ids of a megabyte made an error as long.
func membershipUnchecked(err error, group Group) error {
	var old *protocol.VersionError
	if !group.hasMembership() || !errors.As(err, &old) || old.API != protocol.TxnOffsetCommit ||
		old.Theirs.Min > old.Theirs.Max || old.Theirs.Max >= membershipVersion {
		return err
	}
	return fmt.Errorf("the group coordinator of %s (Kafka before 2.5) cannot check the consumer's group membership (generation %d, member id %s), so a consumer the group rebalanced away could commit: the offsets are not committed; to go on, create a new producer and send the group's ID alone, or upgrade the brokers: %w",
		badchar.Excerpt(group.ID), group.Generation, badchar.Excerpt(group.MemberID), err)
}

// offsetCommitError is the first partition error of a TxnOffsetCommit
// answer to req, or a partition the answer left out (errLeftOut: taken as
// committed, the transaction would commit without its offset, and the
// consumer read its input again). A partition the request did not carry
// is named as the broker's text (brokertext.Topic).
func offsetCommitError(r *protocol.TxnOffsetCommitResponse, req *protocol.TxnOffsetCommitRequest) error {
	answered := map[accumulator.TopicPartition]bool{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("TxnOffsetCommit: %s-%d: %w", brokertext.Topic(t.Name), p.PartitionIndex, err)
			}
			answered[accumulator.TopicPartition{Topic: t.Name, Partition: p.PartitionIndex}] = true
		}
	}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if !answered[accumulator.TopicPartition{Topic: t.Name, Partition: p.PartitionIndex}] {
				return fmt.Errorf("TxnOffsetCommit: %s-%d: %w", t.Name, p.PartitionIndex, errLeftOut)
			}
		}
	}
	return nil
}
