package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestCommitFlushesThenEnds(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		require.NoError(t, r.m.Commit(context.Background()))
		require.Equal(t, Ready, r.state())
		require.Equal(t, 2, r.flushed, "a flush, then one for the records still being appended after it")
		require.Equal(t, 1, r.ended, "the partitions must be added anew next time")
		end := r.coords.last()
		require.False(t, end.req.(*protocol.EndTxnRequest).Committed == false)
		if v2 {
			require.Equal(t, int16(5), end.versions.Max)
			require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 1}, r.producerID(), "v2: every transaction ends with a new epoch")
		} else {
			require.Equal(t, int16(4), end.versions.Max)
			require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 0}, r.producerID())
		}
		require.NoError(t, r.m.Begin(), "the next transaction")
	}
}

func TestAnEmptyTransactionSendsNoEndTxn(t *testing.T) {
	r := initialized(t, true)
	require.NoError(t, r.m.Commit(context.Background()))
	require.NotContains(t, r.coords.apis(), protocol.EndTxn)
}

func TestACommitWhoseFlushEndsEarlyMayBeTriedAgain(t *testing.T) {
	r := initialized(t, false)
	r.admit(tp0)
	r.flushErr = context.DeadlineExceeded
	require.ErrorIs(t, r.m.Commit(context.Background()), context.DeadlineExceeded)
	require.Equal(t, Committing, r.state())
	r.flushErr = nil
	require.NoError(t, r.m.Commit(context.Background()))
}

// A commit cut short while it waits for its records sent no EndTxn:
// nothing was committed, and Abort ends the transaction.
func TestACommitCutShortBeforeItsEndTxnMayBeAborted(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.flushErr = context.DeadlineExceeded
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotContains(t, err.Error(), "outcome is unknown", "no commit was sent")
	r.flushErr = nil
	require.NoError(t, r.m.Abort(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "the abort's EndTxn")
	require.Equal(t, Ready, r.state())
}

// A commit whose ctx ends once its EndTxn is at the coordinator leaves the
// outcome unknown: the coordinator may have committed the transaction,
// and would then answer an abort INVALID_TXN_STATE, which is fencing (the
// producer would stop, and read_committed consumers see the "aborted"
// records). Abort refuses, sending nothing, and says to commit again; the
// commit asked for again ends the transaction, and the next one begins.
func TestAnAbortAfterACommitWasSentIsRefused(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		ctx, cancel := context.WithCancel(context.Background())
		g, committed := r.commitHeldAtEndTxn(t, ctx)
		cancel()
		err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		require.ErrorContains(t, err, "outcome is unknown: call CommitTransaction again")
		require.Equal(t, Committing, r.state())
		close(g.open) // the coordinator has the commit

		sent := len(r.coords.apis())
		err = r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrState, "v2=%v: an abort after the commit was sent", v2)
		require.ErrorContains(t, err, "may have committed the transaction; call CommitTransaction again")
		require.Len(t, r.coords.apis(), sent, "v2=%v: the abort sent nothing", v2)
		require.Equal(t, Committing, r.state())

		require.NoError(t, r.m.Commit(context.Background()), "v2=%v: the commit again", v2)
		r.coords.mu.Lock()
		end := r.coords.requests[sent].req.(*protocol.EndTxnRequest)
		r.coords.mu.Unlock()
		require.True(t, end.Committed, "v2=%v: EndTxn(commit) sent again", v2)
		require.Equal(t, Ready, r.state())
		require.Equal(t, int16(1), r.producerID().Epoch, "v2=%v: the transaction ends with the next epoch", v2)
		if v2 {
			require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn}, r.coords.apis()[sent-1:], "v2: the answer to the commit asked again gives it")
		} else {
			// The first EndTxn, unanswered, might reach the coordinator
			// in the next transaction: the new epoch fences it.
			require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn, protocol.InitProducerId}, r.coords.apis()[sent-1:], "v1: the bump after the commit asked again")
		}

		// The next transaction's commit, cut short before its EndTxn,
		// may be aborted: what was sent went with the transaction.
		require.NoError(t, r.m.Begin(), "v2=%v: the next transaction", v2)
		r.admit(tp0)
		r.flushErr = context.DeadlineExceeded
		require.ErrorIs(t, r.m.Commit(context.Background()), context.DeadlineExceeded)
		r.flushErr = nil
		require.NoError(t, r.m.Abort(context.Background()), "v2=%v: the next transaction's abort", v2)
	}
}

// An abort that must bump the epoch (v1, a record failed) is cut short while
// its InitProducerId is at the coordinator, which bumps the epoch though the
// answer is lost. Called again (AbortTransaction says it may be), or by
// Close, it sends no second EndTxn: under the old epoch the coordinator
// would answer it PRODUCER_FENCED and end the producer. It asks for the bump
// again, which the coordinator takes as a retry and answers with the epoch
// it gave (KIP-360), and the next transaction commits under it.
func TestAnAbortCalledAgainAfterItsEpochBumpWasCutShortSendsNoSecondEndTxn(t *testing.T) {
	for _, again := range []struct {
		name  string
		abort func(*Manager, context.Context) error
	}{{"Abort", (*Manager).Abort}, {"Close", (*Manager).Close}} {
		r := initialized(t, false)
		r.addedToTheTransaction(false)
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		epoch := r.producerID().Epoch
		g := r.coords.holdAnswers(protocol.InitProducerId)
		ctx, cancel := context.WithCancel(context.Background())
		aborted := make(chan error, 1)
		go func() { aborted <- r.m.Abort(ctx) }()
		bounded.Receive(t, g.arrived, waitTime, "no InitProducerId after the abort's EndTxn")
		cancel()
		err := bounded.Receive(t, aborted, waitTime, "Abort did not return after its ctx ended")
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, Aborting, r.state())
		close(g.open)

		sent := len(r.coords.apis())
		require.NoError(t, again.abort(r.m, context.Background()), "%s after the abort was cut short", again.name)
		require.Equal(t, []protocol.APIKey{protocol.InitProducerId}, r.coords.apis()[sent:], "%s: the bump alone", again.name)
		require.Equal(t, epoch, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerEpoch, "%s: the same bump asked again", again.name)
		require.Equal(t, epoch+1, r.producerID().Epoch, "%s: the epoch the coordinator gave the bump cut short", again.name)
		require.Equal(t, Ready, r.state())

		require.NoError(t, r.m.Begin(), "%s: the next transaction", again.name)
		require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond)
		require.NoError(t, r.m.Commit(context.Background()), "%s: the next transaction's commit", again.name)
	}
}

// With transactions v1 the coordinator has a transaction only once a
// partition or a group was added to it. When every AddPartitionsToTxn was
// refused, or the only AddOffsetsToTxn never left (its ctx had ended), it
// has none, and answers an abort's EndTxn INVALID_TXN_STATE, which would
// fence the producer: the abort sends none, as the Java client's does, and
// the producer goes on.
func TestV1AnAbortOfNothingAddedSendsNoEndTxn(t *testing.T) {
	offsets := []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}
	for how, addNothing := range map[string]func(t *testing.T, r *rig){
		"partition refused": func(t *testing.T, r *rig) {
			r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
			require.False(t, r.admit(tp0))
			require.Eventually(t, func() bool { return r.state() == AbortableError }, waitTime, time.Millisecond)
		},
		"offsets never sent": func(t *testing.T, r *rig) {
			r.coords.lost = fmt.Errorf("AddOffsetsToTxn: %w: %w", conn.ErrNotSent, context.Canceled)
			err := r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
			require.ErrorIs(t, err, conn.ErrNotSent)
			require.ErrorContains(t, err, "call it again, or AbortTransaction")
		},
	} {
		t.Run(how, func(t *testing.T) {
			r := initialized(t, false)
			addNothing(t, r)
			r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState) // as Kafka answers an abort of no transaction
			require.NoError(t, r.m.Abort(context.Background()))
			require.NotContains(t, r.coords.apis(), protocol.EndTxn, "EndTxn for a transaction the coordinator does not have")
			require.Equal(t, Ready, r.state())
			require.NoError(t, r.m.Begin(), "the next transaction")
		})
	}
}

// A v1 transaction whose only addition went unanswered may be at the
// coordinator, or not: the abort sends EndTxn, and an answer of
// INVALID_TXN_STATE says the addition never landed, nothing to abort; a new
// epoch fences it, should it land later. Once an addition succeeded, the
// same answer is fatal still.
func TestV1AnAbortOfOnlyUnansweredAdditionsMayFindNothingToAbort(t *testing.T) {
	r := initialized(t, false)
	g, err := r.sendOffsetsCutShortAt(protocol.AddOffsetsToTxn, []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, context.Canceled)
	close(g.open)

	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	require.NoError(t, r.m.Abort(context.Background()), "the AddOffsetsToTxn had not landed")
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:],
		"the abort asks, the addition perhaps having landed, and gets a new epoch, which fences it should it land late")
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Begin(), "the next transaction")

	r.addedToTheTransaction(false)
	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	require.ErrorIs(t, r.m.Abort(context.Background()), ErrFatal, "a partition was added: the coordinator has the transaction")
}

// With transactions v2 an abort's EndTxn answered INVALID_TXN_STATE is
// fatal: v1's excuse, that only additions the coordinator never answered
// were made and so there may be nothing to abort, is not v2's, which adds
// nothing. Broken, every such answer under v2 was taken for "nothing to
// abort": the abort succeeded and the next transaction began, though the
// coordinator had refused to end this one.
func TestV2AnAbortAnsweredInvalidTxnStateIsFatal(t *testing.T) {
	r := initialized(t, true)
	r.addedToTheTransaction(true)
	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	err := r.m.Abort(context.Background())
	require.ErrorIs(t, err, kerr.InvalidTxnState)
	require.ErrorIs(t, err, ErrFatal, "AbortTransaction: %v", err)
	require.Equal(t, FatalError, r.state())
}

// A record fails while the commit waits for the others, some of which can
// never be sent in this transaction (their partition waits for the epoch
// only an abort gives): the commit returns at once, abortable, instead of
// waiting for them until their delivery timeout.
func TestACommitStopsWaitingWhenARecordFails(t *testing.T) {
	r := initialized(t, true)
	r.admit(tp0)
	r.mu.Lock()
	r.flushWait = true
	r.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- r.m.Commit(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Committing }, waitTime, time.Millisecond)
	r.m.EpochNeeded(tp0, kerr.InvalidRecord)
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrAbortable)
		require.ErrorIs(t, err, kerr.InvalidRecord, "the error names the failure")
	case <-time.After(waitTime):
		t.Fatal("CommitTransaction still waits for records after the transaction failed")
	}
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")

	// The abort fails what waits, and ends with a new epoch.
	r.mu.Lock()
	r.flushWait = false
	r.mu.Unlock()
	require.NoError(t, r.m.Abort(context.Background()))
	r.mu.Lock()
	require.Len(t, r.aborted, 1, "AbortBatches")
	r.mu.Unlock()
	require.Equal(t, Ready, r.state())
}

// v1: batches sent and then failed by an abort leave their partitions'
// sequences in doubt; the abort ends with a new epoch (InitProducerId with
// the current one), or the next transaction could not send on them.
func TestAnAbortLeavingSequencesInDoubtBumpsTheEpoch(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.mu.Lock()
	r.inDoubt = true
	r.mu.Unlock()
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:])
	require.Equal(t, epoch+1, r.producerID().Epoch)

	// Without doubt, an abort keeps the epoch (v1).
	r.mu.Lock()
	r.inDoubt = false
	r.mu.Unlock()
	require.NoError(t, r.m.Begin())
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.EndTxn, r.coords.last().req.Key())
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

// TestAnAbortWaitsForThePartitionsBeingAdded holds the order a v1
// coordinator needs: an AddPartitionsToTxn under way when the abort comes
// is answered before the abort's EndTxn is sent. Sent after the end, it
// would begin another transaction, which nobody would end.
func TestAnAbortWaitsForThePartitionsBeingAdded(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	require.False(t, r.admit(tp0), "a partition is added before it may send")
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.m.Abort(ended)
	require.ErrorIs(t, err, context.Canceled, "an abort whose ctx ends while partitions are being added")
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "EndTxn sent while AddPartitionsToTxn was under way")

	close(g.open)
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.EndTxn}, apis[len(apis)-2:])
	require.Equal(t, Ready, r.state())
}

// EndTxn v4+ may answer a commit TRANSACTION_ABORTABLE (KIP-890): the
// transaction cannot commit, and the error says to abort, as
// errors.Is(err, ErrAbortable) -> Abort expects; the abort then ends it.
func TestACommitAnsweredTransactionAbortableIsAbortable(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		r.coords.fail(protocol.EndTxn, kerr.TransactionAbortable)
		err := r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrAbortable, "v2=%v", v2)
		require.ErrorIs(t, err, kerr.TransactionAbortable, "the error names the coordinator's")
		require.Equal(t, AbortableError, r.state())
		require.ErrorIs(t, r.m.Commit(context.Background()), ErrAbortable, "a commit again")

		require.NoError(t, r.m.Abort(context.Background()))
		end, ok := r.coords.last().req.(*protocol.EndTxnRequest)
		require.True(t, ok, "the abort ends with EndTxn")
		require.False(t, end.Committed, "the abort's EndTxn")
		require.Equal(t, Ready, r.state())
		require.NoError(t, r.m.Begin())
	}
}
