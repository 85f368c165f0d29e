package txn

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/protocol"
)

// Commit commits the transaction: it waits until every record produced in
// it has its outcome, then asks the coordinator to commit (EndTxn). A
// transaction with a failed record cannot commit, nor one whose EndTxn the
// coordinator answers TRANSACTION_ABORTABLE: Commit then returns an error
// wrapping ErrAbortable. One answered INVALID_PRODUCER_ID_MAPPING (the
// coordinator no longer knows the transactional id) stops the producer
// (ErrFatal), as the Java client's since Kafka 4.0. Nor one whose offsets
// a failed SendOffsets may have left out: Commit refuses with ErrState,
// changing nothing, until SendOffsets succeeds for them. A commit whose
// transaction fails, before the call or while it waits, returns at once,
// waiting no longer for the other records, nor for any callback (the
// failed record's may still be queued): the caller must abort anyway, and
// Abort waits for them all (flushForAbort). If ctx ends while it
// waits for the records, Commit may be called again, or Abort: nothing was
// committed. Once its EndTxn was sent, a commit whose ctx ends, or an
// attempt of which goes unanswered, leaves the outcome unknown, the
// coordinator perhaps having committed the transaction: only
// Commit, called again, ends it, sending EndTxn(commit) again, which a
// coordinator that committed answers as it did the first (Kafka's
// TransactionCoordinator, kfake); Abort refuses, as the Java client's does.
// A refusal the coordinator answered to every attempt, with a code no
// retry heals, says it did not commit, and stops the producer (ErrFatal),
// as the Java client's EndTxnHandler stops on the codes it does not expect
// (commitEndFailed).
// A transaction with nothing at the coordinator (nothing produced; with
// transactions v1, nothing added to it) commits without EndTxn. With v1,
// a transaction a request of which to the coordinator went unanswered
// (unanswered) ends with a new epoch, which fences that request should
// the coordinator handle it late: v1 keeps the epoch from one transaction
// to the next, and a late EndTxn would end the next one. A commit cut
// short as it asks for the epoch has committed, and says so; called again
// it asks for the epoch alone (endAnswered).
// Told by CloseFromCallback that the producer is closing, a commit that has
// not sent its EndTxn stops waiting and fails with the cause
// CloseFromCallback was given: the transaction is left to Close's abort.
func (m *Manager) Commit(ctx context.Context) error {
	if err := m.calls.lock(ctx, "CommitTransaction"); err != nil {
		return err
	}
	defer m.calls.unlock()
	m.mu.Lock()
	switch m.state {
	case InTransaction, Committing:
		if err := m.offsetsMissing(); err != nil {
			defer m.mu.Unlock()
			return err
		}
		m.setState(Committing)
	case AbortableError, FatalError:
		defer m.mu.Unlock()
		return m.lastErr
	default:
		defer m.mu.Unlock()
		return m.refused("CommitTransaction", "BeginTransaction first")
	}
	failed := m.failed
	m.mu.Unlock()
	flushErr := m.flushUnlessFailed(ctx, failed)
	if err := m.commitFailed(); err != nil { // a record failed
		return err
	}
	if err := m.stoppedByClose(); err != nil {
		return err
	}
	if flushErr != nil {
		return fmt.Errorf("CommitTransaction: records without an outcome: %w", flushErr)
	}
	if err := m.adderStopped(ctx); err != nil {
		return fmt.Errorf("CommitTransaction: %w", err)
	}
	if err := m.commitFailed(); err != nil { // a partition could not be added
		return err
	}
	m.mu.Lock()
	end, answered := m.endNeeded(), m.endAnswered
	m.mu.Unlock()
	// With nothing at the coordinator (nothing produced; v1: nothing
	// added) the commit is done without EndTxn, as the Java client's is.
	// Called again after its EndTxn was answered (its ctx ended while it
	// asked for the new epoch), the commit sends none again.
	if end && !answered {
		if err := m.stoppedByClose(); err != nil {
			return err
		}
		m.sendingCommit()
		if err := m.endTxn(ctx, true); err != nil {
			return m.commitEndFailed(err)
		}
		m.mu.Lock()
		m.endAnswered = true
		m.mu.Unlock()
	}
	m.learnNextProtocol()
	if m.newEpochNeeded() {
		if err := m.newEpoch(ctx); err != nil {
			return m.coordinatorFailed("CommitTransaction", newEpochFailed(err))
		}
	}
	if err := m.finish(); err != nil {
		return fmt.Errorf("CommitTransaction: the transaction committed, but the producer stopped meanwhile: %w", err)
	}
	return nil
}

// commitEndFailed books a commit whose EndTxn failed with err.
// TRANSACTION_ABORTABLE leaves the transaction to abort, and fencing, or
// what else ends the producer (coordinatorEndsProducer), stops it. Another
// refusal the coordinator answered to every attempt (refusedForGood, none
// unanswered: commitUnanswered) says it did not commit: the coordinator
// refuses before it prepares the commit, or undoes that step when it
// cannot write it. It stops the producer, as the Java client's
// EndTxnHandler stops on the codes it does not expect; told the outcome
// is unknown, a caller would commit again, meet the same refusal, and
// find the abort refused. UNKNOWN_PRODUCER_ID too, which the Java client
// leaves to an abort that ends the transaction with a new epoch in place
// of an EndTxn: the abort here sends EndTxn, which would meet the same
// refusal (see abortEndFailed). An attempt unanswered, the ctx ended or
// the producer closed leave the outcome unknown: the coordinator may have
// committed the transaction.
func (m *Manager) commitEndFailed(err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	answered := refusedForGood(err) && !m.commitUnanswered
	switch {
	case cannotCommit(err):
		m.abortable(err)
		return fmt.Errorf("CommitTransaction: %w", m.lastErr)
	case errors.Is(err, ErrFatal):
		return fmt.Errorf("CommitTransaction: %w", err)
	case coordinatorEndsProducer(err) || answered:
		return fmt.Errorf("CommitTransaction: %w", m.fatal(err))
	}
	return fmt.Errorf("CommitTransaction: the commit was sent and may have committed the transaction; its outcome is unknown: call CommitTransaction again to learn it: %w", err)
}

// newEpochFailed is the error of a commit whose new epoch did not come
// (err): the transaction committed, and unless the coordinator refused
// the epoch for good (fencing, or no version of the request it speaks,
// which stop the producer), a commit called again gets it.
func newEpochFailed(err error) error {
	if coordinatorEndsProducer(err) {
		return fmt.Errorf("the transaction committed, but getting the new epoch that fences its late requests failed: %w", err)
	}
	return fmt.Errorf("the transaction committed, but getting the new epoch that fences its late requests failed: call CommitTransaction again to get it: %w", err)
}

// commitFailed is the error of a commit whose transaction can no longer
// commit (abortable or fatal), nil while it still can.
func (m *Manager) commitFailed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != Committing {
		return m.lastErr
	}
	return nil
}

// CloseFromCallback tells the calls under way or still to come that the
// producer is closing from a record's callback: Close's abort waits for
// them, and the callbacks queued behind the one closing wait for Close, so
// none may wait for those callbacks.
//   - A commit that has not sent its EndTxn fails with cause rather than
//     wait for its records; one whose EndTxn was sent goes on, as its round
//     trip waits for no callback.
//   - An abort waits for its records' outcomes, which its EndTxn needs, but
//     no longer for their callbacks.
func (m *Manager) CloseFromCallback(cause error) {
	m.markClosing(cause)
}

// stoppedByClose is the error of a commit told by CloseFromCallback to give
// up.
func (m *Manager) stoppedByClose() error {
	if m.closing.Err() == nil {
		return nil
	}
	return fmt.Errorf("CommitTransaction: the producer is closing; the transaction was not committed, Close aborts it: %w", context.Cause(m.closing))
}

// sendingCommit books that the commit's EndTxn is about to leave: from now
// on the transaction may be committed, whatever becomes of the answer.
func (m *Manager) sendingCommit() {
	m.mu.Lock()
	m.commitSent = true
	m.mu.Unlock()
}

// coordinatorFailed books a failed EndTxn or InitProducerId: fencing, or
// a coordinator that speaks no version the request can go at, ends the
// producer; anything else (the context ended) leaves the call to be made
// again. An err that stopped because the producer had stopped already
// wraps its fatal error, and keeps its own words, which say what the call
// had done by then ("the transaction committed, but ...").
func (m *Manager) coordinatorFailed(call string, err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if coordinatorEndsProducer(err) && !errors.Is(err, ErrFatal) {
		return fmt.Errorf("%s: %w", call, m.fatal(err))
	}
	return fmt.Errorf("%s: %w", call, err)
}

// endTxn asks the coordinator to commit or abort, and books an attempt
// that went unanswered, which the coordinator may handle late
// (unanswered). With transactions v2 the answer carries the epoch the next
// transaction uses.
func (m *Manager) endTxn(ctx context.Context, commit bool) error {
	id, _ := m.cfg.ProducerID()
	req := &protocol.EndTxnRequest{TransactionalID: m.cfg.TransactionalID, ProducerID: id.ID, ProducerEpoch: id.Epoch, Committed: commit}
	versions := protocol.VersionRange{Max: 4} // v5 is transactions v2's
	if m.V2() {
		// And v2 needs it: a v4 end would take no new epoch.
		versions = protocol.VersionRange{Min: 5, Max: 5}
	}
	check := func(r protocol.Response) error { return code(protocol.EndTxn, r.(*protocol.EndTxnResponse).ErrorCode) }
	call := m.call
	if commit {
		// Its answer says whether the transaction committed, which the
		// commit tells even if the producer stopped meanwhile.
		call = m.callToItsAnswer
	}
	resp, unanswered, err := call(ctx, cluster.TransactionCoordinator, m.cfg.TransactionalID, req, versions, check)
	m.mu.Lock()
	m.unanswered = m.unanswered || unanswered
	m.commitUnanswered = m.commitUnanswered || (commit && unanswered)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	if r := resp.(*protocol.EndTxnResponse); m.V2() && r.ProducerID >= 0 {
		m.cfg.SetProducerID(accumulator.ProducerID{ID: r.ProducerID, Epoch: r.ProducerEpoch})
	}
	return nil
}

// flushUnlessFailed waits until every record produced so far has its
// outcome, unless ctx ends, the transaction fails or the producer closes
// (CloseFromCallback) first. Those still being appended are waited for
// after a first flush, which sends what holds the memory they may be
// waiting for, and a second flush sends them.
func (m *Manager) flushUnlessFailed(ctx, failed context.Context) error {
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopFailed := context.AfterFunc(failed, cancel)
	defer stopFailed()
	stopClosing := context.AfterFunc(m.closing, cancel)
	defer stopClosing()
	if err := m.cfg.Flush(fctx); err != nil {
		return err
	}
	if err := m.awaitProduce(fctx); err != nil {
		return err
	}
	return m.cfg.Flush(fctx)
}

// signalFailure tells a commit waiting for records that the transaction
// can no longer commit. m.mu must be held.
func (m *Manager) signalFailure() {
	if m.signalFail != nil {
		m.signalFail()
	}
}

// finish ends the transaction on the producer's side: ready for the next,
// unless the producer stopped meanwhile (setState never leaves
// FatalError), whose error it returns.
func (m *Manager) finish() error {
	m.mu.Lock()
	m.signalFailure() // releases the transaction's context
	m.setState(Ready)
	if m.state == Ready {
		m.lastErr, m.lastCause = nil, nil
	}
	clear(m.added)
	clear(m.pending)
	clear(m.adding)
	clear(m.missingOffsets)
	m.offsetsFailure = nil
	m.started, m.begun, m.maybeBegun = false, false, false
	m.bump, m.commitSent, m.commitUnanswered, m.endAnswered = false, false, false, false
	m.unanswered = false
	m.v2, m.switchBump = m.nextV2, false
	m.gen++
	err := m.lastErr
	m.mu.Unlock()
	m.cfg.EndTransaction()
	return err
}
