package accumulator

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A batch that times out without ever being sent says what kept its
// partition from sending: the partition's last error.
func TestATimeoutOfANeverSentBatchNamesThePartitionsLastError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second; c.MaxInFlight = 1 })
	h.add(tp0, 0, make([]byte, 600))
	h.add(tp0, 1, make([]byte, 600)) // a batch of its own, behind
	b0, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.retry(b0[0], time.Hour) // NOT_ENOUGH_REPLICAS, say; the backoff outlasts the timeout
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, errRetry, "the never-sent batch names the partition's last error")
	require.Contains(t, r.Err.Error(), "1 record had no outcome")
	require.Contains(t, r.Err.Error(), "never sent", "it said \"1 records\", \"sent 0 times\"")
}

// A batch that times out never sent, with no error of its own or of its
// partition (its topic's metadata was refused: no leader, no sender ever
// drained it), names its topic's metadata error, which says why; it said
// only that it was sent 0 times.
func TestATimeoutOfANeverSentBatchNamesItsTopicsMetadataError(t *testing.T) {
	refusal := errors.New("TOPIC_AUTHORIZATION_FAILED")
	h := newHarness(t, func(c *Config) {
		c.DeliveryTimeout = time.Second
		c.TopicErr = func(topic string) error {
			if topic == tp0.Topic {
				return refusal
			}
			return nil
		}
	})
	h.add(tp0, 0, []byte("v"))
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	r := h.outcome(0)
	require.ErrorIs(t, r.Err, ErrDeliveryTimeout)
	require.ErrorIs(t, r.Err, refusal, "the never-sent batch names its topic's metadata error")
	require.Contains(t, r.Err.Error(), "1 record had no outcome")
	require.Contains(t, r.Err.Error(), "never sent", "it said \"1 records\", \"sent 0 times\"")
}

// A broker unreachable for a while is named by a timeout only until the
// partition is written to again: a batch that times out after an
// acknowledgement does not blame the old outage.
func TestAnAcknowledgementClearsAnUnreachableBrokersError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, h.outcome(0).Err)

	h.add(tp0, 1, nil) // never sent
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(1).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.NotErrorIs(t, err, outage, "the outage ended with the acknowledgement")
}

// Why InitProducerId gave no id is booked for every partition: the batches
// that time out waiting for the id name it, where they said only that they
// were sent 0 times.
func TestBatchesTimingOutWithoutAProducerIDNameWhyNoneCame(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Idempotent = true; c.Linger = 0; c.DeliveryTimeout = time.Second })
	noID := errors.New("no producer id: InitProducerId: COORDINATOR_NOT_AVAILABLE")
	parts := []TopicPartition{part(0), part(1)}
	for i, tp := range parts {
		h.add(tp, i, nil)
	}
	bs, _ := h.drain(parts, 1<<20)
	require.Empty(t, bs, "nothing goes without a producer id")
	require.Equal(t, 1, h.asked)
	h.acc.NoProducerID(noID)
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	for i := range parts {
		err := h.outcome(i).Err
		require.ErrorIs(t, err, ErrDeliveryTimeout)
		require.ErrorIs(t, err, noID, "record %d names why it was never sent", i)
	}
}

// Why InitProducerId gave no id is named only while the producer has none:
// once the id came, a batch that times out for another reason names that
// reason (here its topic's access, revoked), not a failure the id's coming
// ended. Before, the booking outlived the id as the partitions' last error.
func TestAnIDThatCameIsNotBlamedForATimeout(t *testing.T) {
	refusal := errors.New("TOPIC_AUTHORIZATION_FAILED")
	revoked := false
	h := newHarness(t, func(c *Config) {
		c.Idempotent, c.Linger, c.DeliveryTimeout = true, 0, time.Second
		c.TopicErr = func(string) error {
			if revoked {
				return refusal
			}
			return nil
		}
	})
	noID := errors.New("no producer id: InitProducerId: COORDINATOR_NOT_AVAILABLE")
	h.add(tp0, 0, nil)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, bs, "nothing goes without a producer id")
	h.acc.NoProducerID(noID)                         // the first InitProducerId failed
	h.acc.SetProducerID(ProducerID{ID: 7, Epoch: 0}) // the next gave the id
	revoked = true                                   // no leader from now on: never drained
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.NotErrorIs(t, err, noID, "the id came; it did not keep the batch")
	require.ErrorIs(t, err, refusal, "the topic's metadata error kept it")
}

// An unreachable broker's error is booked only for partitions with a batch
// waiting to be sent: one whose batches are all in flight waits for their
// answers, not for a connection, and a batch that joins it later is the
// next connection's to name.
func TestUnreachableSkipsAPartitionWithNothingWaiting(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.drain([]TopicPartition{tp0}, 1<<20) // in flight
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	h.add(tp0, 1, nil)
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	require.NotErrorIs(t, h.outcome(0).Err, outage)
	require.NotErrorIs(t, h.outcome(1).Err, outage)
}

// An unreachable broker's error, booked while a batch waited, does not
// explain that batch's timeout once it was sent: the batch expires in
// flight as maybe written, not blaming an outage that ended before.
func TestABatchSentAfterAnOutageTimesOutInFlightWithoutNamingIt(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.DeliveryTimeout = time.Second })
	outage := errors.New("broker 1 unreachable: connection refused")
	h.add(tp0, 0, nil)
	h.acc.Unreachable([]TopicPartition{tp0}, outage)
	h.drain([]TopicPartition{tp0}, 1<<20) // in flight, unanswered
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.NotErrorIs(t, err, outage, "the broker was reached: the batch was sent")
}

// A timeout's error counts the requests that reached the broker, not those
// that died unwritten.
func TestATimeoutCountsOnlyTheRequestsThatLeft(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	h.add(tp0, 0, big)
	h.acc.Retry(h.drainOne("b0"), Retry{At: h.clk.Now(), Cause: errRetry, NotSent: true})
	h.acc.Retry(h.drainOne("b0 again"), Retry{At: h.clk.Now(), Cause: errRetry})
	h.clk.Advance(time.Second)
	h.acc.Expire(h.clk.Now())
	err := h.outcome(0).Err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "sent once")
}
