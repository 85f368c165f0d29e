package accumulator

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

func TestEpochBumpsAreSharedAndAnExhaustedEpochAsksForANewID(t *testing.T) {
	h := idempotent(t, false, nil)
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 32766})
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	for _, b := range bs {
		h.acc.Complete(b, -1, -1, errRetry) // refused: a gap in both partitions
	}
	h.add(tp0, 2, big)
	h.add(tp1, 3, big)
	b2 := h.drainOne("tp0's next batch")
	require.Equal(t, stampOf{7, 32767, 0}, stamped(t, b2), "tp0 restarts under the next epoch")
	bs, _ = h.drain([]TopicPartition{tp1}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 32767, 0}, stamped(t, bs[0]), "tp1 adopts the epoch tp0 moved to, without bumping it again")

	h.acc.Complete(b2, -1, -1, errRetry) // another gap in tp0
	h.add(tp0, 4, big)
	h.drainNone("epoch 32767 is the last: the partition waits for a new id")
	require.Equal(t, 1, h.asked)
	h.acc.SetProducerID(ProducerID{ID: 8, Epoch: 0})
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, h.drainOne("under the new id")))
}

// A new producer id (the epoch ran out) is one no broker knows, and a
// broker takes any first sequence from a producer it does not know: a
// partition acknowledged under the old id keeps one request in flight
// again until its broker acknowledges one under the new id, whether the
// partition takes the id restarting its sequences or with none to restart.
func TestANewIDKeepsOneRequestInFlightUntilTheBrokerAcknowledgesOne(t *testing.T) {
	h := idempotent(t, false, nil)
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 32767})
	tp1 := part(1)
	h.knownTo(node, tp1)
	h.add(tp1, 0, big)
	h.acc.Complete(h.drainOneOf(tp1, "tp1's batch"), 0, -1, nil)
	// tp0's latest answer is an acknowledgement, which passed a batch
	// refused before it: a gap, under the last epoch.
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	b1, b2 := h.drainOne("b1"), h.drainOne("b2")
	h.retry(b1, 0)
	h.acc.Complete(b2, 0, -1, nil)
	require.ErrorIs(t, h.outcome(1).Err, errPassed)
	for i := 3; i < 6; i++ {
		h.add(tp0, i, big)
	}
	h.drainNone("the epoch is spent: tp0 waits for a new id")
	h.acc.SetProducerID(ProducerID{ID: 8, Epoch: 0})

	b3 := h.drainOne("tp0 restarts under the new id")
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, b3))
	h.drainNone("no second request before the broker acknowledges the new id")
	h.acc.Complete(b3, 1, -1, nil)
	h.drainOne("once acknowledged, the batches behind go")
	h.drainOne("pipelined")

	// tp1 has no sequence to restart: it takes the new id as it starts.
	h.add(tp1, 6, big)
	h.add(tp1, 7, big)
	require.Equal(t, stampOf{8, 0, 0}, stamped(t, h.drainOneOf(tp1, "tp1 under the new id")))
	bs, _ := h.drain([]TopicPartition{tp1}, 1<<20)
	require.Empty(t, bs, "no second request of tp1 before the broker acknowledges the new id")
}

// A topic deleted and created again under its name is one whose leaders
// may have no state for the producer, as under a new id: a partition
// acknowledged before keeps one request in flight again until its leader
// acknowledges one sent since. The answer to a request sent before, to the
// old topic (or to the new one before the producer learnt of it),
// acknowledges nothing of the new one. Other topics go on pipelining.
func TestARecreatedTopicKeepsOneRequestInFlightUntilTheBrokerAcknowledgesOne(t *testing.T) {
	h := idempotent(t, false, nil) // tp0 pipelines
	other := TopicPartition{Topic: "other", Partition: 0}
	h.knownTo(node, other)
	for i := range 5 {
		h.add(tp0, i, big)
	}
	old := h.drainOne("b0, to the old topic")
	h.acc.Recreated([]string{tp0.Topic})
	h.drainNone("nothing behind b0 once the topic is re-created")
	h.acc.Complete(old, 0, -1, nil)
	b1 := h.drainOne("b1, the first request to the new topic")
	h.drainNone("b0's acknowledgement, from the old topic, acknowledged nothing of the new")
	h.acc.Complete(b1, 0, -1, nil)
	h.drainOne("once acknowledged, the batches behind go")
	h.drainOne("pipelined")

	h.add(other, 5, big)
	h.add(other, 6, big)
	h.drainOneOf(other, "another topic's batch")
	h.drainOneOf(other, "pipelined behind it, its topic not re-created")
}

func TestFatalFailsAllButWhatTheBrokerWrote(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	h.add(tp0, 2, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	fenced := errors.New("INVALID_PRODUCER_EPOCH")
	h.acc.Fatal(Fenced, fenced)
	require.ErrorIs(t, h.outcome(2).Err, fenced, "the queued batch fails at once")
	require.ErrorIs(t, h.outcome(2).Err, ErrProducerStopped, "and says the producer stopped")
	h.acc.Complete(b0, 5, -1, nil)
	require.NoError(t, h.outcome(0).Err, "a batch written before is still acknowledged")
	h.retry(b1, 0)
	require.ErrorIs(t, h.outcome(1).Err, fenced, "a retry fails instead")
	_, err := h.acc.Append(t.Context(), tp0, nil, &Record{Data: record.Data{Value: big}, Callback: 3})
	require.ErrorIs(t, err, fenced)
	h.drainNone("nothing is drained after a fatal error")
}

// bumpedByTp0 leaves tp0 restarted under epoch 1 and tp1 with batch b1
// in flight under epoch 0, as after a fault on tp0 only.
func bumpedByTp0(t *testing.T, h *harness) (b1 *Batch) {
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("tp0 under epoch 1")))
	return bs[1]
}

func TestAnEpochRefusedAsOlderThanOursGoesAgainUnderOurs(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	// A broker that tracks epochs across partitions refuses tp1's batch.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "refused, so certainly unwritten: renumbered under the producer's epoch")
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, h.outcome(1).Err)
}

func TestAnEpochRefusedAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, nil)
	b1 := bumpedByTp0(t, h)
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, bs[0]), "an attempt that may have been written keeps its epoch")
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, errRetry)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "resent under another epoch it could be written twice, so it fails instead")
	h.add(part(1), 2, big)
	bs, _ = h.drain([]TopicPartition{part(1)}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, bs[0]), "the partition goes on under the producer's epoch")
}

// tp1's a is refused for its epoch, older than the producer's, by a
// broker that tracks epochs across partitions, while b behind it waits to
// be sent again, maybe written. b goes alone under its epoch: refused in
// turn, it fails, maybe written, and a goes under the producer's epoch,
// rather than again and again under the one refused.
func TestAnEpochRefusedAheadOfAnUnansweredRetryWaitsForItAlone(t *testing.T) {
	h := idempotent(t, false, nil)
	tp1 := part(1)
	h.add(tp0, 0, big)
	h.add(tp1, 1, big)
	bs, _ := h.drain([]TopicPartition{tp0, tp1}, 1<<20)
	require.Len(t, bs, 2)
	h.acc.Complete(bs[1], 0, -1, nil) // acknowledged: tp1 pipelines
	h.add(tp1, 2, big)
	h.add(tp1, 3, big)
	a, b := h.drainOneOf(tp1, "a"), h.drainOneOf(tp1, "b, pipelined behind a")
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("tp0 under epoch 1")))

	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Same(t, b, h.drainOneOf(tp1, "b first, alone"))
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, b), "under its own epoch")
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	require.ErrorIs(t, h.outcome(3).Err, ErrMaybeWritten)
	require.Same(t, a, h.drainOneOf(tp1, "a under the producer's epoch"))
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, a))
	h.acc.Complete(a, 1, -1, nil)
	require.NoError(t, h.outcome(2).Err, "a was retried, not failed")
}

func TestAnEpochRefusedAsCurrentIsFatal(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0 := h.drainOne("b0")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, EpochRejected: true})
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, errRetry)
	require.Contains(t, r.Err.Error(), "fenced")
	require.ErrorIs(t, h.outcome(1).Err, errRetry, "everything queued fails")
}
