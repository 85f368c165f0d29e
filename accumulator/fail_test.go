package accumulator

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAbortFailsQueuedAndLaterAppends(t *testing.T) {
	h := newHarness(t, nil)
	total := h.pool.Available()
	h.add(tp0, 1, []byte("v"))
	boom := errors.New("shutting down")
	h.acc.Abort(boom)
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrClosed)
	require.ErrorIs(t, r.Err, boom)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Callback: 2})
	require.ErrorIs(t, err, ErrClosed)
	h.sync()
	require.Equal(t, total, h.pool.Available())
}

// An Append after Abort reads as the abort's cause, as the batches Abort
// fails do, and matches ErrClosed: it said "accumulator closed", which
// reached a callback racing the producer's Close as "producer closed:
// accumulator closed", naming a part of the producer its user never sees.
func TestAnAppendAfterAbortReadsAsTheAbortsCause(t *testing.T) {
	h := newHarness(t, nil)
	boom := errors.New("shutting down")
	h.acc.Abort(boom)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Callback: 1})
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, boom)
	require.EqualError(t, err, boom.Error())
}

// A batch whose request never left (the connection died before writing
// it: a re-authentication refused while the request waited its turn) was
// never sent, though it has its sequence: FailUnsent fails it with the
// refusal, as it fails the batches never drained, and the partition's
// sequences restart behind the gap it leaves. A batch that was sent keeps
// its place. Before, a batch drained once was kept, and waited for its
// DeliveryTimeout behind a broker that refused every connection.
func TestFailUnsentFailsABatchWhoseRequestNeverLeft(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, big)
	}
	b0 := h.drainOne("b0")
	h.acc.Complete(b0, 10, -1, nil)
	b1, b2 := h.drainOne("b1"), h.drainOne("b2")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, NotSent: true})
	h.acc.Retry(b2, Retry{At: h.clk.Now(), Cause: errRetry}) // NOT_ENOUGH_REPLICAS, say

	refused := errors.New("SASL authentication failed")
	h.acc.FailAllUnsent(refused)
	err := h.outcome(1).Err
	require.ErrorIs(t, err, refused, "the batch whose request never left")
	require.NotErrorIs(t, err, ErrMaybeWritten)
	require.ErrorIs(t, h.outcome(3).Err, refused, "the batch never drained")
	require.True(t, h.pending(2), "the batch sent keeps its place")

	require.Equal(t, stampOf{7, 1, 0}, stamped(t, h.drainOne("b2, renumbered under a new epoch behind b1's gap")))
}

// A broker that refuses the producer fails the unsent batches of the
// partitions it leads, and of no other: one that leads none just now (its
// partitions moved between its drain and the refusal) fails nothing. Before,
// no partitions meant every partition, and one broker's refused
// authentication failed the batches waiting for every other broker.
func TestARefusalForNoPartitionsFailsNothing(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	refused := errors.New("SASL authentication failed")
	h.acc.FailUnsent(nil, refused)
	h.acc.FailUnsent([]TopicPartition{}, refused)
	require.True(t, h.pending(0), "a refusal for no partitions failed the record")
	h.acc.FailUnsent([]TopicPartition{tp0}, refused)
	require.ErrorIs(t, h.outcome(0).Err, refused)
}
