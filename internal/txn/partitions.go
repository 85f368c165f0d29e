package txn

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/ctxerr"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// maxAddPartitionsVersion is the newest AddPartitionsToTxn a client sends:
// v4 and later are for brokers verifying transactions (KIP-890).
const maxAddPartitionsVersion = 3

// Admit is the accumulator's question before a partition's first batch of
// the transaction leaves: with transactions v1 the partition must be added
// to the transaction first, so the first ask of a partition starts adding
// it (on a goroutine of the manager's) and answers false; the accumulator
// is told through Wake once it is added. With v2 the Produce request adds
// it. A transaction that can no longer commit refuses it, with why: its
// batches would wait for the abort, and a Flush with them, where they can
// only fail (the Java client fails them likewise). It runs under the
// partition's lock: it only books and starts.
func (m *Manager) Admit(tp accumulator.TopicPartition) (admitted bool, refused error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case InTransaction, Committing:
	case AbortableError, FatalError:
		return false, m.forRecordOf(tp)
	default:
		return false, nil // an abort fails what waits
	}
	m.started = true
	if m.v2 || m.added[tp] {
		return true, nil
	}
	if m.adding[tp] {
		// Asked again (another batch of the partition drained) while its
		// AddPartitionsToTxn is under way: Wake tells once it is added.
		// Queued again, it would cost the coordinator another round trip.
		return false, nil
	}
	m.pending[tp] = true
	if m.adderDone == nil {
		m.adderDone = make(chan struct{})
		go m.addPartitions(m.adderDone)
	}
	return false, nil
}

// addPartitions adds the partitions waiting to the transaction, in as few
// AddPartitionsToTxn requests as their arrival allows, and wakes them. It
// stops, closing done, when none waits or the transaction no longer takes
// partitions: one added once an abort has begun could reach the
// coordinator after the abort's EndTxn, and there begin a transaction that
// nobody ends.
func (m *Manager) addPartitions(done chan struct{}) {
	for {
		m.mu.Lock()
		if len(m.pending) == 0 || (m.state != InTransaction && m.state != Committing) {
			clear(m.pending) // what waits fails with the transaction
			m.adderDone = nil
			close(done)
			m.mu.Unlock()
			return
		}
		parts := make([]accumulator.TopicPartition, 0, len(m.pending))
		for tp := range m.pending {
			parts = append(parts, tp)
			m.adding[tp] = true
		}
		clear(m.pending)
		id, _ := m.cfg.ProducerID()
		gen := m.gen
		m.mu.Unlock()

		unanswered, err := m.addToTransaction(id, parts)

		m.mu.Lock()
		// Only this goroutine books partitions as being added, one
		// request at a time: what it booked is parts, or nothing if the
		// transaction finished meanwhile (finish clears it).
		clear(m.adding)
		if gen != m.gen {
			// The transaction ended meanwhile (aborted): nothing to book.
			m.mu.Unlock()
			continue
		}
		m.bookAdded(err, unanswered)
		switch {
		case err == nil:
			for _, tp := range parts {
				m.added[tp] = true
			}
		case coordinatorEndsProducer(err):
			m.fatal(err)
		default:
			m.abortable(err)
		}
		m.mu.Unlock()
		if err != nil {
			// What waits to be added can never be sent in this transaction.
			m.cfg.FailUnsent(m.addingFailed)
			continue
		}
		for _, tp := range parts {
			m.cfg.Wake(tp)
		}
	}
}

// adderStopped waits until no AddPartitionsToTxn is under way, so that the
// EndTxn that follows reaches the coordinator after it: an addition coming
// after the end would begin another transaction. It waits no longer once
// the producer has stopped, which sends no EndTxn: the caller tells the
// fatal state (an adder retrying a coordinator that does not answer would
// keep it waiting until its ctx ended).
func (m *Manager) adderStopped(ctx context.Context) error {
	m.mu.Lock()
	done := m.adderDone
	m.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-m.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("partitions still being added to the transaction: %w", ctxerr.Of(ctx))
	}
}

// AwaitAdder waits until the goroutine adding partitions, if one runs, has
// stopped, without a bound: it is for the producer's Close, once the
// manager's Context has ended and the connections are closed, when the
// adder stops at once. Its request fails as its ctx, the Context, ends
// (a connection closed fails it too), and it neither retries nor backs
// off once the Context has ended (gaveUp); nor does another adder start,
// as Admit is asked only for a batch about to be sent, and Close has
// failed every batch and takes no more. The adder's last steps (booking
// its failure, failing batches not sent) thus come before Close returns,
// and no goroutine of the transaction outlives it.
func (m *Manager) AwaitAdder() {
	m.mu.Lock()
	done := m.adderDone
	m.mu.Unlock()
	if done != nil {
		<-done
	}
}

// addingFailed is the error of a batch of tp that failed, never sent, as
// adding partitions to the transaction failed. An abort that began before
// the failure leaves the transaction no error of its own (it fails what
// waits with ErrAborted): such a batch fails as the abort's do.
func (m *Manager) addingFailed(tp accumulator.TopicPartition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cause := m.forRecordOf(tp)
	if cause == nil {
		return ErrAborted
	}
	return fmt.Errorf("adding partitions to the transaction: %w", cause)
}

// stateErr is the error of an abortable or fatal state.
func (m *Manager) stateErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// addToTransaction sends AddPartitionsToTxn for parts, retrying what may
// heal. It reports whether an attempt went unanswered (call's): failed, the
// coordinator may have added them all the same.
func (m *Manager) addToTransaction(id accumulator.ProducerID, parts []accumulator.TopicPartition) (unanswered bool, err error) {
	slices.SortFunc(parts, func(a, b accumulator.TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return int(a.Partition - b.Partition)
	})
	req := &protocol.AddPartitionsToTxnRequest{
		V3AndBelowTransactionalID: m.cfg.TransactionalID,
		V3AndBelowProducerID:      id.ID,
		V3AndBelowProducerEpoch:   id.Epoch,
	}
	for _, tp := range parts {
		if n := len(req.V3AndBelowTopics); n == 0 || req.V3AndBelowTopics[n-1].Name != tp.Topic {
			req.V3AndBelowTopics = append(req.V3AndBelowTopics, protocol.AddPartitionsToTxnRequestTopic{Name: tp.Topic})
		}
		t := &req.V3AndBelowTopics[len(req.V3AndBelowTopics)-1]
		t.Partitions = append(t.Partitions, tp.Partition)
	}
	_, unanswered, err = m.call(m.cfg.Context, cluster.TransactionCoordinator, m.cfg.TransactionalID, req, protocol.VersionRange{Max: maxAddPartitionsVersion},
		func(r protocol.Response) error {
			return addPartitionsError(r.(*protocol.AddPartitionsToTxnResponse), parts)
		})
	return unanswered, err
}

// addPartitionsError is the error of an AddPartitionsToTxn answer to
// parts: the first partition error that is not OPERATION_NOT_ATTEMPTED
// (which says only that another partition's failure stopped the request),
// or a partition the answer left out (errLeftOut: taken as added, its
// batches would go to a partition the coordinator never heard of, left
// without a marker at the transaction's end).
func addPartitionsError(r *protocol.AddPartitionsToTxnResponse, parts []accumulator.TopicPartition) error {
	if err := code(protocol.AddPartitionsToTxn, r.ErrorCode); err != nil {
		return err
	}
	var notAttempted error
	answered := make(map[accumulator.TopicPartition]bool, len(parts))
	for _, t := range r.ResultsByTopicV3AndBelow {
		for _, p := range t.ResultsByPartition {
			answered[accumulator.TopicPartition{Topic: t.Name, Partition: p.PartitionIndex}] = true
			err := kerr.ForCode(p.PartitionErrorCode)
			switch {
			case err == nil:
			case errors.Is(err, kerr.OperationNotAttempted):
				notAttempted = err
			default:
				tp := accumulator.TopicPartition{Topic: t.Name, Partition: p.PartitionIndex}
				return newPartitionCause(tp, "AddPartitionsToTxn: %s", "AddPartitionsToTxn", err)
			}
		}
	}
	if notAttempted != nil {
		return fmt.Errorf("AddPartitionsToTxn: %w", notAttempted)
	}
	for _, tp := range parts {
		if !answered[tp] {
			return fmt.Errorf("AddPartitionsToTxn: %s-%d: %w", tp.Topic, tp.Partition, errLeftOut)
		}
	}
	return nil
}
