package txn

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A failed batch leaves the transaction to abort, and the transaction's
// error, which every later call and refused record quotes, says which
// partition's batch failed, as a cause: the batch's error does not name it.
// A failure that stops the producer is the producer's, not the partition's
// whose batch heard it first: the error names no partition.
func TestAFailedBatchNamesItsPartitionButAStopNamesNone(t *testing.T) {
	tp3 := accumulator.TopicPartition{Topic: "t", Partition: 3}
	r := initialized(t, true)
	r.m.RecordFailed(tp3, fmt.Errorf("%w: 1 record had no outcome", accumulator.ErrDeliveryTimeout))
	err := r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "a batch of t-3 failed: delivery timeout: 1 record had no outcome")

	r = initialized(t, true)
	r.m.RecordFailed(tp3, fmt.Errorf("%w: it was fenced: %w", accumulator.ErrProducerStopped, kerr.ProducerFenced))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.NotContains(t, err.Error(), "t-3")
}

// A refused record leaves the transaction to abort, and the transaction's
// error says in words whose record was refused, of which partition if one
// was chosen, as a cause: the refusal's error does not name it (the root
// package books its *PartitionError's cause). A refusal that stops the
// producer names no partition.
func TestARefusedRecordNamesItsPartitionButAStopNamesNone(t *testing.T) {
	tp5 := accumulator.TopicPartition{Topic: "t", Partition: 5}
	r := initialized(t, true)
	r.m.RecordRejected(tp5, fmt.Errorf("%w: not appended within DeliveryTimeout", accumulator.ErrDeliveryTimeout))
	err := r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "a record of t-5 was refused: delivery timeout: not appended")

	r = initialized(t, true)
	r.m.RecordRejected(accumulator.TopicPartition{Topic: "t", Partition: -1}, errors.New("too large"))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.Contains(t, err.Error(), "a record of t was refused: too large")

	r = initialized(t, true)
	r.m.RecordRejected(tp5, fmt.Errorf("%w: it was fenced: %w", accumulator.ErrProducerStopped, kerr.ProducerFenced))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.NotContains(t, err.Error(), "t-5")
}

// A record of the partition whose failure made the transaction abortable
// is told the cause without the partition's name, which the record's own
// error gives (the root package's PartitionError): before, it said the
// partition twice ("producer: topic "t" partition 0: ... AddPartitionsToTxn:
// t-0: ..."). A record of another partition, and every later call, are
// told which partition failed.
func TestARecordOfTheFailedPartitionIsToldTheCauseWithoutItsName(t *testing.T) {
	tp1 := accumulator.TopicPartition{Topic: "t", Partition: 1}
	refused := kerr.TopicAuthorizationFailed.Error()

	t.Run("added partition refused", func(t *testing.T) {
		r := initialized(t, false)
		r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
		require.False(t, r.admit(tp0))
		unsent, other := r.awaitUnsent()
		require.EqualError(t, unsent[0], "adding partitions to the transaction: the transaction must be aborted: AddPartitionsToTxn: "+refused,
			"a batch of the partition refused")
		require.ErrorIs(t, unsent[0], ErrAbortable)
		require.ErrorIs(t, unsent[0], kerr.TopicAuthorizationFailed)
		require.EqualError(t, other[0], "adding partitions to the transaction: the transaction must be aborted: AddPartitionsToTxn: t-0: "+refused,
			"a batch of another partition")

		_, later := r.m.Admit(tp0)
		require.EqualError(t, later, "the transaction must be aborted: AddPartitionsToTxn: "+refused, "a later batch of the partition")
		require.ErrorIs(t, later, kerr.TopicAuthorizationFailed)
		_, ofOther := r.m.Admit(tp1)
		require.EqualError(t, ofOther, "the transaction must be aborted: AddPartitionsToTxn: t-0: "+refused, "a batch of another partition")
		require.ErrorContains(t, r.m.Commit(context.Background()), "AddPartitionsToTxn: t-0: "+refused, "the commit")
	})

	t.Run("batch failed", func(t *testing.T) {
		r := initialized(t, true)
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		_, later := r.m.Admit(tp0)
		require.EqualError(t, later, "the transaction must be aborted: an earlier batch failed: "+kerr.NotEnoughReplicas.Error(),
			"a later batch of the partition")
		require.ErrorIs(t, later, ErrAbortable)
		require.ErrorIs(t, later, kerr.NotEnoughReplicas)
		_, ofOther := r.m.Admit(tp1)
		require.EqualError(t, ofOther, "the transaction must be aborted: a batch of t-0 failed: "+kerr.NotEnoughReplicas.Error(),
			"a batch of another partition")
	})
}

// A partition refused while the transaction was abortable, whose waiting
// batches fail once the abort has begun, is told the cause without its
// name, as before the abort: its own error names it.
func TestTheFailedPartitionsRecordsAreToldTheCauseWithoutItsNameDuringTheAbort(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	g := r.coords.hold(protocol.EndTxn)
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	bounded.Receive(t, g.arrived, waitTime, "the abort sent no EndTxn")
	require.Equal(t, Aborting, r.state())
	require.EqualError(t, r.m.addingFailed(tp0),
		"adding partitions to the transaction: the transaction must be aborted: an earlier batch failed: "+kerr.NotEnoughReplicas.Error())
	require.EqualError(t, r.m.addingFailed(accumulator.TopicPartition{Topic: "t", Partition: 1}),
		"adding partitions to the transaction: the transaction must be aborted: a batch of t-0 failed: "+kerr.NotEnoughReplicas.Error(),
		"a batch of another partition")
	close(g.open)
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "the abort did not return"))
}
