package accumulator

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// twoInABatch is a harness without idempotence that has drained tp0's one
// batch, of records 0 and 1.
func twoInABatch(t *testing.T, mod func(*Config)) (*harness, *Batch) {
	h := newHarness(t, func(c *Config) {
		c.Linger = 0
		if mod != nil {
			mod(c)
		}
	})
	h.add(tp0, 0, []byte("a"))
	h.add(tp0, 1, []byte("b"))
	return h, h.drainOne("records 0 and 1")
}

// A batch refused MESSAGE_TOO_LARGE after the producer stopped for good
// fails at once, with ErrProducerStopped and the refusal, rather than split:
// nothing more is sent. Broken, its halves took its place and waited for
// their DeliveryTimeout (two minutes by default), holding up a Flush or
// Close, to fail with a timeout that did not say the producer had stopped.
func TestABatchTooLargeAfterAStopFailsRatherThanSplit(t *testing.T) {
	h, b := twoInABatch(t, nil)
	fenced := errors.New("PRODUCER_FENCED")
	h.acc.Fatal(Fenced, fenced)
	require.False(t, h.acc.Split(b, kerr.MessageTooLarge, nil), "split after the stop")
	for id := range 2 {
		err := h.outcome(id).Err
		require.ErrorIs(t, err, ErrProducerStopped, "record %d", id)
		require.ErrorIs(t, err, fenced, "record %d", id)
		require.ErrorIs(t, err, kerr.MessageTooLarge, "record %d", id)
	}
}

// The halves of a batch that an earlier attempt may have written fail, if
// they do, as maybe written: they carry its records. Broken, they failed
// as certainly not written, and a caller that resends such records wrote
// them twice.
func TestTheHalvesOfAMaybeWrittenBatchFailAsMaybeWritten(t *testing.T) {
	h, b := twoInABatch(t, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: kerr.RequestTimedOut, MaybeWritten: true})
	require.True(t, h.acc.Split(h.drainOne("the retry"), kerr.MessageTooLarge, nil))
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	for id := range 2 {
		err := h.outcome(id).Err
		require.ErrorIs(t, err, ErrDeliveryTimeout, "record %d", id)
		require.ErrorIs(t, err, ErrMaybeWritten, "record %d", id)
	}
}

func TestSplitKeepsCallbacksAndOrder(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	total := h.pool.Available()
	for i := 0; i < 5; i++ {
		h.add(tp0, i, []byte(fmt.Sprintf("value-%d", i)))
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.True(t, h.acc.Split(bs[0], errRetry, nil))
	require.Equal(t, total, h.pool.Available(), "the parent's pooled buffer is returned at once")

	first, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, first, 1)
	require.Equal(t, 2, first[0].Records())
	second, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, second, 1)
	require.Equal(t, 3, second[0].Records())

	d, _, err := record.DecodeBatch(second[0].Encoded())
	require.NoError(t, err)
	require.Equal(t, []byte("value-2"), d.Records[0].Value)

	h.acc.Complete(first[0], 10, -1, nil)
	h.acc.Complete(second[0], 12, -1, nil)
	for i := 0; i < 5; i++ {
		require.Equal(t, int64(10+i), h.outcome(i).Offset)
	}

	h.add(tp0, 9, []byte("alone"))
	lone, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.False(t, h.acc.Split(lone[0], errRetry, nil), "one record cannot be split")
	require.ErrorIs(t, h.outcome(9).Err, errRetry, "and fails with the broker's error")
}

func TestSplitHalvesKeepTheSequences(t *testing.T) {
	h := idempotent(t, false, nil)
	for i := range 4 {
		h.add(tp0, i, []byte("four records in one batch"))
	}
	parent := h.drainOne("the batch of four")
	h.add(tp0, 4, []byte("the next batch"))
	next := h.drainOne("the next batch")
	require.Equal(t, int32(4), stamped(t, next).seq)

	require.True(t, h.acc.Split(parent, errRetry, nil))
	h.acc.Retry(next, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true}) // the broker lacked the parent
	for i, want := range []stampOf{{7, 0, 0}, {7, 0, 2}, {7, 0, 4}} {
		b := h.drainOne("halves, then the next batch")
		require.Equal(t, want, stamped(t, b), "batch %d", i)
		h.acc.Complete(b, int64(100+want.seq), -1, nil)
	}
	for i := range 5 {
		require.Equal(t, int64(100+i), h.outcome(i).Offset)
	}
}
