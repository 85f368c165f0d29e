package accumulator

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// kafkaModel is one partition's producer state as Kafka keeps it for one
// producer id (ProducerAppendInfo.checkSequence, ProducerStateEntry's
// duplicate cache of 5 batches), for one-record batches.
type kafkaModel struct {
	epoch int16
	last  int32
	cache []int32 // first sequences of the last batches, this epoch
	log   []string
}

func (m *kafkaModel) apply(s stampOf, name string) string {
	switch {
	case s.epoch == m.epoch && slices.Contains(m.cache, s.seq):
		return "DUPLICATE"
	case s.epoch < m.epoch:
		return "INVALID_PRODUCER_EPOCH"
	case s.epoch > m.epoch && s.seq != 0, s.epoch == m.epoch && s.seq != m.last+1:
		return "OUT_OF_ORDER_SEQUENCE_NUMBER"
	}
	if s.epoch != m.epoch {
		m.epoch, m.cache = s.epoch, nil
	}
	m.last = s.seq
	m.cache = append(m.cache, s.seq)
	if len(m.cache) > 5 {
		m.cache = m.cache[1:]
	}
	m.log = append(m.log, name)
	return "WRITTEN"
}

// attempt is a request the broker has read, its batch's stamp and name.
type attempt struct {
	s    stampOf
	name string
}

// OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that may have been written does
// not clear its doubt, even for the newest batch the partition sent, which
// a broker would answer as a duplicate had it written it: the refusal says
// the batch was not written when that attempt was handled, not that an
// earlier attempt, unanswered, will never be. A broker handles a request it
// has read even after the client gave up on it (RequestTimeout, connection
// closed), on handler threads that race for the partition's lock. Here two
// such late requests, b0's and b1's, land after b1's next attempt was
// refused (b0 was not there yet) and before b1 could go again under a new
// epoch: renumbered, b1 would be written twice, as the Java client's is.
func TestOutOfOrderLeavesAnUnansweredAttemptInDoubt(t *testing.T) {
	h := idempotent(t, false, func(c *Config) { c.DeliveryTimeout = time.Second })
	kafka := &kafkaModel{epoch: 0, last: -1} // the broker knows producer 7 (knownTo)
	h.add(tp0, 0, big)
	h.clk.Advance(500 * time.Millisecond)
	h.add(tp0, 1, big)
	b0, b1 := h.drainOne("b0"), h.drainOne("b1")
	late := []attempt{{stamped(t, b0), "b0"}} // read by the broker, stuck behind a disk stall; b1's request, behind it on the connection, was never read
	h.acc.Retry(b0, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.clk.Advance(600 * time.Millisecond)
	h.acc.Expire(h.clk.Now())
	require.ErrorIs(t, h.outcome(0).Err, ErrMaybeWritten)

	b1 = h.drainOne("b1 again")
	late = append(late, attempt{stamped(t, b1), "b1"}) // read, stuck too; the client times out
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})

	b1 = h.drainOne("b1 a third time")
	answer := kafka.apply(stamped(t, b1), "b1") // its handler thread wins the partition's lock first
	require.Equal(t, "OUT_OF_ORDER_SEQUENCE_NUMBER", answer)
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, SequenceRejected: true})
	for _, l := range late { // then the stuck ones, within the retry backoff
		kafka.apply(l.s, l.name)
	}
	// Renumbered, it would go now, and be written again.
	if bs, _ := h.drain([]TopicPartition{tp0}, 1<<20); len(bs) == 1 {
		answer = kafka.apply(stamped(t, bs[0]), "b1")
		require.Equal(t, "WRITTEN", answer, "under epoch 1 from sequence 0")
		h.acc.Complete(bs[0], 2, -1, nil)
	}
	require.Equal(t, []string{"b0", "b1"}, kafka.log, "b1 is written once")
	require.ErrorIs(t, h.outcome(1).Err, ErrMaybeWritten, "b1, refused out of order after an unanswered attempt")
}
