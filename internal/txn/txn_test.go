package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestProduceOnlyInsideATransaction(t *testing.T) {
	r := newRig(t, false)
	require.ErrorIs(t, r.m.CheckProduce(), ErrState, "before Init")
	require.ErrorIs(t, r.m.Begin(), ErrState, "Begin before Init")
	require.NoError(t, r.m.Init(context.Background()))
	require.ErrorIs(t, r.m.CheckProduce(), ErrState, "before Begin")
	require.ErrorIs(t, r.m.Commit(context.Background()), ErrState, "commit with none begun")
	require.ErrorIs(t, r.m.Abort(context.Background()), ErrState, "abort with none begun")
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.CheckProduce())
	require.ErrorIs(t, r.m.Begin(), ErrState, "a second Begin")
}

// Before InitTransactions every other call is refused, and each refusal
// says to call InitTransactions first: one that said "BeginTransaction
// first" sent a service that forgot InitTransactions to BeginTransaction,
// which refused it in turn without saying why.
func TestEveryCallBeforeInitSaysInitTransactionsFirst(t *testing.T) {
	r := newRig(t, false)
	calls := []struct {
		name string
		call func() error
	}{
		{"Produce", r.m.CheckProduce},
		{"BeginTransaction", r.m.Begin},
		{"CommitTransaction", func() error { return r.m.Commit(context.Background()) }},
		{"AbortTransaction", func() error { return r.m.Abort(context.Background()) }},
		{"SendOffsetsToTransaction", func() error {
			return r.m.SendOffsets(context.Background(), []Offset{{Topic: "t", Offset: 1}}, Group{ID: "g"})
		}},
	}
	for _, c := range calls {
		err := c.call()
		require.ErrorIs(t, err, ErrState, "%s before InitTransactions", c.name)
		require.ErrorContains(t, err, "InitTransactions first", "%s before InitTransactions", c.name)
		require.NotContains(t, err.Error(), "BeginTransaction first", "%s before InitTransactions", c.name)
	}
	require.Equal(t, Uninitialized, r.state(), "the refusals changed nothing")
	require.Empty(t, r.coords.apis(), "the refusals sent nothing")
}

// A transaction that must be aborted refuses every record until it is,
// whatever broker error made it fail: the refusal keeps that error as its
// cause, but is no retriable error, where kerr.IsRetriable said it was for
// a cause such as NOT_ENOUGH_REPLICAS, and a caller retrying on it produced
// records that failed again until AbortTransaction.
func TestATransactionThatMustBeAbortedIsNoRetriableError(t *testing.T) {
	r := initialized(t, true)
	r.m.RecordFailed(tp0, fmt.Errorf("delivery timeout; last error: %w", kerr.NotEnoughReplicas))
	admitted, refused := r.m.Admit(tp0)
	require.False(t, admitted)
	require.ErrorIs(t, refused, ErrAbortable)
	require.ErrorIs(t, refused, kerr.NotEnoughReplicas, "the cause is kept")
	require.False(t, kerr.IsRetriable(refused), "refused: %v", refused)
	require.False(t, kerr.IsRetriable(fmt.Errorf("%w: %w", ErrFatal, kerr.NotEnoughReplicas)))
}

func TestAFailedRecordMeansAbort(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.NotEnoughReplicas)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")

	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	r.mu.Lock()
	require.Len(t, r.aborted, 1)
	require.ErrorIs(t, r.aborted[0], ErrAborted, "the records not sent, or waiting to be sent again, fail")
	r.mu.Unlock()
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:],
		"v1: the abort, then a new epoch, since a failed batch's sequence is in doubt (KIP-360)")
	require.False(t, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerID == -1, "the bump names the current id")
	require.Equal(t, epoch+1, r.producerID().Epoch)
	require.Equal(t, Ready, r.state())
}

// A failed batch's bump is its own transaction's: the v1 abort that ends
// it takes the new epoch, and the next transaction's abort, nothing having
// failed, keeps the epoch. Carried over, the bump would make every later
// abort ask the coordinator for an epoch nothing needs, a round trip each,
// and use up the epochs of the producer id.
func TestAFailedBatchsBumpEndsWithItsTransaction(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.InitProducerId, r.coords.last().req.Key(), "the abort of the failed batch's transaction")
	require.Equal(t, epoch+1, r.producerID().Epoch)

	require.NoError(t, r.m.Begin())
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.EndTxn, r.coords.last().req.Key(), "the next transaction's abort asked for a new epoch")
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

// A record that fails while an abort waits for the transaction's records
// (a batch in flight, say) leaves the transaction Aborting: it is being
// aborted already. Broken, the failure moved it to AbortableError, and
// after an abort cut short by its ctx, BeginTransaction returned the
// record's error, as for a transaction not yet aborted, rather than say
// that the last AbortTransaction did not finish and must be called again.
func TestARecordFailingWhileAnAbortWaitsForTheRecordsLeavesItAborting(t *testing.T) {
	err := beginAfterAnAbortCutShort(t, func(r *rig) {
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		require.Equal(t, Aborting, r.state(), "the abort under way became %v", r.state())
	})
	require.ErrorIs(t, err, ErrState)
	require.Contains(t, err.Error(), "the last AbortTransaction did not finish: call it again")
}

func TestARecordRefusedBeforeBatchingMeansAbortWithoutANewEpoch(t *testing.T) {
	r := initialized(t, false)
	tooLarge := errors.New("record too large")
	r.m.RecordRejected(tp0, tooLarge)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, tooLarge)

	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId, "nothing was sent: no sequence is in doubt")
	require.Equal(t, epoch, r.producerID().Epoch)
	require.Equal(t, Ready, r.state())

	r.m.RecordRejected(tp0, tooLarge)
	require.Equal(t, Ready, r.state(), "outside a transaction a refusal is only the record's")
}

// A record failed, or refused, with ErrAborted belongs to an aborted
// transaction: one refused as it was appended after its transaction
// ended (EnterHeld) no longer makes the next one abortable.
func TestAbortedRecordsDoNotMakeTheNextAbortable(t *testing.T) {
	r := initialized(t, false)
	r.m.RecordFailed(tp0, ErrAborted)
	require.Equal(t, InTransaction, r.state())
	r.m.RecordRejected(tp0, fmt.Errorf("%w: the record waited for its topic's metadata until its transaction ended", ErrAborted))
	require.Equal(t, InTransaction, r.state(), "refused")
}

// A record refused while a commit waits for the transaction's records (a
// record that waited for its topic's metadata in vain, refused as the
// commit's flush runs, maybe from a callback) stops the commit, as one
// refused before it began does, and leaves no sequence in doubt.
func TestARecordRefusedDuringACommitStopsIt(t *testing.T) {
	r := initialized(t, false)
	refused := errors.New("no metadata within MaxBlock")
	r.duringFlush = func() { r.m.RecordRejected(tp0, refused) }
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, refused)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "no commit was asked for")
	r.duringFlush = nil
	require.NoError(t, r.m.Abort(context.Background()))
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId, "nothing was sent: no sequence is in doubt")
}

// A failure booked with no transaction open (a record the producer's Close
// failed after the abort, say) is the record's alone: it must not make the
// next transaction abortable before it begins.
func TestAFailureWithNoTransactionOpenSparesTheNext(t *testing.T) {
	r := initialized(t, false)
	require.NoError(t, r.m.Commit(context.Background()))
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.CheckProduce())
	require.NoError(t, r.m.Commit(context.Background()))
}

func TestASequenceLostNeedsAnAbortAndANewEpoch(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.m.EpochNeeded(tp0, kerr.OutOfOrderSequenceNumber)
	require.Equal(t, AbortableError, r.state())
	_, err := r.m.State()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber, "the error says why")
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, int16(1), r.producerID().Epoch, "v2: the abort's EndTxn gives the new epoch")
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId)
}

// v1: a partition whose sequences must restart (EpochNeeded) is itself
// the reason the abort takes a new epoch (InitProducerId): the manager
// books it, and does not count on the accumulator still reporting the
// partition's doubt when the abort asks (SequencesInDoubt, false here).
// Without the epoch, the partition could never send again.
func TestAV1SequenceLostGetsItsNewEpochFromTheAbort(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.EpochNeeded(tp0, kerr.OutOfOrderSequenceNumber)
	require.Equal(t, AbortableError, r.state())
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:])
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

func TestFencingIsFatal(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.coords.fail(protocol.EndTxn, kerr.ProducerFenced)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.Equal(t, FatalError, r.state())
	for _, call := range []func() error{r.m.Begin, r.m.CheckProduce,
		func() error { return r.m.Abort(context.Background()) },
		func() error { return r.m.Commit(context.Background()) }} {
		require.ErrorIs(t, call(), kerr.ProducerFenced, "every later call")
	}
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	require.Equal(t, FatalError, r.state())
}

func TestARecordFencedIsFatal(t *testing.T) {
	r := initialized(t, false)
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	require.ErrorIs(t, r.m.CheckProduce(), ErrFatal)
}

// A record of the transaction refused CLUSTER_AUTHORIZATION_FAILED or
// UNSUPPORTED_VERSION by its partition's leader stops the producer, as it
// stops the Java client's (TransactionManager.maybeTransitionToErrorState):
// aborting would not let it write again. Before, the transaction was left
// to abort, and the next one met the same refusal.
func TestARecordRefusedForClusterAuthorizationOrVersionIsFatal(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ClusterAuthorizationFailed, kerr.UnsupportedVersion} {
		t.Run(code.Name, func(t *testing.T) {
			r := initialized(t, false)
			r.addedToTheTransaction(false)
			// As the sender stops the producer for the answer.
			r.m.RecordFailed(tp0, fmt.Errorf("%w: ...: broker 0: %w", accumulator.ErrProducerStopped, code))
			require.Equal(t, FatalError, r.state())
			for _, call := range []func() error{r.m.Begin, r.m.CheckProduce,
				func() error { return r.m.Abort(context.Background()) }} {
				err := call()
				require.ErrorIs(t, err, ErrFatal, "every later call")
				require.ErrorIs(t, err, code, "every later call")
			}
		})
	}
}

// A record whose delivery timed out while its partition's last error was
// UNSUPPORTED_VERSION (a broker refused ApiVersions) or
// CLUSTER_AUTHORIZATION_FAILED leaves the transaction to abort, as any
// timeout does: only a Produce answer carrying those stops the producer.
func TestATimeoutQuotingAnErrorThatStopsOnAnswerOnlyLeavesTheTransactionToAbort(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ClusterAuthorizationFailed, kerr.UnsupportedVersion} {
		t.Run(code.Name, func(t *testing.T) {
			r := initialized(t, false)
			r.addedToTheTransaction(false)
			r.m.RecordFailed(tp0, fmt.Errorf("%w: ...; the partition's last error: broker 0: %w", accumulator.ErrDeliveryTimeout, code))
			require.Equal(t, AbortableError, r.state())
		})
	}
}

// A coordinator that timed the transaction out aborted it under a new
// epoch. The producer's records fail with INVALID_PRODUCER_EPOCH, which
// leaves the transaction to abort; but under transactions v1 the abort's
// EndTxn, under the old epoch, is answered PRODUCER_FENCED (Kafka 2.7+;
// INVALID_PRODUCER_EPOCH before), as another producer taking over the id is
// answered, and the producer stops, as the Java client's does. It asks for
// no new epoch then: the coordinator, which forgot the old epoch at the
// timeout, would refuse it too.
func TestAV1TransactionTheCoordinatorTimedOutIsFatalAtItsAbort(t *testing.T) {
	for _, answer := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerEpoch} {
		r := initialized(t, false)
		r.addedToTheTransaction(false)
		r.coords.timeOut()
		r.m.RecordFailed(tp0, kerr.InvalidProducerEpoch)
		require.Equal(t, AbortableError, r.state(), "an epoch refused on a record: abortable, not fatal")
		if answer != kerr.ProducerFenced { // the fake's own answer to an old epoch
			r.coords.fail(protocol.EndTxn, answer)
		}
		sent := len(r.coords.apis())
		err := r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrFatal, "EndTxn answered %v", answer.Name)
		require.ErrorIs(t, err, kerr.ProducerFenced, "EndTxn answered %v", answer.Name)
		require.ErrorIs(t, err, answer)
		require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[sent:], "EndTxn answered %v: no InitProducerId after", answer.Name)
		require.Equal(t, FatalError, r.state())
	}
}
