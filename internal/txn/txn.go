// Package txn is the transaction manager of a transactional producer: the
// state machine of the Java client's TransactionManager, written from its
// behaviour (KIP-98, KIP-360, KIP-588, KIP-890).
//
//	uninitialized --Init--> ready --Begin--> in transaction --Commit--> ready
//	                          ^                 |   \--Abort--------------^
//	                          |                 v                         |
//	                          +----Abort--- abortable error               |
//	any state ---------------------------> fatal error (fenced, denied)
//
// It reaches the transaction coordinator (and, for offsets, the group
// coordinator) through the cluster layer, and drives the producer's
// accumulator through functions the producer gives it: the producer id and
// epoch, which partitions may send, failing what has not been sent, waiting
// for every record's outcome. Two protocols: transactions v1, where a
// partition joins a transaction with AddPartitionsToTxn before its first
// batch is sent, and transactions v2 (KIP-890 part 2: Produce v12+, EndTxn
// v5, transaction.version 2), where a Produce request adds its partitions
// and every transaction ends with a new epoch. The protocol is learned at
// Init and again as each transaction ends, for the next one
// (learnNextProtocol).
package txn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/protocol"
)

// The errors a transactional producer's calls fail with; each also wraps
// the broker's error, when one is the cause.
var (
	// ErrAbortable: the transaction can no longer commit (a record failed,
	// the broker lost the producer's sequence, the coordinator timed the
	// transaction out); AbortTransaction is the way on, which for a
	// transaction timed out may end in ErrFatal (Manager.Abort).
	ErrAbortable error = &final{"the transaction must be aborted"}
	// ErrFatal: the producer can do nothing more (it was fenced by another
	// producer with its transactional id, or its transaction timed out,
	// which the coordinator answers alike at the commit, and with v1 at
	// the abort; or it was denied; or the coordinator no longer knows its
	// transactional id; or a coordinator refused a call for good with an
	// error no abort heals, as the Java client stops on one it does not
	// expect); close it.
	ErrFatal error = &final{"the transactional producer cannot continue"}
	// ErrState: a call the transaction's state does not allow (producing
	// outside a transaction, committing with none begun or with offsets a
	// failed SendOffsets may have left out, initializing twice, beginning
	// while another call is under way).
	ErrState = errors.New("not allowed in this transaction state")
	// ErrAborted: a record that had not been sent when its transaction was
	// aborted, or that came back to its transaction after it began to end
	// (EnterAfterHooks).
	ErrAborted = errors.New("transaction aborted")
	// ErrInvalidOffsets: SendOffsets refused its arguments before sending
	// anything (an offset or partition that is negative, an invalid topic
	// name, an empty group ID); the transaction is as it was.
	ErrInvalidOffsets = errors.New("invalid offsets")
)

// final is ErrAbortable's and ErrFatal's type: kerr.Final, since no retry
// of the broker error they wrap as their cause can succeed before the
// transaction is aborted, or ever.
type final struct{ text string }

func (e *final) Error() string { return e.text }
func (*final) Final()          {}

// State is where the transaction manager stands.
type State int8

const (
	Uninitialized State = iota
	Ready
	InTransaction
	Committing
	Aborting
	AbortableError
	FatalError
)

func (s State) String() string {
	return [...]string{"uninitialized", "ready", "in transaction", "committing", "aborting", "abortable error", "fatal error"}[s]
}

// Broker is what the manager asks of the coordinator's connection: the
// versions it speaks and the cluster's finalized features, with their
// epoch (-1: none told).
type Broker interface {
	Version(api protocol.APIKey) (int16, error)
	FinalizedFeature(name string) (int16, bool)
	FinalizedFeaturesEpoch() int64
}

// Coordinators reaches coordinators; the cluster layer is one.
type Coordinators interface {
	CoordinatorBroker(ctx context.Context, kind cluster.CoordinatorKind, key string) (Broker, error)
	AskCoordinator(ctx context.Context, kind cluster.CoordinatorKind, key string, req protocol.Request, versions protocol.VersionRange) (protocol.Response, error)
	ForgetCoordinator(kind cluster.CoordinatorKind, key string)
	// LiveCoordinatorBroker is CoordinatorBroker for one that may not
	// wait: the coordinator's connection if it is known and live, false
	// otherwise.
	LiveCoordinatorBroker(kind cluster.CoordinatorKind, key string) (Broker, bool)
}

// Config is the manager's settings and its ways into the producer.
type Config struct {
	TransactionalID string
	Timeout         time.Duration // transaction.timeout.ms
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	Coordinators    Coordinators
	Clock           clock.Clock
	Logger          *slog.Logger
	// Context ends when the producer closes: the manager's requests stop
	// then, its own (adding partitions) and those of a call under way,
	// which stops retrying.
	Context context.Context

	// SetProducerID gives the producer its id and epoch; ProducerID reads
	// them.
	SetProducerID func(accumulator.ProducerID)
	ProducerID    func() (accumulator.ProducerID, bool)
	// EndTransaction makes every partition ask Admit again.
	EndTransaction func()
	// FailUnsent fails every batch not sent yet, of tp with errFor(tp).
	FailUnsent func(errFor func(tp accumulator.TopicPartition) error)
	// AbortBatches fails every batch not in flight with err, and those in
	// flight whose answer asks for a retry, and refuses appends with err,
	// those waiting for memory included, until EndTransaction.
	AbortBatches func(err error)
	// FailHeld fails with err every record held for its topic's
	// metadata, ending the wait of one being appended (for its partition
	// or its batch's memory).
	FailHeld func(err error)
	// SequencesInDoubt reports whether a partition's sequences must
	// restart under an epoch newer than the current one.
	SequencesInDoubt func() bool
	// Flush waits until every record produced so far has its outcome and
	// its callback has run; AwaitOutcomes only until each has its outcome.
	Flush         func(ctx context.Context) error
	AwaitOutcomes func(ctx context.Context) error
	// Wake tells a partition's sender that the partition may send.
	Wake func(accumulator.TopicPartition)
}

// Manager is one transactional producer's transaction manager. Its API
// calls (Init, Begin, Commit, Abort, SendOffsets) run one at a time; one
// that finds another under way waits for it no longer than its ctx, and
// Begin, which has none, does not wait.
type Manager struct {
	cfg   Config
	retry backoff.Exponential
	calls callLock // one API call at a time

	mu      sync.Mutex
	state   State
	lastErr error // why the state is abortable or fatal
	// lastCause is lastErr's cause, for a record of a partition it names
	// (forRecordOf).
	lastCause error
	// v2: the current transaction speaks transactions v2 (KIP-890 part
	// 2), or, between transactions, the next one does. A transaction
	// keeps the protocol it began with to its end: nextV2 is the one
	// learned since (learnNextProtocol), which finish makes the next
	// transaction's, and switchBump says that the move to v2 needs a new
	// epoch first. featuresEpoch is the epoch of the finalized features
	// they were learned from, protocolKnown whether any were.
	v2, nextV2    bool
	switchBump    bool
	featuresEpoch int64
	protocolKnown bool
	// In the current transaction: the partitions added (v1), those waiting
	// to be, those in the AddPartitionsToTxn under way, and whether
	// anything at all (a record, offsets) is in it.
	added   map[accumulator.TopicPartition]bool
	pending map[accumulator.TopicPartition]bool
	adding  map[accumulator.TopicPartition]bool
	started bool
	// begun: with transactions v1, the coordinator has the transaction,
	// an AddPartitionsToTxn or AddOffsetsToTxn having succeeded; maybeBegun:
	// it may have it, one having been written and gone unanswered. Neither
	// (every one refused, or never sent): it has none, and would answer
	// an abort's EndTxn INVALID_TXN_STATE, which fences the producer, so
	// the transaction ends without one (endNeeded), as the Java client's
	// does (transactionStarted).
	begun, maybeBegun bool
	// missingOffsets: the offsets a failed SendOffsets may have left out of
	// the transaction, by group and partition, and offsetsFailure why;
	// Commit refuses while there are any (offsetsMissing).
	missingOffsets map[offsetKey]bool
	offsetsFailure error
	// adderDone is closed when the goroutine adding partitions stops; nil
	// while none runs.
	adderDone chan struct{}
	gen       uint64 // transactions ended so far: a late addition of an ended one is ignored
	// bump: the producer's epoch must move on before the next transaction
	// (a sequence was lost, or a batch may be in the log unanswered).
	bump bool
	// commitSent: the commit's EndTxn was sent (from the moment it is
	// asked for until the transaction finishes). The coordinator may have
	// committed the transaction though no answer came back, and then
	// answers an abort INVALID_TXN_STATE, which fences the producer: only
	// a commit asked for again may end it, and its answer tells the
	// outcome (a coordinator answers a commit it already made as it did
	// the first time). The Java client refuses that abort likewise.
	commitSent bool
	// commitUnanswered: an attempt of the commit's EndTxn went unanswered,
	// in this call or an earlier one. The coordinator may have committed
	// the transaction then, whatever it answered later; without one, a
	// refusal it answered says it did not (see Commit).
	commitUnanswered bool
	// endAnswered: the commit's or the abort's EndTxn was answered well
	// (the coordinator ended the transaction, or had none to abort); with
	// v1 the end may still have its new epoch to get (InitProducerId). A
	// commit or an abort called again, its ctx having ended meanwhile,
	// goes straight to that: the InitProducerId cut short may have
	// reached the coordinator, which then moved to the new epoch and
	// answers an EndTxn under the old one PRODUCER_FENCED (Kafka 2.7+),
	// ending the producer, while it takes InitProducerId under the old
	// epoch as a retry and answers with the epoch it gave (KIP-360). The
	// Java client, too, sends the abort's EndTxn once and keeps its
	// result for the call made again.
	endAnswered bool
	// unanswered: with v1, a request of the transaction to its coordinator
	// (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) went unanswered, though
	// a later attempt may have been answered. The coordinator may handle it
	// late, once the next transaction is open: v1 keeps the epoch from one
	// transaction to the next, so a late EndTxn would end that transaction,
	// and a late addition begin one at the coordinator that the producer
	// knows nothing of. The transaction ends with a new epoch
	// (newEpochNeeded), under which the coordinator fences them. v2 gets one
	// from every EndTxn.
	unanswered bool

	// failed ends when the transaction under way can no longer commit
	// (abortable or fatal): a commit stops waiting for records then, some
	// of which may wait for the abort to be sent or failed.
	failed     context.Context
	signalFail context.CancelFunc
	// closing ends, with its cause, once the producer's Close is called
	// from a record's callback (CloseFromCallback): it outlives the
	// transaction, the producer closing for good.
	closing     context.Context
	markClosing context.CancelCauseFunc
	// stopped is closed once the producer stops for good (FatalError,
	// which nothing leaves): a call waiting for the partition adder stops
	// waiting then, as nothing more will be sent.
	stopped chan struct{}
	// live ends once the producer stops for good, as stopped closes: a
	// coordinator call under way stops then (call), since nothing it asks
	// for can commit. Its retries would otherwise go on, while the
	// coordinator failed, until Close or the caller's ctx.
	live    context.Context
	endLive context.CancelFunc

	// producing mirrors state == InTransaction, so that CheckProduce, on
	// every record, takes no lock.
	producing atomic.Bool

	// inProduce counts the records between EnterProduce and ExitProduce,
	// which a commit waits for (awaitProduce); awaitingProduce: one
	// waits, and the last ExitProduce wakes it through produced.
	inProduce       atomic.Int64
	awaitingProduce atomic.Bool
	produced        notify.Notifier
}

// setState moves the manager to s, but never out of FatalError: a call
// under way when the producer stopped (an abort whose Produce answer
// stopped the sender as it waited) may not make it ready again. m.mu must
// be held.
func (m *Manager) setState(s State) {
	if m.state == FatalError {
		return
	}
	m.state = s
	m.producing.Store(s == InTransaction)
}

// New returns a manager in state Uninitialized.
func New(cfg Config) *Manager {
	m := &Manager{
		cfg:     cfg,
		retry:   backoff.Exponential{Base: cfg.RetryBackoff, Max: cfg.RetryBackoffMax},
		calls:   newCallLock(),
		added:   make(map[accumulator.TopicPartition]bool),
		pending: make(map[accumulator.TopicPartition]bool),
		adding:  make(map[accumulator.TopicPartition]bool),

		missingOffsets: make(map[offsetKey]bool),
	}
	m.closing, m.markClosing = context.WithCancelCause(context.Background())
	m.stopped = make(chan struct{})
	m.live, m.endLive = context.WithCancel(context.Background())
	return m
}

// State returns the manager's state and, in an error state, why.
func (m *Manager) State() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state, m.lastErr
}

// V2 reports whether the transaction under way (between transactions, the
// next one) speaks transactions v2: the sender may then use Produce v12+,
// whose requests add their partitions themselves.
func (m *Manager) V2() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v2
}

// CheckProduce says whether a record may be produced now: only inside a
// transaction.
func (m *Manager) CheckProduce() error {
	if m.producing.Load() {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case InTransaction:
		return nil
	case AbortableError, FatalError:
		return m.lastErr
	}
	return m.refused("producing", "BeginTransaction first")
}

// refused is the ErrState error of call in the current state, with hint
// (why, or what to call first) if any. Before InitTransactions the hint is
// always to call it: "BeginTransaction first" would send the caller to
// BeginTransaction, which is refused too. m.mu must be held.
func (m *Manager) refused(call, hint string) error {
	if m.state == Uninitialized {
		hint = "InitTransactions first"
	}
	if hint == "" {
		return fmt.Errorf("%w: %s in state %v", ErrState, call, m.state)
	}
	return fmt.Errorf("%w: %s in state %v: %s", ErrState, call, m.state, hint)
}

// abortable moves an open transaction to the abortable state, with why.
// m.mu must be held.
func (m *Manager) abortable(cause error) {
	if m.state == FatalError || m.state == Aborting || m.state == AbortableError {
		return
	}
	m.setState(AbortableError)
	m.lastErr, m.lastCause = fmt.Errorf("%w: %w", ErrAbortable, cause), cause
	m.signalFailure()
	m.cfg.Logger.Warn("transaction must be aborted", "transactional_id", m.cfg.TransactionalID, "err", cause)
}

// fatal moves the manager to the fatal state for good. m.mu must be held.
func (m *Manager) fatal(cause error) error {
	if m.state != FatalError {
		m.setState(FatalError)
		close(m.stopped)
		m.endLive()
		m.lastErr = fmt.Errorf("%w: %w", ErrFatal, forgotten(asFenced(cause), m.cfg.TransactionalID))
		m.signalFailure()
		m.cfg.Logger.Error("transactional producer stopped", "transactional_id", m.cfg.TransactionalID, "err", cause)
	}
	return m.lastErr
}

// RecordFailed books the failure of a batch of tp in the current
// transaction: a transaction missing a record must not commit, and its
// sequence is in doubt (bump). It is told as the failure is decided, before
// the records' callbacks are queued, so that a commit, even one called from
// a callback, sees it before it sends EndTxn. err does not name tp (a
// record's PartitionError does): the transaction's error, which every
// later call and refused record quotes, names it in words, as a cause
// (save to a record of tp itself: forRecordOf).
func (m *Manager) RecordFailed(tp accumulator.TopicPartition, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recordLost(err, tp, true)
}

// RecordRejected books a record of tp (tp.Partition -1: none chosen yet)
// that the producer refused before it joined a batch (too large, no memory
// in time, an invalid partition, no metadata in time, the producer
// stopped): the transaction misses a record and must not commit, but
// nothing was sent, so no sequence is in doubt. It is told as the refusal
// is decided, as RecordFailed is. err does not name tp, as RecordFailed's
// does not: the transaction's error names it in words.
func (m *Manager) RecordRejected(tp accumulator.TopicPartition, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recordLost(err, tp, false)
}

// recordLost books a record of the current transaction, of tp, that
// failed in a batch (inBatch: sent, perhaps), or before it joined one.
// Fencing, and whatever else ends the producer (endsProducer), is fatal,
// for a refusal too: a stopped sender refuses every append with the error
// that stopped it. That error concerns the producer, not one partition: it
// is kept as it came, where a failure that leaves the transaction to abort
// says which partition's batch failed, or whose record was refused. A
// failure with no transaction open (a record the producer's
// Close failed after the abort) is the record's alone: booked, it would
// make the next transaction abortable before it began. m.mu must be held.
func (m *Manager) recordLost(err error, tp accumulator.TopicPartition, inBatch bool) {
	switch {
	case errors.Is(err, ErrAborted):
		// The abort under way failed it, or its transaction has ended.
	case errors.Is(err, ErrAbortable) || errors.Is(err, ErrFatal):
		// Failed for the transaction's own state, never sent (Admit's
		// refusal, or a partition that could not be added): nothing new,
		// and no sequence in doubt.
	case endsProducer(err):
		m.fatal(err)
	case !m.open():
		// No transaction to fail: the failure is the record's alone.
	case !inBatch && tp.Partition < 0:
		m.abortable(fmt.Errorf("a record of %s was refused: %w", tp.Topic, err))
	case !inBatch:
		m.abortable(newPartitionCause(tp, "a record of %s was refused", "an earlier record was refused", err))
	default:
		m.abortable(newPartitionCause(tp, "a batch of %s failed", "an earlier batch failed", err))
		m.bump = true // an unanswered or refused batch: its sequence is in doubt
	}
}

// open reports whether a transaction is under way, its end included.
// m.mu must be held.
func (m *Manager) open() bool {
	switch m.state {
	case InTransaction, Committing, AbortableError, Aborting:
		return true
	}
	return false
}

// bookAdded books what an AddPartitionsToTxn or AddOffsetsToTxn that
// returned err, unanswered as call tells, did at the coordinator (v1), and
// an attempt the coordinator may handle late (unanswered). m.mu must be
// held.
func (m *Manager) bookAdded(err error, unanswered bool) {
	m.unanswered = m.unanswered || unanswered
	switch {
	case err == nil:
		m.begun = true
	case unanswered:
		m.maybeBegun = true
	}
}

// endNeeded reports whether the transaction must be ended at the
// coordinator with EndTxn. With v2 any record or offsets make it so: their
// Produce or TxnOffsetCommit may have begun it, and EndTxn v5 is answered
// well whether one did or not. With v1 only a transaction the coordinator
// has, or may have (begun, maybeBegun). m.mu must be held.
func (m *Manager) endNeeded() bool {
	if m.v2 {
		return m.started
	}
	return m.begun || m.maybeBegun
}

// EpochNeeded is the accumulator's news that a partition's sequences must
// restart, which only a new epoch from the coordinator allows: the
// transaction must be aborted first.
func (m *Manager) EpochNeeded(tp accumulator.TopicPartition, cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bump = true
	err := fmt.Errorf("%s-%d must restart its sequence numbers under a new epoch", tp.Topic, tp.Partition)
	if cause != nil {
		err = fmt.Errorf("%w, after: %w", err, cause)
	}
	m.abortable(err)
}
