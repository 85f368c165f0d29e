package accumulator

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// retryOfOneInFlight drains records 1, 2 and 3 in batches of their own,
// pipelined. The broker times 1 and 2 out waiting for their replicas
// (maybe written) and acknowledges 3 at offset 102, whose callbacks wait
// behind 2's; 1's retry is in flight, and returned. Record 2 waited for
// its topic's metadata for waited2 before its append (Record.Since), which
// brings its DeliveryTimeout (a minute) forward.
func retryOfOneInFlight(t *testing.T, waited2 time.Duration) (*harness, *Batch) {
	h := idempotent(t, false, nil)
	h.add(tp0, 1, big)
	first := h.drainOne("record 1")
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{
		Data:     record.Data{TimestampMs: h.clk.Now().UnixMilli(), Key: []byte("2"), Value: big},
		Callback: 2,
		Since:    h.clk.Now().Add(-waited2),
	})
	require.NoError(t, err)
	second := h.drainOne("record 2")
	h.add(tp0, 3, big)
	third := h.drainOne("record 3")
	h.acc.Retry(first, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Retry(second, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(third, 102, -1, nil)
	require.Same(t, first, h.drainOne("the retry of record 1"))
	return h, first
}

// A batch that fails while a batch before it is in flight has its
// callbacks, and those of the batches acknowledged behind it, run after
// that batch's: here Close aborts while record 1's retry is in flight, and
// record 2 fails. Before, records 2 and 3 (offset 102) had their callbacks
// at the abort, ahead of record 1's (offset 100), which came with its
// retry's answer.
func TestCallbacksOfABatchFailedByAnAbortWaitForTheBatchInFlightBeforeIt(t *testing.T) {
	h, first := retryOfOneInFlight(t, 0)
	h.acc.Abort(errors.New("closing"))
	require.Empty(t, h.orderOf(), "callbacks ran ahead of record 1's, still in flight")

	h.acc.Complete(first, 100, -1, nil) // a duplicate of the write that timed out
	require.Equal(t, []int{1, 2, 3}, h.orderOf())
	require.Equal(t, int64(100), h.outcome(1).Offset)
	require.ErrorIs(t, h.outcome(2).Err, ErrClosed)
	require.ErrorIs(t, h.outcome(2).Err, ErrMaybeWritten)
	require.Equal(t, int64(102), h.outcome(3).Offset)
}

// The batch in flight that the failed ones wait for fails in turn (Close
// broke its connection): every record still has exactly one callback, in
// order.
func TestCallbacksWaitingForABatchInFlightRunWhenItFailsToo(t *testing.T) {
	h, first := retryOfOneInFlight(t, 0)
	h.acc.Abort(errors.New("closing"))
	again := h.acc.Retry(first, Retry{At: h.clk.Now(), Cause: errors.New("connection closed"), MaybeWritten: true})
	require.False(t, again, "a retry after an abort")

	require.Equal(t, []int{1, 2, 3}, h.orderOf())
	require.ErrorIs(t, h.outcome(1).Err, ErrClosed)
	require.ErrorIs(t, h.outcome(2).Err, ErrClosed)
	require.Equal(t, int64(102), h.outcome(3).Offset)
	require.Zero(t, h.acc.Incomplete(), "a batch was never delivered")
}

// The same through expiry: record 2 waited 50 seconds for its topic's
// metadata, so its batch expires while record 1's, which has time left, is
// in flight again. Before, records 2 and 3 had their callbacks at the
// expiry, ahead of record 1's.
func TestCallbacksOfAnExpiredBatchWaitForTheBatchInFlightBeforeIt(t *testing.T) {
	h, first := retryOfOneInFlight(t, 50*time.Second)
	h.clk.Advance(10 * time.Second) // record 2's DeliveryTimeout, not 1's
	h.acc.Expire(h.clk.Now())
	require.Empty(t, h.orderOf(), "callbacks ran ahead of record 1's, still in flight")

	h.acc.Complete(first, 100, -1, nil)
	require.Equal(t, []int{1, 2, 3}, h.orderOf())
	require.Equal(t, int64(100), h.outcome(1).Offset)
	require.ErrorIs(t, h.outcome(2).Err, ErrDeliveryTimeout)
	require.Equal(t, int64(102), h.outcome(3).Offset)
}
