package accumulator

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLogAppendTimeReplacesTimestamp(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, nil)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Complete(bs[0], 7, 1234, nil)
	r := h.outcome(1)
	require.Equal(t, int64(1234), r.Timestamp)
	require.Equal(t, int32(-1), r.ValueSize, "nil value has size -1")
}

// A broker answers a duplicate with the batch's maximum timestamp where a
// LogAppendTime would be: on a CreateTime topic the records keep their own.
func TestADuplicateKeepsTheRecordsTimestamps(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil) // a first attempt: CreateTime
	h.add(tp0, 1, big)
	b1 := h.drainOne("b1")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry, MaybeWritten: true})
	h.acc.Complete(h.drainOne("b1 again"), 1, 999, nil) // the duplicate's answer
	require.NotEqual(t, int64(999), h.outcome(1).Timestamp)

	h.add(part(1), 2, big)
	bs, _ := h.drain([]TopicPartition{part(1)}, 1<<20)
	h.acc.Complete(bs[0], 0, 777, nil) // a LogAppendTime topic
	require.Equal(t, int64(777), h.outcome(2).Timestamp)
}

// A topic created again may stamp its records otherwise than the old one
// (message.timestamp.type): a retried batch's LogAppendTime from the new
// topic is the records' timestamp, though the old topic kept their own.
// Before, the old topic's CreateTime held, and the broker's time was
// dropped.
func TestARecreatedTopicLearnsItsTimestampsAgain(t *testing.T) {
	h := idempotent(t, false, nil)
	h.add(tp0, 0, big)
	h.acc.Complete(h.drainOne("b0"), 0, -1, nil) // a first attempt: CreateTime
	h.acc.Recreated([]string{tp0.Topic})
	h.add(tp0, 1, big)
	b1 := h.drainOne("b1")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Complete(h.drainOne("b1 again"), 0, 999, nil) // a LogAppendTime topic
	require.Equal(t, int64(999), h.outcome(1).Timestamp)

	// Nor does the answer to a batch sent to the old topic, answered after
	// the metadata named the new one, teach the new topic anything.
	h = idempotent(t, false, nil)
	h.add(tp0, 0, big)
	b0 := h.drainOne("b0, to the old topic")
	h.acc.Recreated([]string{tp0.Topic})
	h.acc.Complete(b0, 0, -1, nil) // the old topic's CreateTime
	h.add(tp0, 1, big)
	b1 = h.drainOne("b1, to the new topic")
	h.acc.Retry(b1, Retry{At: h.clk.Now(), Cause: errRetry})
	h.acc.Complete(h.drainOne("b1 again"), 1, 999, nil)
	require.Equal(t, int64(999), h.outcome(1).Timestamp, "the new topic's append time")
}
