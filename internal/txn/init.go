package txn

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/protocol"
)

// transactionVersionFeature is the feature whose level 2 turns
// transactions v2 on in a cluster (KIP-890, KIP-1022).
const transactionVersionFeature = "transaction.version"

// Init gets the producer its id and epoch from the transaction
// coordinator (InitProducerId with the transactional id), which also
// aborts a transaction a previous producer with the id left open and
// fences that producer. It learns whether the cluster speaks transactions
// v2, unless the coordinator's connection fails as it asks: the producer
// then speaks v1, which every coordinator takes, and asks again as each
// transaction ends (learnNextProtocol). A refusal no retry heals stops
// the producer (ErrFatal); a ctx that ends leaves it to be called again.
func (m *Manager) Init(ctx context.Context) error {
	if err := m.calls.lock(ctx, "InitTransactions"); err != nil {
		return err
	}
	defer m.calls.unlock()
	m.mu.Lock()
	if m.state != Uninitialized {
		defer m.mu.Unlock()
		return fmt.Errorf("%w: InitTransactions in state %v: it runs once", ErrState, m.state)
	}
	m.mu.Unlock()
	id, err := m.initProducerID(ctx, accumulator.ProducerID{ID: -1, Epoch: -1})
	if err != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		// Any refusal no retry heals stops the producer, as the Java
		// client's InitProducerIdHandler stops on the codes it does not
		// expect. It leaves TRANSACTION_ABORTABLE (InitProducerId v5+) and
		// CLUSTER_AUTHORIZATION_FAILED abortable, but before Init there is
		// no transaction to abort (AbortTransaction refuses): ErrAbortable
		// would send the caller to an abort that cannot come, and a denial
		// meets the same producer again. Only the ctx's end, or the
		// producer closing, leave Init to be called again.
		if coordinatorEndsProducer(err) || refusedForGood(err) {
			return m.fatal(err)
		}
		return fmt.Errorf("InitTransactions: %w", err)
	}
	b, probeErr := m.cfg.Coordinators.CoordinatorBroker(ctx, cluster.TransactionCoordinator, m.cfg.TransactionalID)
	m.mu.Lock()
	if probeErr == nil {
		m.learnProtocol(b)
	}
	// The first transaction starts on the epoch just given: it needs no
	// bump to speak v2.
	m.v2, m.switchBump = m.nextV2, false
	v2 := m.v2
	m.setState(Ready)
	m.mu.Unlock()
	if probeErr != nil {
		m.cfg.Logger.Info("transaction protocol not known yet: speaking v1 until a transaction ends", "transactional_id", m.cfg.TransactionalID, "err", probeErr)
	}
	m.cfg.SetProducerID(id)
	m.cfg.Logger.Info("transactions initialized", "transactional_id", m.cfg.TransactionalID,
		"producer_id", id.ID, "epoch", id.Epoch, "transactions_v2", v2)
	return nil
}

// initProducerID asks the coordinator for the producer's id and epoch;
// from is the current ones for a bump (KIP-360), or -1s for a fresh start.
func (m *Manager) initProducerID(ctx context.Context, from accumulator.ProducerID) (accumulator.ProducerID, error) {
	req := &protocol.InitProducerIdRequest{
		TransactionalID:      &m.cfg.TransactionalID,
		TransactionTimeoutMs: int32(m.cfg.Timeout.Milliseconds()),
		ProducerID:           from.ID,
		ProducerEpoch:        from.Epoch,
	}
	resp, _, err := m.call(ctx, cluster.TransactionCoordinator, m.cfg.TransactionalID, req, protocol.AllVersions, func(r protocol.Response) error {
		return code(protocol.InitProducerId, r.(*protocol.InitProducerIdResponse).ErrorCode)
	})
	if err != nil {
		return accumulator.ProducerID{}, err
	}
	r := resp.(*protocol.InitProducerIdResponse)
	return accumulator.ProducerID{ID: r.ProducerID, Epoch: r.ProducerEpoch}, nil
}

// newEpochNeeded reports whether the transaction must end with a new
// epoch: a v1 one a request of which went unanswered (unanswered), or one
// after which the producer moves from v1 to v2 (switchBump).
func (m *Manager) newEpochNeeded() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return (m.unanswered && !m.v2) || m.switchBump
}

// newEpoch gives the producer the next epoch of its id from the
// coordinator (InitProducerId with the current id and epoch, KIP-360).
// A coordinator before Kafka 2.5 (InitProducerId v2 and older) cannot be
// told them, and takes the request as a new instance's: it bumps the
// transactional id's epoch all the same, which fences every request under
// the old one, only without checking that the producer asking is still
// the current one.
func (m *Manager) newEpoch(ctx context.Context) error {
	current, _ := m.cfg.ProducerID()
	id, err := m.initProducerID(ctx, current)
	if err != nil {
		return err
	}
	m.cfg.SetProducerID(id)
	return nil
}

// speaksV2 reports whether the coordinator's cluster finalized
// transaction.version 2 and speaks the requests that need (EndTxn v5,
// Produce v12), as b tells.
func speaksV2(b Broker) bool {
	level, ok := b.FinalizedFeature(transactionVersionFeature)
	endTxn, err1 := b.Version(protocol.EndTxn)
	produce, err2 := b.Version(protocol.Produce)
	return ok && level >= 2 && err1 == nil && endTxn >= 5 && err2 == nil && produce >= 12
}

// learnNextProtocol reads, from the coordinator's live connection, the
// protocol the next transaction speaks, as the transaction ends, its
// EndTxn built at the protocol it began with, as the Java client's
// beginCompletingTransaction does (maybeUpdateTransactionV2Enabled). It
// does not dial or ask anyone: with no live connection the protocol is
// not known, and the producer keeps the one it speaks, to ask again at
// the next end.
func (m *Manager) learnNextProtocol() {
	b, ok := m.cfg.Coordinators.LiveCoordinatorBroker(cluster.TransactionCoordinator, m.cfg.TransactionalID)
	if !ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	was := m.nextV2
	m.learnProtocol(b)
	// From v1 to v2 the next transaction starts under a new epoch, as the
	// Java client's does (clientSideEpochBumpRequired): v1 kept one epoch
	// across transactions, and the coordinator must not take a request
	// of the v1 transactions, late, as one of the first v2 one. From v2
	// down to v1 the EndTxn v5 just answered gave the next transaction
	// its new epoch already.
	// Once booked, the bump stays asked for until the transaction
	// finishes: one that reached the coordinator unanswered (the commit's
	// ctx ended) moved its epoch on, whatever the features say at the
	// commit called again. A bump the producer did not need does no harm.
	m.switchBump = m.switchBump || m.nextV2 && !m.v2
	if was != m.nextV2 {
		m.cfg.Logger.Info("transaction protocol changes from the next transaction", "transactional_id", m.cfg.TransactionalID, "transactions_v2", m.nextV2)
	}
}

// learnProtocol takes the next transaction's protocol from b, unless b's
// features are older than those it was last taken from: a connection
// keeps the features its broker told when it was dialed, and one dialed
// before the cluster finalized transaction.version (or changed it again)
// tells the old level. m.mu must be held.
func (m *Manager) learnProtocol(b Broker) {
	epoch := b.FinalizedFeaturesEpoch()
	if m.protocolKnown && epoch <= m.featuresEpoch {
		return
	}
	m.nextV2, m.featuresEpoch, m.protocolKnown = speaksV2(b), epoch, true
}

// Begin starts a transaction: records may be produced until Commit or
// Abort. While another call is under way there is none to begin (the
// manager is not ready, or will not be until that call ends): Begin then
// fails with ErrState rather than wait, having no ctx to bound the wait.
func (m *Manager) Begin() error {
	if !m.calls.tryLock() {
		return fmt.Errorf("%w: BeginTransaction while another transaction call is under way", ErrState)
	}
	defer m.calls.unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.state {
	case Ready:
		m.setState(InTransaction)
		m.started, m.begun, m.maybeBegun = false, false, false
		m.failed, m.signalFail = context.WithCancel(context.Background())
		return nil
	case FatalError, AbortableError:
		return m.lastErr
	case Aborting:
		// An abort cut short by its ctx, perhaps called with its error
		// ignored: only it can end the transaction.
		return m.refused("BeginTransaction", "the last AbortTransaction did not finish: call it again")
	case Committing:
		return m.refused("BeginTransaction", "the last CommitTransaction did not finish: call it again")
	}
	return m.refused("BeginTransaction", "")
}
