package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A batch expired in flight has its outcome, but its sequence stays: the
// partition may not move past it by guessing.
func TestExpiredInFlightBatchIsResolvedByALaterAcknowledgement(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.clk.Advance(500 * time.Millisecond)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.clk.Advance(500 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "its request may still write it")

	// The connection broke under both requests.
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.add(tp0, 2, big)
	again := h.drainOne("b1 is retried with its old sequence: its fate decides b0's")
	require.Same(t, b1, again)
	require.Equal(t, stampOf{7, 0, 1}, stamped(t, again))
	h.drainNone("b2 may not pass the unresolved b0 while b1 is in flight")
	h.acc.Complete(b1, 11, -1, nil) // b1 written, so b0 was too
	require.Equal(t, int64(11), h.outcome(1).Offset)
	require.Equal(t, stampOf{7, 0, 2}, stamped(t, h.drainOne("b2 follows under the same epoch")))
	require.Equal(t, int64(-1), h.outcome(0).Offset, "b0 still has its one outcome")
}

func TestExpiredInFlightBatchLeftUnresolvedRestartsTheSequences(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	total := h.pool.Available()
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.clk.Advance(time.Second)
	require.Equal(t, noDeadline, h.acc.Expire(h.clk.Now()))
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten)
	h.add(tp0, 1, big)
	h.drainNone("b1 waits while b0's request may still be written")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 under a new epoch, which fences off b0's late write")))
	h.acc.Complete(b0, 0, -1, nil) // ignored: b0 is not in flight
	h.sync()
	require.Equal(t, total-1024, h.pool.Available(), "b0's memory is back; b1's is in flight")
}

func TestExpiryOfARetryThatCannotHaveBeenWritten(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0")
	h.retry(b0, 5*time.Second) // NOT_ENOUGH_REPLICAS: the broker refused it
	require.Equal(t, time.Second, h.acc.Expire(h.clk.Now()), "a batch waiting for a retry still has its deadline")
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, errRetry, "the timeout names the last cause")
	require.NotErrorIs(t, r.Err, ErrMaybeWritten)
	h.add(tp0, 1, big)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("the gap it leaves restarts the sequences")))
}

// resentMaybeWritten is an idempotent harness whose record 0's batch went
// unanswered (it may have been written) and is drained again: its retry.
func resentMaybeWritten(t *testing.T) (*harness, *Batch) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Retry(h.drainOne("b0"), Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	return h, h.drainOne("b0 again")
}

func TestUnansweredAttemptMakesAnyLaterFailureMaybeWritten(t *testing.T) {
	h, b0 := resentMaybeWritten(t)
	denied := errors.New("TOPIC_AUTHORIZATION_FAILED")
	h.acc.Complete(b0, -1, -1, denied)
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, denied)
	require.ErrorIs(t, r.Err, ErrMaybeWritten, "the first attempt may have been written")
}

// A retry that may have been written, refused for its sequence after the
// producer stopped for good (another partition's answer fenced it), fails
// with the stop's error as well as maybe written. Broken, its error said
// only that it was not sent again under a newer epoch, as if the producer
// went on: a caller that stops on errors.Is(err, ErrProducerStopped) kept
// producing, every later record refused.
func TestAMaybeWrittenRetryRefusedItsSequenceAfterAStopSaysTheProducerStopped(t *testing.T) {
	h, b0 := resentMaybeWritten(t)
	fenced := errors.New("PRODUCER_FENCED")
	h.acc.Fatal(Fenced, fenced)
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.ErrorIs(t, err, ErrProducerStopped, "the producer had stopped: %v", err)
	require.ErrorIs(t, err, fenced, "and why")
}

// A retry that may have been written, refused for its sequence as its
// partition's next batch, fails (resent under a new epoch it could be
// written twice), and the sequences restart for the retry waiting behind
// it: that one goes under the new epoch, from sequence 0. Broken, it went
// once more under the old epoch, behind a sequence the broker lacks, to be
// refused in turn: a round trip and an attempt lost for each retry behind.
func TestARetryBehindAMaybeWrittenOneRefusedItsSequenceGoesUnderTheNewEpoch(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	b0 = h.drainOne("b0 again, alone")
	require.Equal(t, stampOf{7, 0, 0}, stamped(t, b0), "under its own epoch")
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten)
	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b1 again")), "b1 restarts the sequences under epoch 1")
}
