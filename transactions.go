package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/txn"
)

// Transactions: Config.TransactionalID makes a producer transactional.
//
//	p.InitTransactions(ctx)       // once
//	p.BeginTransaction()
//	p.Produce(...)                // any number, any partitions
//	p.SendOffsetsToTransaction(ctx, offsets, group) // consume-transform-produce
//	p.CommitTransaction(ctx)      // or AbortTransaction
//
// A consumer reading committed records (isolation.level=read_committed)
// sees a transaction's records, and its group's offsets move, all at once
// or never.
//
// The transaction calls run one at a time. One that finds another under way
// (a commit waiting for records, or retrying against a coordinator) waits
// for it no longer than its ctx; BeginTransaction, which has none, then
// fails with ErrTransactionState. So AbortTransaction called from a
// record's callback while CommitTransaction waits for that callback returns
// by its ctx. Close called from a callback does not wait for such a
// commit: a commit on another goroutine still waiting for its records (for
// callbacks queued behind the one closing) stops and fails with ErrClosed,
// and Close aborts the transaction; a commit already sent to the
// coordinator needs no callback, and Close waits for it, within its ctx.
// Nor does it wait for an abort's callbacks: an AbortTransaction on another
// goroutine waits then only for its records' outcomes, ends the
// transaction, and returns before the callbacks behind the one closing
// have run.

// The errors of transactions, for errors.Is; each wraps the broker's error
// when one is the cause.
var (
	// ErrTransactionAbortable: the transaction can no longer commit (one of
	// its records failed, the coordinator timed it out or refused to commit
	// it: TRANSACTION_ABORTABLE; the broker lost the producer's sequence);
	// AbortTransaction, then go on (but for a transaction the coordinator
	// timed out: see AbortTransaction).
	ErrTransactionAbortable = txn.ErrAbortable
	// ErrTransactionFatal: the producer can do nothing more: another
	// producer with its transactional id fenced it
	// (errors.Is(err, kerr.ProducerFenced)), the id is denied to it, the
	// coordinator no longer knows the id (kerr.InvalidProducerIDMapping:
	// it expired, perhaps after another instance took it over; the Java
	// client recovered with a new producer id until Kafka 4.0, KAFKA-18019,
	// which could repeat work the other instance did: create a new
	// producer, whose InitTransactions fences any other), its
	// TransactionTimeout is over the brokers' limit
	// (kerr.InvalidTransactionTimeout, at InitTransactions), or a
	// broker refused its records for good: the cluster denies it
	// idempotent writes (kerr.ClusterAuthorizationFailed), or does not
	// support its Produce (kerr.UnsupportedVersion), as in the Java client;
	// or a coordinator speaks no version of a request of the transactions
	// (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit,
	// EndTxn) the producer can send, or no broker asked speaks one of
	// FindCoordinator; the error's *protocol.VersionError names the
	// request (errors.Is(err, protocol.ErrUnsupportedVersion)): a group
	// coordinator older than Kafka 2.5, say, cannot check the consumer's
	// membership a GroupMetadata carries (see SendOffsetsToTransaction).
	// The Java client stops alike on such a version mismatch. So does a
	// coordinator's refusal of a transaction call that no retry heals and
	// no abort would (kerr.UnknownServerError, say), where the Java client
	// stops on an error it does not expect; the error wraps it.
	// A transaction the coordinator timed out (TransactionTimeout) ends so
	// too, at its commit, with transactions v1 at its abort, or at any
	// request of it to the coordinator after the timeout (a record's
	// AddPartitionsToTxn, SendOffsetsToTransaction's AddOffsetsToTxn): the
	// coordinator answers its old epoch as it answers a producer another
	// one took over (PRODUCER_FENCED, whose words name another producer; a
	// v2 commit, INVALID_TXN_STATE), and nothing in the answer tells the
	// two apart. So may the new epoch a v1 transaction ends with after a
	// request went unanswered (see CommitTransaction), should that request
	// reach the coordinator between the end and the epoch: the error then
	// says whether the transaction committed. Close it.
	ErrTransactionFatal = txn.ErrFatal
	// ErrTransactionState: a call the transaction's state does not allow:
	// any transaction call on a producer without a TransactionalID, any
	// call but InitTransactions before it, and initializing twice;
	// producing outside a transaction; beginning while one is open, while
	// another transaction call is under way, or after a CommitTransaction
	// or AbortTransaction that did not finish (call that one again);
	// committing, aborting or sending offsets with no transaction begun;
	// aborting a transaction whose commit was sent (call
	// CommitTransaction again); committing one whose
	// SendOffsetsToTransaction failed (call it again, or
	// AbortTransaction). The error's text says which, and what to call.
	ErrTransactionState = txn.ErrState
	// ErrTransactionAborted: the record had not been sent when its
	// transaction was aborted, or its transaction began to end while its
	// HookRecordBuffered hooks ran.
	ErrTransactionAborted = txn.ErrAborted
	// ErrInvalidOffsets: SendOffsetsToTransaction refused its arguments
	// before sending anything: an offset or partition that is negative,
	// an invalid topic name, or an empty group ID. The transaction is as
	// it was: call again with good ones.
	ErrInvalidOffsets = txn.ErrInvalidOffsets
)

// Offset is a consumer's position to commit in a transaction: the offset
// of the next record to consume from a partition, as a consumer commits it.
type Offset struct {
	// Topic is the topic the consumer reads; an invalid name is refused
	// (ErrInvalidOffsets).
	Topic string
	// Partition is the topic's partition; a negative one is refused.
	Partition int32
	// Offset is the offset of the next record to consume: the last one
	// consumed, plus one. A negative one (a consumer's -1, no position) is
	// refused.
	Offset int64
	// LeaderEpoch is the leader epoch of the last record consumed; -1 or
	// 0, the zero value, if unknown. Both are committed as -1, as the Java
	// client commits an offset without an epoch: committed as 0, a
	// consumer restarting from it would take the later epochs of the
	// partition's log for a truncation, and rewind. A record's real epoch
	// 0 thus goes as unknown, which only skips that check.
	LeaderEpoch int32
	// Metadata is the text committed with the offset, nil for none.
	Metadata *string
}

// GroupMetadata is the consumer group the offsets belong to and the
// consumer's membership of it (Java: ConsumerGroupMetadata, KIP-447), from
// whatever consumer library reads the input, so that the group
// coordinator refuses the commit of a consumer the group has rebalanced
// away (a zombie). A group coordinator older than Kafka 2.5 cannot check a
// membership: offsets with one are refused before they are sent, and the
// producer stops (see SendOffsetsToTransaction); a GroupMetadata with its
// ID alone commits there unchecked.
type GroupMetadata struct {
	// ID is the group's id; an empty one is refused (ErrInvalidOffsets).
	ID string
	// Generation is the consumer's generation of the group; -1 or 0, the
	// zero value, outside one (a member's generation starts at 1): both go
	// as -1, which the group coordinator takes without checking the
	// membership, as the Java client's ConsumerGroupMetadata(groupId).
	Generation int32
	// MemberID is the consumer's member id in the group, "" if none.
	MemberID string
	// InstanceID is the consumer's static member id (KIP-345), nil if
	// none.
	InstanceID *string
}

// InitTransactions registers the transactional id with its coordinator
// and gets the producer's id and epoch: it fences any earlier producer with
// the same id and aborts the transaction that one left open. Call it once,
// before the first transaction. If ctx ends first, call it again; a
// refusal no retry heals (the id denied, UNKNOWN_SERVER_ERROR,
// CLUSTER_AUTHORIZATION_FAILED, TRANSACTION_ABORTABLE: there is no
// transaction to abort yet) stops the producer (ErrTransactionFatal), as
// the Java client stops on the codes it does not expect.
func (p *Producer) InitTransactions(ctx context.Context) error {
	if err := p.transactional(); err != nil {
		return err
	}
	return p.txn.Init(ctx)
}

// BeginTransaction starts a transaction: the records produced until
// CommitTransaction or AbortTransaction belong to it.
//
// It does not wait, having no ctx to bound a wait. It fails with
// ErrTransactionState before InitTransactions, while another transaction
// call is under way, while a transaction is open, and after a
// CommitTransaction or AbortTransaction that did not finish (its ctx
// ended): call that one again, which ends the transaction. While an open
// transaction has failed it returns that failure, which wraps
// ErrTransactionAbortable: call AbortTransaction. Once the producer has
// stopped it returns what stopped it, which wraps ErrTransactionFatal;
// once it is closed, ErrClosed.
func (p *Producer) BeginTransaction() error {
	if err := p.transactional(); err != nil {
		return err
	}
	return p.txn.Begin()
}

// CommitTransaction waits until every record of the transaction has its
// outcome (callbacks included; called from a callback, those queued behind
// it run after it returns), then commits it, unless the transaction fails
// first. A record belongs to the transaction if its Produce began before
// CommitTransaction, even if it is still waiting for buffer memory; a
// Produce begun after it fails, and so does one whose HookRecordBuffered
// hooks were still running, with ErrTransactionAborted once they return:
// the commit does not wait for them (a hook may be what called it).
//
// A transaction that can no longer commit (a record of it failed, before
// the call or while it waits) is not committed: CommitTransaction returns
// an error wrapping ErrTransactionAbortable at once, without waiting for
// the other records' outcomes or for any callback, the failed record's
// included: they may still be to run, and what they set is not yet to be
// read. Call AbortTransaction, which returns once they have run, then go
// on. A transaction the coordinator answers can only be aborted
// (TRANSACTION_ABORTABLE) is not committed either, and the error wraps
// ErrTransactionAbortable too; one whose transactional id the coordinator
// no longer knows (INVALID_PRODUCER_ID_MAPPING) ends the producer
// (ErrTransactionFatal).
//
// While offsets of a failed SendOffsetsToTransaction may be missing from
// the transaction, it refuses with ErrTransactionState, committing
// nothing: send them again, or AbortTransaction. If ctx ends while it
// waits for the records, nothing was committed: call it again, or
// AbortTransaction.
//
// Once it has asked the coordinator to commit, a refusal the coordinator
// answered to every attempt says it did not commit: TRANSACTION_ABORTABLE
// wraps ErrTransactionAbortable, and any other error no retry heals
// (UNKNOWN_SERVER_ERROR, UNKNOWN_PRODUCER_ID) ErrTransactionFatal, as the
// Java client stops on the codes it does not expect. But if its ctx ends,
// or a request asking it goes unanswered (the connection broke,
// RequestTimeout), the outcome is unknown, the coordinator perhaps having
// committed the transaction, and the error says so: call
// CommitTransaction again, which asks again and learns it;
// AbortTransaction fails with ErrTransactionState, as the Java client's
// does.
//
// With transactions v1, a transaction a request of which to the
// coordinator went unanswered, though it was answered when sent again,
// ends with a new epoch, under which the coordinator fences the request
// should it handle it late, in the next transaction (v2 ends every
// transaction so); if ctx ends while it asks for that epoch, the error
// says the transaction committed: call CommitTransaction again to get the
// epoch.
//
// If Close is called from a record's callback while it waits for the
// records, it returns an error wrapping ErrClosed: nothing was committed,
// and Close aborts the transaction.
func (p *Producer) CommitTransaction(ctx context.Context) error {
	if err := p.transactional(); err != nil {
		return err
	}
	return p.txn.Commit(ctx)
}

// AbortTransaction aborts the transaction: records not sent yet fail
// with ErrTransactionAborted, and those sent are never seen by consumers
// that read committed records. A record belongs to the transaction if
// its Produce began before AbortTransaction: one still waiting for its
// topic's metadata fails at once, and one whose Produce is still under
// way fails too, rather than land in the next transaction: its wait for
// buffer memory, if it waits, ends as the abort begins (memory that,
// called from a callback, only the callbacks behind this one would give
// back). It returns once every record has its outcome, and its callback
// has run: but for those queued behind a callback that called it, or
// that called Close meanwhile, and those whose HookRecordBuffered hooks
// were still running, which it does not wait for (a hook may be what
// called it): they fail with ErrTransactionAborted once the hooks
// return. A record's answer that stops the producer while it waits for
// them (see ErrTransactionFatal) fails it with ErrTransactionFatal, and
// nothing more is sent. If ctx ends first it may be called again; so may
// it if the coordinator answers it TRANSACTION_ABORTABLE (the error
// wraps ErrTransactionAbortable: the transaction is still to abort). Any
// other refusal no retry heals, UNKNOWN_PRODUCER_ID included, stops the
// producer (ErrTransactionFatal), as the Java client stops on the codes
// it does not expect. With transactions v1 it ends with a new epoch when
// a request of the transaction to the coordinator went unanswered, as
// CommitTransaction does, or a sequence is in doubt; if that epoch cannot
// be had, the error says the transaction was aborted all the same, and
// AbortTransaction, called again, asks for the epoch alone. A
// transaction whose commit was sent to the coordinator, though
// CommitTransaction failed, may be committed already: AbortTransaction
// refuses it with ErrTransactionState, and CommitTransaction, called
// again, says how it ended. A transaction the
// coordinator timed out (TransactionTimeout), which it aborted itself
// under a new epoch, ends the producer here with transactions v1
// (ErrTransactionFatal, kerr.ProducerFenced), as it ends the Java
// client; with transactions v2 a coordinator that bumped the epoch once
// for it (Kafka since KAFKA-19367) answers the abort with the new epoch,
// and the producer goes on.
func (p *Producer) AbortTransaction(ctx context.Context) error {
	if err := p.transactional(); err != nil {
		return err
	}
	return p.txn.Abort(ctx)
}

// SendOffsetsToTransaction adds a consumer group's offsets to the
// transaction, so that they are committed with its records or not at all:
// the consume-transform-produce loop of exactly-once pipelines. The group's
// metadata comes from the consumer, whichever library it is. It returns
// once the group coordinator has taken them.
//
// Offsets no coordinator should commit are refused before anything is
// sent, with an error wrapping ErrInvalidOffsets that names the entry
// (its index, topic, partition and offset): a negative offset (a
// consumer's -1 means it has no position; committed, a consumer
// restarting from it would apply auto.offset.reset, and read its input
// again or skip it), as the Java client's OffsetAndMetadata refuses it; a
// negative partition, or a topic name the broker would refuse; and an
// empty group ID, which Kafka's coordinator refuses (INVALID_GROUP_ID).
// Such a refusal leaves the transaction as it was, neither abortable nor
// missing the offsets: call again with good ones. Unlike a
// TransactionalID, the group's ID and InstanceID are not refused for bytes
// that are not UTF-8 (a MemberID, the broker's or a UUID, is UTF-8): the
// broker decodes them, each such byte as U+FFFD, as it decodes the
// consumer's own FindCoordinator, JoinGroup and OffsetFetch, which carry
// them as given (franz-go's do), so it finds the group's coordinator by
// the same decoded name and commits to the group, member and offsets the
// consumer reads: a refusal would only stop a pipeline whose consumer
// works.
//
// An error wrapping ErrTransactionFatal means the producer was fenced,
// denied, or its transactional id is no longer known to the coordinator,
// or the coordinator refused the offsets with an error an abort would
// meet again (OFFSET_METADATA_TOO_LARGE, UNSUPPORTED_FOR_MESSAGE_FORMAT,
// GROUP_ID_NOT_FOUND, UNKNOWN_SERVER_ERROR: any but those below, as the
// Java client stops on them), or a coordinator speaks no version of a
// request the call needs (calling again would find none either; the error
// wraps protocol.ErrUnsupportedVersion): close it. A group coordinator
// older than Kafka 2.5 is one for a group with a membership, which it
// cannot check: the offsets are not sent, as the Java client refuses
// them; a new producer may send the group with its ID alone, which
// commits there without the check, as the Java client allows, or the
// brokers may be upgraded. One wrapping ErrTransactionAbortable (the
// group rebalanced the consumer away: UNKNOWN_MEMBER_ID,
// ILLEGAL_GENERATION, FENCED_INSTANCE_ID; the group is denied;
// UNKNOWN_PRODUCER_ID, TRANSACTION_ABORTABLE; also a ctx that ended while
// the call waited to retry a broker's error): AbortTransaction, and go
// back to the consumer's committed position. Any other (ctx ended, no
// coordinator answered) leaves the offsets perhaps out of the
// transaction: CommitTransaction refuses, with ErrTransactionState, until
// SendOffsetsToTransaction succeeds for the same group and partitions
// (the same offsets may be sent again), rather than commit the records
// without them, which a consumer restarted would process again; or
// AbortTransaction. The Java client's commit likewise waits for the
// offsets of a sendOffsetsToTransaction that timed out.
func (p *Producer) SendOffsetsToTransaction(ctx context.Context, offsets []Offset, group GroupMetadata) error {
	if err := p.transactional(); err != nil {
		return err
	}
	// A call per transaction at most: the copy costs nothing that matters,
	// and keeps the fields' docs where go doc shows them.
	converted := make([]txn.Offset, len(offsets))
	for i, o := range offsets {
		converted[i] = txn.Offset(o)
	}
	return p.txn.SendOffsets(ctx, converted, txn.Group(group))
}

// transactional refuses transaction calls on a producer without a
// TransactionalID, or a closed one.
func (p *Producer) transactional() error {
	switch {
	case p.txn == nil:
		return fmt.Errorf("%w: the producer has no TransactionalID", ErrTransactionState)
	case p.closed.Load():
		return ErrClosed
	}
	return nil
}

// abortOnClose aborts the transaction under way as the producer closes:
// left open, it would hold up consumers reading committed records until the
// coordinator timed it out.
func (p *Producer) abortOnClose(ctx context.Context) error {
	if p.txn == nil {
		return nil
	}
	if p.acc.InCallback() {
		// A commit or an abort on another goroutine may wait for the
		// callbacks queued behind this one, which wait for this Close,
		// whose abort waits for that call: a commit still waiting for its
		// records gives up, an abort waits only for their outcomes.
		// Outside a callback a commit is left to finish, as a program
		// closing while another goroutine commits may expect: the abort
		// waits for it, within ctx, and finds nothing left to abort.
		p.txn.CloseFromCallback(fmt.Errorf("%w from a record's callback", ErrClosed))
	}
	if err := p.txn.Close(ctx); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// noteTxnFailure tells the transaction manager that a batch of the
// transaction, for tp, failed: the transaction cannot commit. It is told as
// the failure is decided, not when the records' callbacks run: a commit
// called from a callback waits for no outcome queued behind that callback,
// and would commit without the records. The batch's error does not name
// its partition; the manager says which in the transaction's error.
func (p *Producer) noteTxnFailure(tp accumulator.TopicPartition, err error) {
	if p.txn != nil && !errors.Is(err, ErrTransactionState) {
		p.txn.RecordFailed(tp, err)
	}
}

// noteTxnRejection tells the transaction manager that a record of topic
// was refused before it joined a batch, in Produce or while it waited for
// its topic's metadata: the transaction cannot commit without it. Like a
// failure, it is told as it is decided. The manager books the refusal's
// cause and names the partition in words, as for a failed batch: every
// later call and refused record quotes the transaction's error, which
// must be no *PartitionError naming the refused record's partition.
func (p *Producer) noteTxnRejection(topic string, err error) {
	if p.txn == nil {
		return
	}
	tp := accumulator.TopicPartition{Topic: topic, Partition: -1}
	if pe, ok := err.(*PartitionError); ok {
		tp.Partition, err = pe.Partition, pe.Err
	}
	p.txn.RecordRejected(tp, err)
}

// newTransactionManager wires the transaction manager to the cluster layer
// and the accumulator.
func (p *Producer) newTransactionManager() *txn.Manager {
	m := txn.New(txn.Config{
		TransactionalID:  p.cfg.TransactionalID,
		Timeout:          p.cfg.TransactionTimeout,
		RetryBackoff:     p.cfg.RetryBackoff,
		RetryBackoffMax:  p.cfg.RetryBackoffMax,
		Coordinators:     coordinators{p.cluster},
		Clock:            p.cfg.clock,
		Logger:           p.cfg.Logger,
		Context:          p.ctx,
		SetProducerID:    p.setTxnProducerID,
		ProducerID:       p.acc.ProducerID,
		EndTransaction:   p.acc.EndTransaction,
		FailUnsent:       p.acc.FailAllUnsentWith,
		AbortBatches:     p.acc.AbortTransaction,
		FailHeld:         p.held.abortTransaction,
		SequencesInDoubt: p.acc.SequencesInDoubt,
		Flush:            p.flush,
		AwaitOutcomes:    p.flushOutcomes,
		Wake: func(tp accumulator.TopicPartition) {
			p.wakeLeader(p.cluster.Snapshot(), tp)
		},
	})
	p.acc.SetAdmit(m.Admit)
	p.acc.SetEpochNeeded(m.EpochNeeded)
	p.acc.SetFailed(p.noteTxnFailure)
	return m
}

// setTxnProducerID gives a transactional producer the id and epoch its
// coordinator gave it (InitTransactions; an end that bumps the epoch; with
// transactions v2, each transaction's end), and
// tells HookProducerID of them (a metrics hook shows the epoch): a later
// epoch under the same id is Bumped.
func (p *Producer) setTxnProducerID(id accumulator.ProducerID) {
	p.announceID(id, true)
	p.acc.SetProducerID(id)
}

// coordinators is the cluster layer as the transaction manager sees it.
type coordinators struct{ *cluster.Cluster }

// CoordinatorBroker is the coordinator's live connection, whose versions
// and finalized features tell which transaction protocol it speaks.
func (c coordinators) CoordinatorBroker(ctx context.Context, kind cluster.CoordinatorKind, key string) (txn.Broker, error) {
	b, err := c.Coordinator(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	cn, err := b.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return cn, nil
}

// LiveCoordinatorBroker is the coordinator's connection if it is known and
// live, found without asking or dialing anyone.
func (c coordinators) LiveCoordinatorBroker(kind cluster.CoordinatorKind, key string) (txn.Broker, bool) {
	b, ok := c.KnownCoordinator(kind, key)
	if !ok {
		return nil, false
	}
	cn, ok := b.Live()
	if !ok {
		return nil, false
	}
	return cn, true
}
