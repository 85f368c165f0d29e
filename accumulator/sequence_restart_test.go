package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A broker that no longer knows the producer (its state expired on an idle
// partition) takes any first sequence: b0 refused before any append and
// b1, pipelined behind it, written, b0 sent again would land after b1. It
// fails instead, certainly not written, with its callback before b1's, and
// the sequences restart behind the gap it leaves.
func TestABatchALaterOnePassedFails(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.retry(b0, 0) // NOT_ENOUGH_REPLICAS, say: refused before any append
	h.acc.Complete(b1, 5, -1, nil)

	r0 := h.outcome(0)
	require.ErrorIs(t, r0.Err, errPassed)
	require.ErrorIs(t, r0.Err, errRetry, "the refusal is kept")
	require.NotErrorIs(t, r0.Err, ErrMaybeWritten, "no attempt of b0 was written")
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, []int{0, 1}, h.orderOf())
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2 under a new epoch, behind the gap")))
}

func TestOutOfOrderBehindAnEarlierRetryIsAPlainRetry(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.retry(b0, 0)                                                                   // NOT_LEADER, say
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true}) // b0 was not written before it
	b0 = h.drainOne("b0 again")
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, b0))
	h.acc.Complete(b0, 0, -1, nil)
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, h.drainOne("b1 again, same epoch and sequence")))
}

func TestOutOfOrderAtTheNextSequenceRestartsUnderANewEpoch(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Complete(b0, 10, -1, nil)
	// The broker lost the producer's state (an unclean leader election,
	// say): the next sequence is refused.
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	b1 = h.drainOne("b1 under epoch 1 from sequence 0")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, b1))
	h.drainNone("under a new epoch, one request at a time until one is acknowledged")
	h.acc.Complete(b1, 11, -1, nil)
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("then b2")))
	require.NoError(t, h.outcome(0).Err)
	require.NoError(t, h.outcome(1).Err, "b1 was retried, not failed")
}

// A retry that an earlier attempt may have written, refused as out of
// order as the partition's next batch, may still have been written: a
// broker restarted from its snapshot recognises only the producer's last
// batch as a duplicate, and b1's attempt went with b0's. It fails with
// ErrMaybeWritten rather than go under a new epoch, where it could be
// written twice, or again and again under its own until its
// DeliveryTimeout, holding up the batches behind it; those restart.
func TestOutOfOrderAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.clk.Advance(500 * time.Millisecond)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	// Their connection broke: either may have been written.
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.clk.Advance(600 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten, "b0 expired waiting for its retry")
	h.add(tp0, 2, big)
	b1 = h.drainOne("b1 again")
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, b1), "under its own epoch: an answer settles whether it was written")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	r1 := h.outcome(1)
	require.ErrorIs(t, r1.Err, errRetry)
	require.ErrorIs(t, r1.Err, ErrMaybeWritten, "b1 failed at once, and may have been written")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2 under epoch 1 from sequence 0")))
}

// A retry that an earlier attempt may have written, refused as the
// partition's next batch by a broker that no longer knows the producer
// (UNKNOWN_PRODUCER_ID), may still have been written: it fails with
// ErrMaybeWritten rather than go under a new epoch, and the batches behind
// it go on under that epoch.
func TestAnUnknownProducerAfterAnUnansweredAttemptFails(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0 := h.drainOne("b0")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	b0 = h.drainOne("b0 again")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, errRetry)
	require.ErrorIs(t, r.Err, ErrMaybeWritten)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 under epoch 1 from sequence 0")))
}

// x refused for good leaves a gap at its sequence; a behind it is refused
// as out of order as the partition's next batch, and b's answer is lost
// (maybe written). The restart waits for b alone, which goes under its own
// epoch, where an answer may settle it; a, which the broker cannot take
// under that epoch, waits for the restart rather than go again and again
// until its DeliveryTimeout, holding up the partition.
func TestARestartWaitsOnlyForTheRetriesThatMayHaveBeenWritten(t *testing.T) {
	h, a, b := gapThenUnanswered(t)
	// Refused as out of order in turn, b settles nothing: it fails.
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.ErrorIs(t, h.outcome(2).Err, ErrMaybeWritten)
	require.Same(t, a, h.drainOne("a restarted"))
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, a))
	h.acc.Complete(a, 0, -1, nil)
	require.NoError(t, h.outcome(1).Err, "a was retried, not failed")
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("the last batch, behind a")))
}

// As above, but b was written, ahead of a, by a broker that no longer knew
// the producer: acknowledged, b passes a, which fails rather than follow b
// in the log, and the sequences restart behind it.
func TestARetrySettledAheadOfARestartPassesTheUnwrittenBatch(t *testing.T) {
	h, _, b := gapThenUnanswered(t)
	h.acc.Complete(b, 5, -1, nil)
	require.NoError(t, h.outcome(2).Err)
	require.ErrorIs(t, h.outcome(1).Err, errPassed)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the last batch, restarted")))
}

// The restart's gap is behind the retries here: a, refused before any
// append (not written), and b, unanswered (maybe written), go first in
// their order under their epoch, which takes them both; b alone, ahead of
// a, would be refused as out of order and fail as maybe written.
func TestRetriesAheadOfTheGapGoInOrderBeforeTheRestart(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = 2 * time.Second })
	for i := range 4 {
		h.add(tp0, i, big)
	}
	a, b, x := h.drainOne("a"), h.drainOne("b"), h.drainOne("x")
	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Complete(x, -1, -1, errors.New("INVALID_RECORD"))
	require.Same(t, a, h.drainOne("a first"))
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, a))
	h.acc.Complete(a, 0, -1, nil)
	require.Same(t, b, h.drainOne("then b"))
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, b))
	h.acc.Complete(b, 1, -1, nil)
	require.NoError(t, h.outcome(0).Err)
	require.NoError(t, h.outcome(1).Err)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the last batch, behind the gap, restarted")))
}

// gapThenUnanswered leaves tp0 waiting to restart its sequences: x, the
// first of four one-record batches, refused for good, a refused as out of
// order, b unanswered; it returns once b, which may have been written, is
// in flight again alone, under its own epoch.
func gapThenUnanswered(t *testing.T) (h *harness, a, b *Batch) {
	h = idempotent(t, false, func(c *Config) { c.DeliveryTimeout = 2 * time.Second })
	for i := range 4 {
		h.add(tp0, i, big)
	}
	x, a, b := h.drainOne("x"), h.drainOne("a"), h.drainOne("b")
	invalid := errors.New("INVALID_RECORD")
	h.acc.Complete(x, -1, -1, invalid)
	h.acc.Retry(a, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Same(t, b, h.drainOne("b first, alone"))
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, b), "under its own epoch")
	h.drainNone("nothing else until b's answer")
	return h, a, b
}

func TestAFailedBatchLeavesAGapAndTheSequencesRestart(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 3 {
		h.add(tp0, i, big)
	}
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	corrupt := errors.New("CORRUPT_MESSAGE")
	h.acc.Complete(b0, -1, -1, corrupt)
	require.ErrorIs(t, h.outcome(0).Err, corrupt)
	require.NotErrorIs(t, h.outcome(0).Err, ErrMaybeWritten, "a broker's refusal means not written")
	h.drainNone("nothing goes while b1, sent behind the gap, is in flight")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	b1 = h.drainOne("b1 restarted under epoch 1")
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, b1))
	h.acc.Complete(b1, 0, -1, nil)
	require.Equal(t, stampOf{7, 1, 1}, stamped(t, h.drainOne("b2")))
}

// A restart waits for the batches in flight. After a failure a partition
// sends one request at a time until one is acknowledged, which holds it
// back anyway; the restart's own wait is left to do so only when an
// acknowledgement comes while a restart is due: here b1's, past the gap b0
// left (its broker no longer knew the producer), with b2 in flight behind
// it. Restarted before b2's answer, the sequences would number b2 again
// under the new epoch while its bytes say the old one, and b3 would go at
// once.
func TestARestartWaitsForTheBatchesInFlightAfterAnAcknowledgement(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0, b1, b2 := h.drainOne("b0"), h.drainOne("b1"), h.drainOne("b2")
	h.acc.Complete(b0, -1, -1, errors.New("INVALID_RECORD")) // a gap
	h.acc.Complete(b1, 5, -1, nil)
	h.drainNone("the restart waits for b2, in flight")
	h.acc.Complete(b2, 6, -1, nil)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b3, restarted once nothing is in flight")))
}
