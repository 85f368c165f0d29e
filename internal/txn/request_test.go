package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A request whose connection broke as its caller's ctx ended says that the
// ctx ended, whichever of the two the call saw first: before, a call that
// saw the broken connection first returned its error alone, and the caller
// could not tell by errors.Is that its own ctx had ended.
func TestACallWhoseCtxEndedAsItsConnectionBrokeSaysTheCtxEnded(t *testing.T) {
	r := initialized(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	r.coords.mu.Lock()
	r.coords.lost = fmt.Errorf("AddOffsetsToTxn: %w", conn.ErrDisconnected)
	r.coords.whileLost = cancel
	r.coords.mu.Unlock()
	err := r.m.SendOffsets(ctx, []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}}, Group{ID: "g", Generation: -1})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, conn.ErrDisconnected, "the failure is named too")
}

func TestAConnectionLostOnTheWayIsRetried(t *testing.T) {
	r := initialized(t, true)
	r.coords.lost = fmt.Errorf("TxnOffsetCommit: %w", conn.ErrDisconnected)
	require.NoError(t, r.retrying(func() error {
		return r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	}))
}

// A fenced producer's TxnOffsetCommit is answered INVALID_PRODUCER_EPOCH by
// Kafka's group coordinator (transactions v2): the producer was fenced, and
// says so as it does for PRODUCER_FENCED, the broker's code kept beside it.
func TestAnEpochRefusedByACoordinatorIsFencing(t *testing.T) {
	r := initialized(t, true)
	r.coords.fail(protocol.TxnOffsetCommit, kerr.InvalidProducerEpoch)
	err := r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.ErrorIs(t, err, kerr.InvalidProducerEpoch)
	require.ErrorIs(t, r.m.Begin(), kerr.ProducerFenced, "every later call")
}

// A transaction that follows a commit at once meets CONCURRENT_TRANSACTIONS
// while the coordinator writes the previous one's markers (transactions
// v1): it asks again within 20 ms, not after RetryBackoff (100 ms here).
func TestConcurrentTransactionsAreRetriedSoon(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.ConcurrentTransactions)
	require.False(t, r.admit(tp0))
	bounded.Receive(t, r.clk.Armed(), waitTime, "no retry was scheduled after CONCURRENT_TRANSACTIONS")
	r.clk.Advance(concurrentTransactionsBackoff)
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond,
		"the partition was not added 20 ms after CONCURRENT_TRANSACTIONS")
}

// A call retrying against a coordinator that does not answer stops once
// the producer closes: no broker will answer it after that, and retrying
// would only wait out the call's ctx.
func TestACallStopsRetryingWhenTheProducerCloses(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.coords.fail(protocol.EndTxn, kerr.CoordinatorLoadInProgress)
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(context.Background()) }()
	bounded.Receive(t, r.clk.Armed(), waitTime, "no retry of EndTxn was scheduled")
	r.closeProducer()
	select {
	case err := <-committed:
		require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress, "the error names the last failure")
		require.ErrorContains(t, err, "the producer closed")
	case <-time.After(waitTime):
		t.Fatal("CommitTransaction still retries EndTxn after the producer closed")
	}
}

// The coordinator no longer knows the transactional id
// (INVALID_PRODUCER_ID_MAPPING: it expired, or another instance took it
// over and it expired since): whichever answer says so stops the producer
// for good (ErrFatal), as it stops the Java client's since Kafka 4.0
// (KAFKA-18019). Getting a new producer id instead, as before, would fence
// the instance that took the id over and repeat work it already did. The
// abort sends nothing more: no EndTxn, no InitProducerId.
func TestTheCoordinatorForgettingTheTransactionalIDStopsTheProducer(t *testing.T) {
	offsets := []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}
	for _, tc := range []struct {
		name string
		v2   bool
		fail func(r *rig) error // meets the answer, and returns the call's error if any
	}{
		{"Produce", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.m.RecordFailed(tp0, kerr.InvalidProducerIDMapping)
			return nil
		}},
		{"AddPartitionsToTxn", false, func(r *rig) error {
			r.coords.fail(protocol.AddPartitionsToTxn, kerr.InvalidProducerIDMapping)
			r.admit(tp0)
			return nil
		}},
		{"AddOffsetsToTxn", false, func(r *rig) error {
			r.coords.fail(protocol.AddOffsetsToTxn, kerr.InvalidProducerIDMapping)
			return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
		}},
		{"TxnOffsetCommit", true, func(r *rig) error {
			r.coords.fail(protocol.TxnOffsetCommit, kerr.InvalidProducerIDMapping)
			return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
		}},
		{"EndTxn(commit)", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.coords.fail(protocol.EndTxn, kerr.InvalidProducerIDMapping)
			return r.m.Commit(context.Background())
		}},
		{"EndTxn(abort)", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.coords.fail(protocol.EndTxn, kerr.InvalidProducerIDMapping)
			return r.m.Abort(context.Background())
		}},
	} {
		r := initialized(t, tc.v2)
		epoch := r.producerID().Epoch
		if err := tc.fail(r); err != nil {
			require.ErrorIs(t, err, ErrFatal, tc.name)
		}
		require.Eventually(t, func() bool { return r.state() == FatalError }, waitTime, time.Millisecond, tc.name)
		sent := len(r.coords.apis())
		err := r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrFatal, tc.name)
		require.ErrorIs(t, err, kerr.InvalidProducerIDMapping, tc.name)
		require.ErrorContains(t, err, "no longer knows the transactional id", tc.name)
		require.ErrorContains(t, err, "create a new producer", tc.name)
		require.Empty(t, r.coords.apis()[sent:], "%s: no EndTxn, no new producer id", tc.name)
		require.Equal(t, epoch, r.producerID().Epoch, tc.name)
		require.ErrorIs(t, r.m.Begin(), ErrFatal, "%s: no next transaction", tc.name)
	}
}
