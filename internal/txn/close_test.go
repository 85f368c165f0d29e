package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// The producer's Close from a record's callback, while a commit on another
// goroutine waits for the callbacks queued behind it, tells the commit to
// give up (CloseFromCallback), or Close's abort would wait for it for ever:
// the commit fails with the cause it is given, sending nothing, and Close
// aborts the transaction.
func TestCloseFromCallbackEndsACommitWaitingForItsRecords(t *testing.T) {
	r := initialized(t, false)
	r.admit(tp0)
	// Added, as a record's partition is before its batch is sent: with
	// transactions v1, Close's abort sends EndTxn only then.
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond)
	inFlush := r.holdFlushes()
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(context.Background()) }()
	bounded.Receive(t, inFlush, waitTime, "Commit did not flush")

	closing := errors.New("closing")
	r.m.CloseFromCallback(closing)
	err := bounded.Receive(t, committed, waitTime, "Commit still waits for its records after CloseFromCallback")
	require.ErrorIs(t, err, closing)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")
	r.mu.Lock()
	r.flushWait = false
	r.mu.Unlock()
	require.NoError(t, r.m.Close(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "Close's EndTxn")
	require.Equal(t, Ready, r.state())
}

// The producer's Close from a record's callback, while an abort on another
// goroutine waits for the callbacks queued behind it: Close's own abort
// waits for that one (the call lock), so it must stop waiting for the
// callbacks, wait for the outcomes alone, and end the transaction.
func TestCloseFromCallbackLetsAnAbortEndWithoutTheCallbacks(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	inFlush := r.holdFlushes()
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	bounded.Receive(t, inFlush, waitTime, "Abort did not flush")

	r.m.CloseFromCallback(errors.New("closing"))
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort still waits for the callbacks after CloseFromCallback"))
	r.mu.Lock()
	awaited := r.awaited
	r.mu.Unlock()
	require.Equal(t, 1, awaited, "the abort waited for the outcomes")
	require.False(t, r.coords.last().req.(*protocol.EndTxnRequest).Committed, "the abort's EndTxn")
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Close(context.Background()), "nothing is left for Close to abort")
}

// A commit whose EndTxn was sent waits for no callback: CloseFromCallback
// leaves it to finish, and Close, refused the abort, returns once it has.
func TestCloseFromCallbackLeavesACommitSent(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	g, committed := r.commitHeldAtEndTxn(t, context.Background())

	r.m.CloseFromCallback(errors.New("closing"))
	closed := make(chan error, 1)
	go func() { closed <- r.m.Close(context.Background()) }()
	close(g.open)
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return"))
	require.NoError(t, bounded.Receive(t, closed, waitTime, "Close did not return once the commit had"))
	require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[len(r.coords.apis())-1:])
	require.True(t, r.coords.last().req.(*protocol.EndTxnRequest).Committed, "the only EndTxn is the commit's")
	require.Equal(t, Ready, r.state())
}

// Close aborts a transaction under way, and does nothing otherwise.
func TestCloseAbortsATransactionUnderWay(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	require.NoError(t, r.m.Close(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "aborted")
	require.Equal(t, Ready, r.state())
	r.mu.Lock()
	require.Len(t, r.aborted, 1, "what was not sent fails")
	r.mu.Unlock()

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Close(context.Background()), "no transaction under way")
	require.Len(t, r.coords.apis(), sent, "nothing sent")
}

// Close's abort of a transaction with nothing in doubt (no sequence lost,
// no batch answered by no one, no coordinator request unanswered) sends
// EndTxn alone, as the Java client's close does without an epoch bump
// required: with transactions v1 it asks for no new epoch (InitProducerId
// with the current one), a round trip a closing producer has no use for,
// and keeps the epoch; with v2 the EndTxn's answer brings the next one, as
// every v2 end does.
func TestCloseWithNothingInDoubtAsksForNoNewEpoch(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			r := initialized(t, v2)
			r.addedToTheTransaction(v2)
			epoch := r.producerID().Epoch
			sent := len(r.coords.apis())
			require.NoError(t, r.m.Close(context.Background()))
			require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[sent:], "Close's requests")
			if !v2 {
				require.Equal(t, epoch, r.producerID().Epoch, "v1 keeps the epoch")
			}
		})
	}
}

// Close leaves a transaction whose commit was sent, its outcome unknown,
// to the coordinator, which may have committed it: the abort refuses it
// (ErrState), and that refusal is no failure of Close, which sends
// nothing and returns nil, as its doc says. Reported, it would fail the
// Close of every producer whose last commit was cut short, though nothing
// was left for Close to do.
func TestCloseLeavesATransactionWhoseCommitWasSent(t *testing.T) {
	r := initialized(t, true)
	r.addedToTheTransaction(true)
	ctx, cancel := context.WithCancel(context.Background())
	g, committed := r.commitHeldAtEndTxn(t, ctx)
	cancel()
	err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
	require.ErrorContains(t, err, "outcome is unknown")
	close(g.open)

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Close(context.Background()))
	require.Len(t, r.coords.apis(), sent, "Close sent nothing")
	require.Equal(t, Committing, r.state(), "the transaction is the coordinator's")
}

// An abort whose EndTxn was answered and whose new epoch then fails has
// aborted the transaction: its error says so, and that the epoch is
// missing, keeping the failure's identity (the ctx's end; ErrFatal and the
// code for a refusal that ends the producer). AbortTransaction says to
// call it again for the epoch, unless the producer stopped; Close says
// nothing of the kind, nor that it failed to abort. Before, both told the
// bare failure ("AbortTransaction: context canceled"), and the producer's
// Close prefixed "aborting the transaction under way": read as an abort
// that failed, the transaction left open for the coordinator to time out.
func TestAnAbortWhoseNewEpochFailsSaysTheTransactionWasAborted(t *testing.T) {
	calls := []struct {
		name  string
		again bool // the error says to call AbortTransaction again
		call  func(*Manager, context.Context) error
	}{{"Abort", true, (*Manager).Abort}, {"Close", false, (*Manager).Close}}
	for _, c := range calls {
		t.Run(c.name+"/ctx ended", func(t *testing.T) {
			r := abortsWithANewEpoch(t)
			g := r.coords.hold(protocol.InitProducerId)
			defer close(g.open)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.call(r.m, ctx) }()
			bounded.Receive(t, g.arrived, waitTime, "no InitProducerId after the abort's EndTxn")
			cancel()
			err := bounded.Receive(t, done, waitTime, c.name+" did not return after its ctx ended")
			require.ErrorIs(t, err, context.Canceled)
			saysAborted(t, err, c.again)
			require.Equal(t, Aborting, r.state(), "the epoch is still to get")
		})
		t.Run(c.name+"/fenced", func(t *testing.T) {
			r := abortsWithANewEpoch(t)
			r.coords.fail(protocol.InitProducerId, kerr.ProducerFenced)
			err := c.call(r.m, context.Background())
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, kerr.ProducerFenced)
			saysAborted(t, err, false)
			require.Equal(t, FatalError, r.state())
		})
	}
}

// Close's abort cut short before its EndTxn was answered has not aborted
// the transaction, and says it failed to.
func TestACloseWhoseAbortIsCutShortSaysItFailedToAbort(t *testing.T) {
	r := abortsWithANewEpoch(t)
	g := r.coords.hold(protocol.EndTxn)
	defer close(g.open)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.m.Close(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no EndTxn after Close")
	cancel()
	err := bounded.Receive(t, done, waitTime, "Close did not return after its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "aborting the transaction under way")
	require.NotContains(t, err.Error(), "the transaction was aborted")
}

// abortsWithANewEpoch is a v1 rig whose transaction has a partition added
// and a sequence in doubt: its abort sends EndTxn, then InitProducerId.
func abortsWithANewEpoch(t *testing.T) *rig {
	t.Helper()
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.mu.Lock()
	r.inDoubt = true
	r.mu.Unlock()
	return r
}

// saysAborted checks that err, an abort's whose EndTxn was answered and
// whose new epoch failed, says the transaction was aborted, and whether
// it says to call AbortTransaction again.
func saysAborted(t *testing.T, err error, again bool) {
	t.Helper()
	require.ErrorContains(t, err, "the transaction was aborted, but getting the new epoch")
	require.NotContains(t, err.Error(), "aborting the transaction under way")
	if again {
		require.ErrorContains(t, err, "call AbortTransaction again")
	} else {
		require.NotContains(t, err.Error(), "call AbortTransaction again")
	}
}
