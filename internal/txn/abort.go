package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/protocol/kerr"
)

// Abort aborts the transaction: what has not been sent fails with
// ErrAborted (records held for their topic's metadata, and those of
// Produce calls admitted before Abort, which it waits for, included), what
// has waits for its outcome, and the coordinator writes abort markers
// (EndTxn). It returns once the records' callbacks have run, unless the
// producer closes from one of them meanwhile (CloseFromCallback). When the
// producer's epoch must move on (a sequence lost, a batch perhaps in the
// log without an answer, with v1 a request to the coordinator unanswered
// that it may handle late), the coordinator gives a new one: with
// transactions v1, InitProducerId with the current id and epoch, after the
// EndTxn (KIP-360); with v2, EndTxn's answer. When the coordinator no
// longer knows the transactional id (INVALID_PRODUCER_ID_MAPPING, at any
// request of the transaction or at the abort's EndTxn), the producer stops
// (ErrFatal), as the Java client's does since Kafka 4.0 (KAFKA-18019): a
// new producer id would fence an instance that took the id over, and this
// one would repeat work that one already did. A record's answer that stops
// the producer (fencing, that unknown id, the cluster's denial, a Produce
// the broker does not support) while the abort waits for the records fails
// it with ErrFatal, and no EndTxn goes, as the Java client fails its
// pending abort. There is no transaction to end when, with transactions
// v1, nothing was added to the transaction (every AddPartitionsToTxn or
// AddOffsetsToTxn refused, or never sent): no EndTxn goes then, and if the
// only additions went unanswered, an EndTxn answered INVALID_TXN_STATE
// says they never landed. If ctx ends first, Abort may be called again;
// once its EndTxn was answered, the call made again only gets the new
// epoch (endAnswered). An EndTxn answered TRANSACTION_ABORTABLE fails it
// with ErrAbortable, to be called again; any other refusal no retry heals
// stops the producer (abortEndFailed). A transaction whose commit's EndTxn
// was sent is not aborted: the coordinator may have committed it, and
// Abort fails with ErrState, saying to call Commit again.
//
// A transaction the coordinator timed out (Config.Timeout) it aborted
// itself, under a new epoch; the partitions refuse the producer's records
// sent after for their old epoch (INVALID_PRODUCER_EPOCH), which leaves the
// transaction to abort. With v1 the coordinator answers the abort's EndTxn,
// under the old epoch, PRODUCER_FENCED (Kafka 2.7+; INVALID_PRODUCER_EPOCH
// before), as it answers a producer another one took over, and the producer
// stops (ErrFatal), as the Java client's does. The recovery KIP-588
// proposed for it is not in Kafka's coordinator (KAFKA-9910), which forgets
// the old epoch at the timeout and so refuses InitProducerId under it too.
// With v2 a coordinator that bumped the epoch once for the timeout (Kafka
// since KAFKA-19367; kfake) takes the abort as a retry of its own and
// answers it with the new epoch, and the producer goes on; one that bumped
// it twice (Kafka before KAFKA-19367) answers PRODUCER_FENCED.
//
// An abort whose new epoch fails (the coordinator not reached before ctx
// ends, or refusing) has aborted the transaction all the same (its EndTxn
// was answered, or the coordinator had nothing of it): its error says so,
// and that the epoch is missing, wrapping the failure (the ctx's error,
// or ErrFatal for a refusal that ends the producer). Called again, it
// asks for the epoch alone.
func (m *Manager) Abort(ctx context.Context) error {
	_, err := m.abort(ctx, false)
	return err
}

// abort is Abort; ended reports that its error is the new epoch's alone,
// the transaction aborted. closing: the producer's Close aborts, and no
// call will come to ask for the epoch again.
func (m *Manager) abort(ctx context.Context, closing bool) (ended bool, err error) {
	if err := m.calls.lock(ctx, "AbortTransaction"); err != nil {
		return false, err
	}
	defer m.calls.unlock()
	m.mu.Lock()
	switch m.state {
	case Committing:
		if m.commitSent {
			defer m.mu.Unlock()
			return false, fmt.Errorf("%w: AbortTransaction after the commit was sent: it may have committed the transaction; call CommitTransaction again to learn its outcome", ErrState)
		}
		m.setState(Aborting)
	case InTransaction, AbortableError, Aborting:
		m.setState(Aborting)
	case FatalError:
		defer m.mu.Unlock()
		return false, m.lastErr
	default:
		defer m.mu.Unlock()
		return false, m.refused("AbortTransaction", "no transaction to abort")
	}
	m.mu.Unlock()
	if err := m.abortRecords(ctx); err != nil {
		return false, fmt.Errorf("AbortTransaction: %w", err)
	}
	if err := m.flushForAbort(ctx); err != nil {
		return false, fmt.Errorf("AbortTransaction: records without an outcome: %w", err)
	}
	if err := m.adderStopped(ctx); err != nil {
		return false, fmt.Errorf("AbortTransaction: %w", err)
	}
	m.mu.Lock()
	if m.state == FatalError {
		// A record's answer stopped the producer while the abort waited
		// (fenced, the transactional id forgotten, the cluster's denial):
		// nothing more is sent, as the Java client fails its abort then.
		defer m.mu.Unlock()
		return false, fmt.Errorf("AbortTransaction: %w", m.lastErr)
	}
	end, bump, v2 := m.endNeeded(), m.bump, m.v2
	answered := m.endAnswered
	onlyUnanswered := !v2 && !m.begun
	m.mu.Unlock()
	// A batch sent and then failed by the abort leaves its partition's
	// sequences to restart, which the next transaction can do only under
	// a new epoch; with v2, EndTxn gives it.
	newID := (bump || m.cfg.SequencesInDoubt()) && !v2
	// Called again after its EndTxn was answered (its ctx ended while it
	// asked for the new epoch), the abort sends none again (endAnswered).
	if end && !answered {
		if err := m.endAborting(ctx, onlyUnanswered); err != nil {
			return false, m.abortEndFailed(err)
		}
		m.mu.Lock()
		m.endAnswered = true
		m.mu.Unlock()
	}
	// A request of the transaction that went unanswered, the EndTxn's
	// own attempts included, may reach the coordinator late: with v1 a
	// new epoch fences it. A move to v2 needs one too.
	m.learnNextProtocol()
	late := m.newEpochNeeded()
	if newID || late {
		if err := m.newEpoch(ctx); err != nil {
			return true, m.coordinatorFailed("AbortTransaction", abortNewEpochFailed(err, closing))
		}
	}
	if err := m.finish(); err != nil {
		return false, fmt.Errorf("AbortTransaction: %w", err)
	}
	return false, nil
}

// abortNewEpochFailed is the error of an abort that ended the transaction
// and then failed to get its new epoch (err): the words say the first,
// which the caller, told only err, would take for a failed abort. The
// Java client's abort fails with the InitProducerId's error alone there.
// The advice to call again is left out when err ends the producer, and
// for Close, after which no call comes.
func abortNewEpochFailed(err error, closing bool) error {
	if closing || coordinatorEndsProducer(err) {
		return fmt.Errorf("the transaction was aborted, but getting the new epoch that fences its late requests failed: %w", err)
	}
	return fmt.Errorf("the transaction was aborted, but getting the new epoch that fences its late requests failed: call AbortTransaction again to get it: %w", err)
}

// endAborting sends the abort's EndTxn.
// onlyUnanswered: with v1, nothing was added to the transaction but by
// requests that went unanswered, which may not have landed.
func (m *Manager) endAborting(ctx context.Context, onlyUnanswered bool) error {
	err := m.endTxn(ctx, false)
	if errors.Is(err, kerr.InvalidTxnState) && onlyUnanswered {
		// Those requests had not landed: the coordinator has no
		// transaction of this epoch under way (it is Empty, or at the
		// last one's commit), and none to abort. Had one landed, it would
		// have taken the abort.
		m.cfg.Logger.Debug("no transaction at the coordinator to abort", "transactional_id", m.cfg.TransactionalID, "err", err)
		return nil
	}
	return err
}

// abortEndFailed books an abort whose EndTxn failed with err. Answered
// TRANSACTION_ABORTABLE (EndTxn v4+, KIP-890), the coordinator did not end
// the transaction, which is still to abort: the error wraps ErrAbortable,
// as the Java client raises it, and the abort called again sends its
// EndTxn again. Fencing, or what else ends the producer, stops it, and so
// does any other refusal no retry heals, as the Java client's
// EndTxnHandler has unexpected codes. UNKNOWN_PRODUCER_ID too, which Java
// leaves abortable, then ends the transaction with a new epoch from
// InitProducerId in place of the EndTxn: called again, this abort would
// send the same EndTxn and meet the same refusal, and a caller aborting
// on ErrAbortable would never be done. A ctx that ended, or the producer
// closing, leave the abort to be called again.
func (m *Manager) abortEndFailed(err error) error {
	if !refusedForGood(err) || coordinatorEndsProducer(err) {
		return m.coordinatorFailed("AbortTransaction", err)
	}
	if errors.Is(err, kerr.TransactionAbortable) {
		return fmt.Errorf("AbortTransaction: %w: the coordinator did not abort it: call AbortTransaction again: %w", ErrAbortable, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Errorf("AbortTransaction: %w", m.fatal(err))
}

// abortRecords fails the transaction's records not sent yet with
// ErrAborted: those held for their topic's metadata, those in batches, and
// those of the Produce calls admitted before the abort began, which it
// waits for: appended or held after it, unfailed, such a record would be
// sent in the next transaction. Failing the held records first ends their
// waits, which those Produce calls may be waiting behind.
func (m *Manager) abortRecords(ctx context.Context) error {
	m.cfg.FailHeld(ErrAborted)
	// AbortBatches also refuses appends until EndTransaction, ending their
	// waits for memory.
	m.cfg.AbortBatches(ErrAborted)
	if err := m.awaitProduce(ctx); err != nil {
		return err
	}
	m.cfg.FailHeld(ErrAborted) // those the Produce calls held meanwhile
	return nil
}

// flushForAbort waits until every record of the transaction has its
// outcome and its callback has run, so that Abort returns with each told.
// Once the producer closes from a record's callback (CloseFromCallback) it
// waits only for the outcomes: the callbacks queued behind the one closing
// wait for Close, whose own abort waits for this one. The outcomes are all
// the EndTxn needs: no request of the transaction is left in flight to be
// written after its markers.
func (m *Manager) flushForAbort(ctx context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopClosing := context.AfterFunc(m.closing, cancel)
	defer stopClosing()
	err := m.cfg.Flush(fctx)
	if err != nil && m.closing.Err() != nil && ctx.Err() == nil {
		return m.cfg.AwaitOutcomes(ctx)
	}
	return err
}
