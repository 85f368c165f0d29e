package txn

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A commit whose every EndTxn attempt the coordinator answered, with a
// refusal no retry heals, cannot have committed: the coordinator refuses
// before it prepares the commit, or undoes that step when it cannot write
// it. Before, such a commit said its outcome was unknown and to call it
// again, which met the same refusal, and the abort was refused: nothing
// could end the transaction. Now it stops the producer, as the Java
// client's EndTxnHandler stops on the codes it does not expect
// (UNKNOWN_PRODUCER_ID too, whose abort here would send an EndTxn that
// meets the same refusal); an attempt that went unanswered (here its
// connection broke, the retry answered) may have committed, and the
// outcome stays unknown. A request of the transaction other than the
// commit's going unanswered (an AddPartitionsToTxn) adds no such doubt.
func TestACommitTheCoordinatorRefusedIsAbortableOrFatalUnlessAnAttemptWentUnanswered(t *testing.T) {
	for _, tc := range []struct {
		code       *kerr.Error
		lostEndTxn bool // the commit's first EndTxn goes unanswered
		lostAdd    bool // the first AddPartitionsToTxn does (v1)
		want       error
	}{
		{kerr.TransactionAbortable, false, false, ErrAbortable},
		{kerr.UnknownProducerID, false, false, ErrFatal},
		{kerr.UnknownServerError, false, false, ErrFatal},
		{kerr.ClusterAuthorizationFailed, false, false, ErrFatal},
		{kerr.UnknownServerError, false, true, ErrFatal},
		{kerr.UnknownServerError, true, false, nil},
		{kerr.UnknownProducerID, true, false, nil},
	} {
		for _, v2 := range []bool{false, true} {
			name := fmt.Sprintf("%s lostEndTxn=%v lostAdd=%v v2=%v", tc.code.Name, tc.lostEndTxn, tc.lostAdd, v2)
			if tc.lostAdd && v2 {
				continue
			}
			r := initialized(t, v2)
			if tc.lostAdd {
				addedAfterALostAnswer(t, r)
			} else {
				r.addedToTheTransaction(v2)
			}
			if tc.lostEndTxn {
				r.coords.mu.Lock()
				r.coords.lost = fmt.Errorf("EndTxn: %w", conn.ErrDisconnected)
				r.coords.mu.Unlock()
			}
			r.coords.fail(protocol.EndTxn, tc.code)
			err := r.retrying(func() error { return r.m.Commit(context.Background()) })
			require.ErrorIs(t, err, tc.code, name)
			if tc.want == nil {
				require.ErrorContains(t, err, "outcome is unknown: call CommitTransaction again", name)
				require.Equal(t, Committing, r.state(), name)
				require.ErrorIs(t, r.m.Abort(context.Background()), ErrState, name)
				continue
			}
			require.ErrorIs(t, err, tc.want, name)
			require.NotContains(t, err.Error(), "outcome is unknown", name)
			if tc.want == ErrFatal {
				require.Equal(t, FatalError, r.state(), name)
				continue
			}
			require.NoError(t, r.m.Abort(context.Background()), name)
			require.False(t, r.coords.lastEndTxn(t).Committed, "%s: the abort's EndTxn", name)
			require.NoError(t, r.m.Begin(), name)
		}
	}
}

// An abort the coordinator answered TRANSACTION_ABORTABLE (EndTxn v4+,
// KIP-890) did not end the transaction, which is still to abort: the
// error wraps ErrAbortable, and AbortTransaction called again ends it.
// Any other refusal no retry heals stops the producer, as the Java
// client's EndTxnHandler has it, UNKNOWN_PRODUCER_ID included: the abort
// called again would send the same EndTxn and meet the same refusal, and
// a loop aborting on ErrAbortable would never end. Before, each came back
// bare, matching none of the errors the transaction calls promise.
func TestAnAbortTheCoordinatorRefusedIsAbortableOrFatal(t *testing.T) {
	for _, tc := range []struct {
		code *kerr.Error
		want error
	}{
		{kerr.TransactionAbortable, ErrAbortable},
		{kerr.UnknownProducerID, ErrFatal},
		{kerr.UnknownServerError, ErrFatal},
	} {
		for _, v2 := range []bool{false, true} {
			name := fmt.Sprintf("%s v2=%v", tc.code.Name, v2)
			r := initialized(t, v2)
			r.addedToTheTransaction(v2)
			r.coords.fail(protocol.EndTxn, tc.code)
			err := r.m.Abort(context.Background())
			require.ErrorIs(t, err, tc.want, name)
			require.ErrorIs(t, err, tc.code, name)
			if tc.want == ErrFatal {
				require.Equal(t, FatalError, r.state(), name)
				continue
			}
			require.ErrorContains(t, err, "call AbortTransaction again", name)
			require.ErrorIs(t, r.m.Begin(), ErrState, "%s: the transaction is not ended", name)
			require.NoError(t, r.m.Abort(context.Background()), "%s: the abort again", name)
			require.NoError(t, r.m.Begin(), name)
		}
	}
}

// InitTransactions refused for good by the coordinator stops the producer,
// as the Java client's InitProducerIdHandler has unexpected codes. Java
// makes TRANSACTION_ABORTABLE and CLUSTER_AUTHORIZATION_FAILED abortable
// there, but before InitTransactions there is no transaction to abort:
// AbortTransaction refuses. Before, each came back bare. A ctx that ends
// while the coordinator is asked leaves InitTransactions to be called
// again.
func TestInitRefusedForGoodEndsTheProducerButNotWhenItsCtxEnds(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.UnknownServerError, kerr.TransactionAbortable, kerr.ClusterAuthorizationFailed} {
		r := newRig(t, false)
		r.coords.fail(protocol.InitProducerId, code)
		err := r.m.Init(context.Background())
		require.ErrorIs(t, err, ErrFatal, code.Name)
		require.ErrorIs(t, err, code, code.Name)
		require.Equal(t, FatalError, r.state(), code.Name)
		require.Len(t, r.coords.apis(), 1, "%s: not asked again", code.Name)
	}

	r := newRig(t, false)
	g := r.coords.hold(protocol.InitProducerId)
	ctx, cancel := context.WithCancel(context.Background())
	inited := make(chan error, 1)
	go func() { inited <- r.m.Init(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no InitProducerId after InitTransactions")
	cancel()
	err := bounded.Receive(t, inited, waitTime, "InitTransactions did not return after its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrFatal)
	require.Equal(t, Uninitialized, r.state())
	close(g.open)
	require.NoError(t, r.m.Init(context.Background()), "called again")
}

// SendOffsetsToTransaction refused for good by the coordinator stops the
// producer, as the Java client's AddOffsetsToTxnHandler and
// TxnOffsetCommitHandler have it, save for what Java leaves to abort: a
// consumer the group moved on from, the group denied, a static member
// fenced, the producer id unknown, TRANSACTION_ABORTABLE. Before, every
// code made the transaction abortable: OFFSET_METADATA_TOO_LARGE, the same
// for the same offsets, was met again after every abort, and a loop
// following the docs never ended.
func TestSendOffsetsRefusedIsAbortableOnlyForWhatAnAbortMayHeal(t *testing.T) {
	abortable := []*kerr.Error{kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.GroupAuthorizationFailed,
		kerr.FencedInstanceID, kerr.UnknownProducerID, kerr.TransactionAbortable}
	fatal := []*kerr.Error{kerr.UnsupportedForMessageFormat, kerr.OffsetMetadataTooLarge, kerr.InvalidCommitOffsetSize,
		kerr.GroupIDNotFound, kerr.UnknownServerError}
	offsets := []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}
	for _, api := range []protocol.APIKey{protocol.AddOffsetsToTxn, protocol.TxnOffsetCommit} {
		for _, codes := range []struct {
			want  error
			state State
			codes []*kerr.Error
		}{{ErrAbortable, AbortableError, abortable}, {ErrFatal, FatalError, fatal}} {
			for _, code := range codes.codes {
				name := fmt.Sprintf("%v %s", api, code.Name)
				r := initialized(t, api == protocol.TxnOffsetCommit)
				r.coords.fail(api, code)
				err := r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
				require.ErrorIs(t, err, codes.want, name)
				require.ErrorIs(t, err, code, name)
				require.Equal(t, codes.state, r.state(), name)
			}
		}
	}
}

// A SendOffsets whose ctx ends while it waits to retry the coordinator's
// retriable answer (COORDINATOR_LOAD_IN_PROGRESS) leaves the transaction
// to abort (ErrAbortable), as SendOffsetsToTransaction's doc promises, so
// that a caller who gives up on a coordinator that keeps answering so
// aborts and goes back to the consumer's committed position. It differs
// from a call that could not reach the coordinator, which says to call
// again (TestACodeMetReachingTheCoordinatorIsNotItsRefusal).
func TestSendOffsetsCutShortWhileRetryingACoordinatorsAnswerIsAbortable(t *testing.T) {
	offsets := []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}
	for _, api := range []protocol.APIKey{protocol.AddOffsetsToTxn, protocol.TxnOffsetCommit} {
		r := initialized(t, api == protocol.TxnOffsetCommit)
		r.coords.fail(api, kerr.CoordinatorLoadInProgress)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.m.SendOffsets(ctx, offsets, Group{ID: "g"}) }()
		bounded.Receive(t, r.clk.Armed(), waitTime, fmt.Sprintf("no retry of %v was scheduled", api))
		cancel()
		err := bounded.Receive(t, done, waitTime, "SendOffsets did not return after its ctx ended")
		require.ErrorIs(t, err, ErrAbortable, "%v", api)
		require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress, "%v: the last answer", api)
		require.ErrorIs(t, err, context.Canceled, "%v", api)
		require.Equal(t, AbortableError, r.state(), "%v", api)
	}
}

// Only the coordinator's answer is a refusal for good: a code met on the
// way to it is not. A broker that refused the producer's SASL credentials
// (SASL_AUTHENTICATION_FAILED, in the connection's *conn.AuthError) may
// let it in once they are rotated, and the producer goes on meanwhile, as
// it does when a broker refuses its TLS certificate, whose error holds no
// code; a call it fails is left to be made again. Before, the code in the
// connection's error stopped the producer at InitTransactions,
// AbortTransaction and SendOffsetsToTransaction.
func TestACodeMetReachingTheCoordinatorIsNotItsRefusal(t *testing.T) {
	refused := fmt.Errorf("transaction coordinator for \"tx\": %w",
		&conn.AuthError{Addr: "b:9092", Mechanism: "PLAIN", Err: kerr.SaslAuthenticationFailed})
	reaching := func(r *rig) {
		r.coords.mu.Lock()
		defer r.coords.mu.Unlock()
		r.coords.lost = refused
	}

	r := newRig(t, false)
	reaching(r)
	err := r.m.Init(context.Background())
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	require.NotErrorIs(t, err, ErrFatal, "Init")
	require.Equal(t, Uninitialized, r.state(), "Init may be called again")
	require.NoError(t, r.m.Init(context.Background()), "Init again, let in")

	r = initialized(t, false)
	r.addedToTheTransaction(false)
	reaching(r)
	err = r.m.Abort(context.Background())
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	require.NotErrorIs(t, err, ErrFatal, "Abort")
	require.NoError(t, r.m.Abort(context.Background()), "Abort again, let in")

	r = initialized(t, true)
	reaching(r)
	err = r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	require.NotErrorIs(t, err, ErrFatal, "SendOffsets")
	require.NotErrorIs(t, err, ErrAbortable, "SendOffsets: the offsets may not have reached the coordinator")
	require.ErrorContains(t, err, "call it again")
}
