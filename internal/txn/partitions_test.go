package txn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A transaction that can no longer commit admits no partition: it refuses
// with why, and the accumulator fails what waits to be sent, rather than
// hold it until the abort. An abort under way refuses nothing: it fails
// what waits itself.
func TestAnAbortableTransactionRefusesPartitionsWithWhy(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		tooLarge := errors.New("record too large")
		r.m.RecordRejected(tp0, tooLarge)
		admitted, refused := r.m.Admit(tp0)
		require.False(t, admitted)
		require.ErrorIs(t, refused, ErrAbortable, "v2 %v", v2)
		require.ErrorIs(t, refused, tooLarge)
		sent := len(r.coords.apis()) // InitProducerId, by Init

		// Failed with it, the batches make nothing new of it: no epoch
		// bump for a sequence in doubt, none having been sent, and
		// nothing to end at the coordinator.
		r.m.RecordFailed(tp0, refused)
		require.NoError(t, r.m.Abort(context.Background()))
		require.Empty(t, r.coords.apis()[sent:], "requests after a refusal, then an abort (v2 %v)", v2)
	}
}

func TestV1PartitionsAreAddedBeforeTheyMaySend(t *testing.T) {
	r := initialized(t, false)
	tp1 := accumulator.TopicPartition{Topic: "t", Partition: 1}
	require.False(t, r.admit(tp0), "not added yet")
	require.False(t, r.admit(tp1))
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.woken) == 2
	}, waitTime, time.Millisecond, "the partitions are woken once added")
	require.True(t, r.admit(tp0))
	require.True(t, r.admit(tp1))
	var add *protocol.AddPartitionsToTxnRequest
	for _, s := range r.coords.requests {
		if a, ok := s.req.(*protocol.AddPartitionsToTxnRequest); ok {
			add = a
			require.Equal(t, int16(maxAddPartitionsVersion), s.versions.Max, "clients send AddPartitionsToTxn v3 at most")
		}
	}
	require.NotNil(t, add)
	require.Equal(t, int64(42), add.V3AndBelowProducerID)
}

func TestV1AddingRetriesConcurrentTransactions(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.ConcurrentTransactions, kerr.ConcurrentTransactions)
	require.False(t, r.admit(tp0))
	require.Eventually(t, func() bool {
		r.clk.Advance(time.Second) // past the longest backoff
		return r.admit(tp0)
	}, waitTime, time.Millisecond, "the partition was not added through the retries")
	require.Equal(t, InTransaction, r.state())
}

// An AddPartitionsToTxn answer that leaves a partition out says nothing of
// it: the request goes again, and the partition is admitted once an answer
// names it, as the Java client adds only the partitions answered. Before,
// it was taken as added, and its batches went to a partition the
// coordinator never heard of, which no marker would end.
func TestV1AddingAnsweredWithoutThePartitionAsksAgain(t *testing.T) {
	r := initialized(t, false)
	r.coords.leaveOutPartitions(protocol.AddPartitionsToTxn, 2)
	sent := len(r.coords.apis())
	require.False(t, r.admit(tp0))
	require.Eventually(t, func() bool {
		r.clk.Advance(time.Second) // past the longest backoff
		return r.admit(tp0)
	}, waitTime, time.Millisecond, "the partition was not added after the answers that left it out")
	// Asked again after each answer that left it out, and only then.
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.AddPartitionsToTxn, protocol.AddPartitionsToTxn},
		r.coords.apis()[sent:], "asked again after each answer that left the partition out")
	require.Equal(t, InTransaction, r.state())
}

// A partition asked for again while its AddPartitionsToTxn is under way
// (another of its batches drained) waits for that request's answer rather
// than ask the coordinator once more.
func TestV1APartitionAskedForWhileBeingAddedIsAddedOnce(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	sent := len(r.coords.apis())
	require.False(t, r.admit(tp0))
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")
	require.False(t, r.admit(tp0), "admitted before the coordinator answered")
	close(g.open)
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond, "tp0 was not added")
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn}, r.coords.apis()[sent:], "added once")
}

func TestV1AddingRefusedMakesTheTransactionAbortable(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
	require.False(t, r.admit(tp0))
	// The adder fails what waited to be added after it made the
	// transaction abortable, outside the manager's lock: wait for both.
	unsent, _ := r.awaitUnsent()
	require.Len(t, unsent, 1, "what waited to be added fails once")
	require.ErrorIs(t, unsent[0], kerr.TopicAuthorizationFailed)
	require.Equal(t, AbortableError, r.state())
	require.ErrorIs(t, r.m.CheckProduce(), ErrAbortable)
	require.ErrorIs(t, r.m.Commit(context.Background()), ErrAbortable)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, Ready, r.state())
}

// An AddPartitionsToTxn refused with fencing (PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH from an older coordinator), the transactional id
// denied, or INVALID_TXN_STATE stops the producer, as the Java client's
// AddPartitionsToTxnHandler stops on each: no abort heals them. Left
// abortable, a caller following the docs would abort, begin again, and
// meet the same refusal at the next transaction's first partition, for
// ever. The batches waiting to be added fail with the fatal error.
func TestV1AddingRefusedForWhatEndsTheProducerIsFatal(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerEpoch,
		kerr.TransactionalIDAuthorizationFailed, kerr.InvalidTxnState} {
		r := initialized(t, false)
		r.coords.fail(protocol.AddPartitionsToTxn, code)
		require.False(t, r.admit(tp0))
		unsent, _ := r.awaitUnsent()
		require.ErrorIs(t, unsent[0], ErrFatal, "%s: what waited to be added", code.Name)
		require.Equal(t, FatalError, r.state(), code.Name)
		err := r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrFatal, code.Name)
		require.ErrorIs(t, err, code, code.Name)
	}
}

// A partition whose first batch of the transaction leaves while the
// commit waits for the records (its linger had not passed when the commit
// began) is admitted: with v2 at once, with v1 once the AddPartitionsToTxn
// the commit's wait let start has added it, before the commit's EndTxn.
// Refused or left unadded, the batch could never be sent, and the commit,
// waiting for its records, would wait until its ctx ended.
func TestAPartitionFirstSentDuringTheCommitIsAdmitted(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		var admitted []bool
		r.duringFlush = func() { admitted = append(admitted, r.admit(tp0)) }
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v", v2)
		require.NotEmpty(t, admitted, "v2=%v: the commit never flushed", v2)
		require.Equal(t, v2, admitted[0], "v2=%v: the first ask, as the commit flushes", v2)
		if v2 {
			require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[1:], "v2: the partition needs no adding")
		} else {
			require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.EndTxn}, r.coords.apis()[1:],
				"v1: the partition is added, then the transaction committed")
			r.mu.Lock()
			require.Equal(t, []accumulator.TopicPartition{tp0}, r.woken, "v1: the partition may send once added")
			r.mu.Unlock()
		}
		require.True(t, r.coords.lastEndTxn(t).Committed, "v2=%v", v2)
	}
}

func TestV2PartitionsNeedNoAdding(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	require.NotContains(t, r.coords.apis(), protocol.AddPartitionsToTxn)
}

// An AddPartitionsToTxn refused after an abort began leaves the
// transaction nothing of its own to tell: the batches that waited to be
// added fail as the abort's records do, with ErrAborted. Before, they
// failed with "adding partitions to the transaction: %!w(<nil>)", the
// abort having left the transaction without an error to quote; and one
// refused while the abort was beginning named its partition twice.
func TestAPartitionRefusedOnceAnAbortBeganFailsWhatWaitsAsAborted(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
	require.False(t, r.admit(tp0), "a partition is added before it may send")
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, r.m.Abort(ended), "an abort whose ctx ended while partitions were being added")
	require.Equal(t, Aborting, r.state())
	close(g.open)
	unsent, _ := r.awaitUnsent()
	require.ErrorIs(t, unsent[0], ErrAborted)
	require.NotContains(t, unsent[0].Error(), "%!", "a batch of the partition refused")
	require.NoError(t, r.m.Abort(context.Background()))
}
