package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A producer stopped for good while a call of its transaction waits stays
// stopped: no call under way, and no transaction after, takes it back.

// stopping is each error with which a Produce answer stops the producer,
// as the sender words it, and the broker's error it carries.
var stopping = []struct {
	code *kerr.Error
	err  error
}{
	{kerr.ProducerFenced, fmt.Errorf("broker 0: %w", kerr.ProducerFenced)},
	{kerr.InvalidProducerIDMapping, fmt.Errorf("broker 0: %w", kerr.InvalidProducerIDMapping)},
	{kerr.ClusterAuthorizationFailed, fmt.Errorf("%w: ...: broker 0: %w", accumulator.ErrProducerStopped, kerr.ClusterAuthorizationFailed)},
	{kerr.UnsupportedVersion, fmt.Errorf("%w: ...: broker 0: %w", accumulator.ErrProducerStopped, kerr.UnsupportedVersion)},
}

// A Produce answer that stops the producer (fenced, the transactional id
// forgotten, the cluster's denial, a Produce version refused) arrives
// while AbortTransaction waits for the transaction's records. The abort
// fails with it and sends no EndTxn, as the Java client fails its abort
// once fatal. Before, the abort went on: its EndTxn, answered well, made
// the producer ready again, BeginTransaction succeeded, and the next
// record, refused by the stopped sender, left each transaction to abort,
// for ever.
func TestAProduceAnswerThatStopsTheProducerDuringAnAbortFailsIt(t *testing.T) {
	for _, s := range stopping {
		for _, v2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v2=%v", s.code.Name, v2), func(t *testing.T) {
				r := initialized(t, v2)
				r.addedToTheTransaction(v2)
				sent := len(r.coords.apis())
				r.mu.Lock()
				r.duringFlush = func() { r.m.RecordFailed(tp0, s.err) } // a batch in flight answered so
				r.mu.Unlock()
				err := r.m.Abort(context.Background())
				require.ErrorIs(t, err, ErrFatal)
				require.ErrorIs(t, err, s.code)
				require.Empty(t, r.coords.apis()[sent:], "no EndTxn, no new epoch")
				require.Equal(t, FatalError, r.state())
				require.ErrorIs(t, r.m.Begin(), ErrFatal, "no next transaction")
			})
		}
	}
}

// Whatever stops the producer while a commit or an abort waits for its
// EndTxn's answer (nothing does today: their records all have their
// outcomes by then) leaves the producer stopped though the coordinator
// answers well, and the call says so: the end never makes a stopped
// producer ready again.
func TestAProducerStoppedWhileItsTransactionEndsStaysStopped(t *testing.T) {
	for _, e := range ends {
		for _, v2 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/v2=%v", e.name, v2), func(t *testing.T) {
				r := initialized(t, v2)
				r.addedToTheTransaction(v2)
				g := r.coords.holdAnswers(protocol.EndTxn)
				ended := make(chan error, 1)
				go func() { ended <- e.end(r.m, context.Background()) }()
				bounded.Receive(t, g.arrived, waitTime, "no EndTxn")
				r.m.RecordFailed(tp0, kerr.ProducerFenced)
				close(g.open)
				err := bounded.Receive(t, ended, waitTime, "the end did not return")
				require.ErrorIs(t, err, ErrFatal)
				require.ErrorIs(t, err, kerr.ProducerFenced)
				require.Equal(t, FatalError, r.state())
				require.ErrorIs(t, r.m.Begin(), ErrFatal, "no next transaction")
			})
		}
	}
}

// A record refused before it joined a batch for what stops the producer
// (the stopped sender's refusal of every append repeats the error that
// stopped it) stops it as such a failure does (endsProducer), with a
// transaction open or not. Before, a refusal only left the transaction to
// abort.
func TestARecordRefusedForWhatStopsTheProducerStopsIt(t *testing.T) {
	for _, s := range stopping {
		for _, open := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/open=%v", s.code.Name, open), func(t *testing.T) {
				r := initialized(t, false)
				if !open {
					require.NoError(t, r.m.Commit(context.Background()))
				}
				r.m.RecordRejected(tp0, s.err)
				require.Equal(t, FatalError, r.state())
				err := r.m.CheckProduce()
				require.ErrorIs(t, err, ErrFatal)
				require.ErrorIs(t, err, s.code)
			})
		}
	}
}

// A Produce answer that stops the producer while SendOffsetsToTransaction
// waits for the group coordinator's answer fails that call too: the
// offsets went, but nothing of the transaction will commit. It returned
// nil, the next CommitTransaction telling the stop.
func TestAStopWhileSendOffsetsWaitsFailsIt(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			r := initialized(t, v2)
			g := r.coords.holdAnswers(protocol.TxnOffsetCommit)
			done := make(chan error, 1)
			go func() {
				done <- r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Partition: 0, Offset: 10}}, Group{ID: "g"})
			}()
			bounded.Receive(t, g.arrived, waitTime, "no TxnOffsetCommit reached the coordinator")
			r.m.RecordFailed(tp0, kerr.ProducerFenced) // a Produce answer stops the producer
			close(g.open)
			err := bounded.Receive(t, done, waitTime, "SendOffsets did not return")
			require.Equal(t, FatalError, r.state())
			require.ErrorIs(t, err, ErrFatal, "SendOffsets while the producer stopped")
		})
	}
}

// A Produce answer that stops the producer while SendOffsetsToTransaction
// waits, and then the call's ctx ending, fails the call as fatal: nothing
// of the transaction will commit, whatever the group coordinator did. It
// said that the offsets may not have reached the coordinator and to call
// it again, or abort.
func TestAStopThenTheCtxEndingWhileSendOffsetsWaitsFailsItAsFatal(t *testing.T) {
	r := initialized(t, true)
	g := r.coords.holdAnswers(protocol.TxnOffsetCommit)
	defer close(g.open)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- r.m.SendOffsets(ctx, []Offset{{Topic: "in", Partition: 0, Offset: 10}}, Group{ID: "g"})
	}()
	bounded.Receive(t, g.arrived, waitTime, "no TxnOffsetCommit reached the coordinator")
	r.m.RecordFailed(tp0, kerr.ProducerFenced) // a Produce answer stops the producer
	cancel()
	err := bounded.Receive(t, done, waitTime, "SendOffsets did not return at its ctx's end")
	require.Equal(t, FatalError, r.state())
	require.ErrorIs(t, err, ErrFatal, "SendOffsets: %v", err)
	require.NotContains(t, err.Error(), "call it again", "%v", err)
}

// beginAfterAnAbortCutShort starts an abort of a v1 transaction with a
// partition added, runs during (if not nil) once the abort waits for the
// transaction's records, then ends the abort's ctx, and returns what
// BeginTransaction says after.
func beginAfterAnAbortCutShort(t *testing.T, during func(*rig)) error {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	inFlush := r.holdFlushes()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // should during fail the test
	done := make(chan error, 1)
	go func() { done <- r.m.Abort(ctx) }()
	bounded.Receive(t, inFlush, waitTime, "the abort did not wait for the records")
	if during != nil {
		during(r)
	}
	cancel()
	require.Error(t, bounded.Receive(t, done, waitTime, "the abort did not return at its ctx's end"))
	return r.m.Begin()
}

// BeginTransaction after an abort its ctx cut short, whose error the
// caller ignored, says to call AbortTransaction again: only it can end the
// transaction. It said only that the state was aborting.
func TestBeginAfterAnAbortCutShortSaysToCallItAgain(t *testing.T) {
	err := beginAfterAnAbortCutShort(t, nil)
	require.ErrorIs(t, err, ErrState)
	require.Contains(t, err.Error(), "the last AbortTransaction did not finish: call it again")
}

// A Produce answer that stops the producer while AbortTransaction waits
// for an AddPartitionsToTxn still under way (v1; the coordinator does not
// answer) fails the abort at once with the stop's error: nothing more is
// sent, so the addition need not end first. The abort waited for it until
// its ctx ended, and said only that partitions were still being added.
func TestAStopWhileAnAbortWaitsForAnAdditionFailsItAtOnce(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	defer close(g.open)
	require.False(t, r.admit(tp0), "not added yet")
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn reached the coordinator")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.m.Abort(ctx) }()
	require.Eventually(t, func() bool { return r.state() == Aborting }, waitTime, time.Millisecond, "the abort did not begin")
	r.m.RecordFailed(tp0, kerr.ProducerFenced) // a Produce answer stops the producer
	err := bounded.Receive(t, done, waitTime, "the abort waited for the addition after the producer stopped")
	require.ErrorIs(t, err, ErrFatal, "AbortTransaction: %v", err)
	require.ErrorIs(t, err, kerr.ProducerFenced)
}

// The producer stops for good (a Produce answer fenced it) while the
// partition adder waits to retry AddPartitionsToTxn: the adder stops then,
// as it stops when the producer closes, since the transaction it adds to
// can never commit. Before, it went on asking the coordinator, every
// RetryBackoffMax while the coordinator kept failing, until Close.
func TestV1AddingStopsRetryingWhenTheProducerStops(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.CoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress,
		kerr.CoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress)
	require.False(t, r.admit(tp0))
	bounded.Receive(t, r.clk.Armed(), waitTime, "no retry of AddPartitionsToTxn was scheduled")
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	require.Eventually(t, func() bool {
		r.m.mu.Lock()
		defer r.m.mu.Unlock()
		return r.m.adderDone == nil
	}, waitTime, time.Millisecond, "the adder still waits to retry AddPartitionsToTxn after the producer stopped")
	asked := len(r.coords.apis())
	r.clk.Advance(time.Minute) // past every backoff
	require.Equal(t, asked, len(r.coords.apis()), "a request after the producer stopped")
	require.Equal(t, FatalError, r.state())
}

// The producer stops for good while SendOffsetsToTransaction waits to
// retry the request that adds the offsets (AddOffsetsToTxn with v1,
// TxnOffsetCommit with v2): the call stops then and fails with the stop,
// where it went on retrying until the coordinator recovered, its ctx
// ended or the producer closed. So does a call whose request is in flight
// when the producer stops.
func TestACallStopsRetryingWhenTheProducerStops(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	for _, v2 := range []bool{false, true} {
		api := protocol.AddOffsetsToTxn
		if v2 {
			api = protocol.TxnOffsetCommit
		}
		t.Run(fmt.Sprintf("retrying %s", api), func(t *testing.T) {
			r := initialized(t, v2)
			r.coords.fail(api, kerr.CoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress,
				kerr.CoordinatorLoadInProgress, kerr.CoordinatorLoadInProgress)
			sent := make(chan error, 1)
			go func() { sent <- r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}) }()
			bounded.Receive(t, r.clk.Armed(), waitTime, "no retry was scheduled")
			r.m.RecordFailed(tp0, kerr.ProducerFenced)
			err := bounded.Receive(t, sent, waitTime, "SendOffsetsToTransaction still retries after the producer stopped for good")
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, kerr.ProducerFenced)
		})
		t.Run(fmt.Sprintf("%s in flight", api), func(t *testing.T) {
			r := initialized(t, v2)
			g := r.coords.hold(api)
			sent := make(chan error, 1)
			go func() { sent <- r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}) }()
			bounded.Receive(t, g.arrived, waitTime, "the request was not sent")
			r.m.RecordFailed(tp0, kerr.ProducerFenced)
			err := bounded.Receive(t, sent, waitTime, "SendOffsetsToTransaction still waits for its answer after the producer stopped for good")
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, kerr.ProducerFenced)
		})
	}
}

// The producer stops for good while a commit's EndTxn, which the
// coordinator carried out, waits for its answer: the commit still reads
// the answer, and says the transaction committed, though the stop ends
// every other coordinator call at once. Cut short by the stop, it said
// only that the producer cannot continue, where the transaction had
// committed: a user with side effects outside Kafka could not tell.
func TestACommitWhoseEndTxnIsUnderWayWhenTheProducerStopsSaysItCommitted(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			r := initialized(t, v2)
			r.addedToTheTransaction(v2)
			g := r.coords.holdAnswers(protocol.EndTxn)
			ended := make(chan error, 1)
			go func() { ended <- r.m.Commit(context.Background()) }()
			bounded.Receive(t, g.arrived, waitTime, "no EndTxn")
			r.m.RecordFailed(tp0, kerr.ProducerFenced)
			select {
			case err := <-ended:
				t.Fatalf("the commit returned before its EndTxn's answer came: %v", err)
			case <-time.After(50 * time.Millisecond): // what the stop would have cut short, it has
			}
			close(g.open)
			err := bounded.Receive(t, ended, waitTime, "the commit did not return")
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorContains(t, err, "the transaction committed")
		})
	}
}

// The same for a v1 commit whose EndTxn was answered and whose new epoch
// (asked for because a request of the transaction went unanswered) the
// stop cuts short: the error says the transaction committed, as when the
// new epoch fails otherwise, where it said only that the producer cannot
// continue.
func TestACommitWhoseNewEpochTheStopCutsShortSaysItCommitted(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.mu.Lock()
	r.m.unanswered = true // a request of the transaction went unanswered
	r.m.mu.Unlock()
	g := r.coords.hold(protocol.InitProducerId)
	defer close(g.open)
	ended := make(chan error, 1)
	go func() { ended <- r.m.Commit(context.Background()) }()
	bounded.Receive(t, g.arrived, waitTime, "no InitProducerId")
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	err := bounded.Receive(t, ended, waitTime, "the commit did not return")
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorContains(t, err, "the transaction committed")
}
