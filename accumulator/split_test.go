package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/protocol/kerr"
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
