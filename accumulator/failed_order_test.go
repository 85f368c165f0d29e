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

// pipelinedThree drains records 1, 2 and 3 in batches of their own,
// pipelined. The broker times 1 and 2 out waiting for their replicas
// (maybe written) and acknowledges 3 at offset 102, whose callbacks wait
// behind 2's. With resend, 1's retry is in flight again; without, it
// waits 20 seconds for its backoff. Record 2 waited for its topic's
// metadata for waited2 before its append (Record.Since), which brings its
// DeliveryTimeout (a minute) forward.
func pipelinedThree(t *testing.T, waited2 time.Duration, resend bool) (*harness, *Batch) {
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
	retryAt := h.clk.Now()
	if !resend {
		retryAt = retryAt.Add(20 * time.Second)
	}
	h.acc.Retry(first, Retry{At: retryAt, Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Retry(second, Retry{At: retryAt, Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(third, 102, -1, nil)
	if resend {
		require.Same(t, first, h.drainOne("the retry of record 1"))
	}
	return h, first
}

// A batch that fails while a batch before it still awaits its outcome has
// its callbacks at once, while those of the batches acknowledged behind it
// wait for that batch's: here Close aborts while record 1's retry is in
// flight. Before, record 3 (offset 102) had its callback at the abort,
// ahead of record 1's (offset 100), which came with its retry's answer.
func TestAcknowledgementsBehindABatchFailedByAnAbortWaitForTheBatchInFlightBeforeIt(t *testing.T) {
	h, first := pipelinedThree(t, 0, true)
	h.acc.Abort(errors.New("closing"))
	require.Equal(t, []int{2}, h.orderOf(), "record 2 fails at the abort; record 3's acknowledgement waits for record 1")

	h.acc.Complete(first, 100, -1, nil) // a duplicate of the write that timed out
	require.Equal(t, []int{2, 1, 3}, h.orderOf())
	require.Equal(t, int64(100), h.outcome(1).Offset)
	require.ErrorIs(t, h.outcome(2).Err, ErrClosed)
	require.ErrorIs(t, h.outcome(2).Err, ErrMaybeWritten)
	require.Equal(t, int64(102), h.outcome(3).Offset)
}

// The batch that the acknowledgements wait for fails in turn (Close broke
// its connection): every record still has exactly one callback.
func TestAcknowledgementsWaitingForABatchRunWhenItFailsToo(t *testing.T) {
	h, first := pipelinedThree(t, 0, true)
	h.acc.Abort(errors.New("closing"))
	again := h.acc.Retry(first, Retry{At: h.clk.Now(), Cause: errors.New("connection closed"), MaybeWritten: true})
	require.False(t, again, "a retry after an abort")

	require.Equal(t, []int{2, 1, 3}, h.orderOf())
	require.ErrorIs(t, h.outcome(1).Err, ErrClosed)
	require.ErrorIs(t, h.outcome(2).Err, ErrClosed)
	require.Equal(t, int64(102), h.outcome(3).Offset)
	require.Zero(t, h.acc.Incomplete(), "a batch was never delivered")
}

// The same through expiry, whether the earlier batch is in flight or
// waits for its retry: record 2 waited 50 seconds for its topic's
// metadata, so its batch expires first and its callback comes at its
// DeliveryTimeout, not at record 1's; record 3's acknowledgement waits for
// record 1.
func TestAnExpiredBatchsCallbacksComeAtItsDeliveryTimeoutAndTheAcknowledgementsBehindItWait(t *testing.T) {
	for _, resend := range []bool{true, false} {
		h, first := pipelinedThree(t, 50*time.Second, resend)
		h.clk.Advance(10 * time.Second) // record 2's DeliveryTimeout, not 1's
		h.acc.Expire(h.clk.Now())
		require.Equal(t, []int{2}, h.orderOf(), "resend %v: record 2 fails at its DeliveryTimeout", resend)
		require.ErrorIs(t, h.outcome(2).Err, ErrDeliveryTimeout)

		if !resend {
			h.clk.Advance(10 * time.Second)
			require.Same(t, first, h.drainOne("the retry of record 1"))
		}
		h.acc.Complete(first, 100, -1, nil)
		require.Equal(t, []int{2, 1, 3}, h.orderOf(), "resend %v", resend)
		require.Equal(t, int64(100), h.outcome(1).Offset)
		require.Equal(t, int64(102), h.outcome(3).Offset)
	}
}

// Records a broker's refusal fails before they were ever sent (FailUnsent)
// have their callbacks at once, though a batch before them waits for its
// retry and can only time out while the broker refuses: ErrAuthentication
// promises a failure at once, and their memory goes back with it.
func TestRecordsFailedByARefusalHaveTheirCallbacksAtOnceBehindABatchAwaitingItsRetry(t *testing.T) {
	for _, idem := range []bool{false, true} {
		var h *harness
		if idem {
			h = idempotent(t, false, nil)
		} else {
			h = newHarness(t, nil)
		}
		h.add(tp0, 1, big)
		h.clk.Advance(20 * time.Millisecond) // past Linger
		bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
		require.Len(t, bs, 1)
		// The connection broke under record 1's batch.
		h.acc.Retry(bs[0], Retry{At: h.clk.Now().Add(time.Second), Cause: errRetry, MaybeWritten: true})
		for id := 2; id <= 5; id++ {
			h.add(tp0, id, big)
		}
		h.acc.FailAllUnsent(errors.New("SASL authentication failed"))
		require.Equal(t, []int{2, 3, 4, 5}, h.orderOf(), "idempotent %v: the refused records' callbacks", idem)
		require.True(t, h.pending(1), "idempotent %v", idem)
	}
}

// Nothing was sent and no offset exists: record 2, which waited 50
// seconds for its topic's metadata, has its callback at its own
// DeliveryTimeout, not at the expiry of record 1's batch before it.
func TestAnExpiredRecordNeverSentHasItsCallbackAtItsDeliveryTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.BatchSize = 1024 })
	h.add(tp0, 1, big)
	_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Key: []byte("2"), Value: big}, Callback: 2,
		Since: h.clk.Now().Add(-50 * time.Second)})
	require.NoError(t, err)
	h.clk.Advance(10 * time.Second) // record 2's DeliveryTimeout, a minute from its Since
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(2).Err, ErrDeliveryTimeout)
	require.True(t, h.pending(1))
}

// The acknowledgements a failed batch hands back join the end of those
// already waiting for the earlier batch: five pipelined batches, 1 and 3
// maybe written and waiting for their retries, 2 acknowledged behind 1,
// and 4 and 5 behind 3. When 3 fails (Close's abort while 1's retry is in
// flight), its callback comes at once, and once 1 is acknowledged the
// others follow in offset order: 3, 1, 2, 4, 5.
func TestAcknowledgementsHandedBackByAFailedBatchKeepTheirOrder(t *testing.T) {
	h := idempotent(t, false, nil)
	var bs []*Batch
	for id := 1; id <= 5; id++ {
		h.add(tp0, id, big)
		bs = append(bs, h.drainOne("a record's batch"))
	}
	h.acc.Retry(bs[0], Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Retry(bs[2], Retry{At: h.clk.Now().Add(time.Second), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	h.acc.Complete(bs[1], 101, -1, nil)
	h.acc.Complete(bs[3], 103, -1, nil)
	h.acc.Complete(bs[4], 104, -1, nil)
	require.Empty(t, h.orderOf())
	require.Same(t, bs[0], h.drainOne("the retry of record 1"))

	h.acc.Abort(errors.New("closing"))
	require.Equal(t, []int{3}, h.orderOf())
	h.acc.Complete(bs[0], 100, -1, nil)
	require.Equal(t, []int{3, 1, 2, 4, 5}, h.orderOf())
	require.Zero(t, h.acc.Incomplete())
}
