package accumulator

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

func TestCompleteGivesOffsetsAndReturnsMemory(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	total := h.pool.Available()
	for i := 0; i < 5; i++ {
		h.add(tp0, i, []byte("v"))
	}
	require.Less(t, h.pool.Available(), total)
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.acc.Complete(bs[0], 100, -1, nil)
	for i := 0; i < 5; i++ {
		r := h.outcome(i)
		require.NoError(t, r.Err)
		require.Equal(t, int64(100+i), r.Offset)
		require.Equal(t, int32(1), r.KeySize)
		require.Equal(t, int32(1), r.ValueSize)
	}
	require.Equal(t, total, h.pool.Available(), "the batch's buffer went back to the pool")
	h.acc.Complete(bs[0], 200, -1, nil)
	h.outcome(0) // still exactly one outcome after a second Complete
	require.Zero(t, h.acc.Incomplete())
	_, inFlight := h.acc.Queued(tp0)
	require.Zero(t, inFlight, "a second Complete changed the in-flight count")
}

// Each record's outcome gives its own sizes and timestamp, whether its
// facts took a byte each or longer varints (a value of 127 bytes or more,
// a timestamp before the batch's first), as delivery reads them.
func TestCompleteGivesEachRecordItsFacts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	values := [][]byte{[]byte("v"), make([]byte, 300), nil, make([]byte, 126), make([]byte, 127), []byte("w")}
	now := h.clk.Now().UnixMilli()
	timestamps := []int64{now, now, now - 1000, now, now + 5, now}
	for i, v := range values {
		_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{TimestampMs: timestamps[i], Key: []byte(fmt.Sprint(i)), Value: v}, Callback: i})
		require.NoError(t, err)
	}
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	h.acc.Complete(bs[0], 100, -1, nil)
	for i, v := range values {
		r := h.outcome(i)
		require.Equal(t, int64(100+i), r.Offset, "record %d", i)
		require.Equal(t, int32(1), r.KeySize, "record %d", i)
		require.Equal(t, sizeOf(v), r.ValueSize, "record %d", i)
		require.Equal(t, timestamps[i], r.Timestamp, "record %d", i)
	}
}

func TestRetryWaitsForBackoffAndKeepsBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	first := append([]byte(nil), bs[0].Encoded()...)
	h.retry(bs[0], 100*time.Millisecond)
	require.Equal(t, []TopicPartition{tp0}, h.woken, "a retry wakes the partition's leader's sender")

	again, next := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, again)
	require.Equal(t, 100*time.Millisecond, next)
	h.clk.Advance(100 * time.Millisecond)
	again, _ = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, again, 1)
	require.Equal(t, first, again[0].Encoded(), "a retry resends the same bytes")
}

func TestRetryAfterAbortFailsTheBatch(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, []byte("v"))
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	h.acc.Abort(errors.New("closing"))
	h.retry(bs[0], 0)
	r := h.outcome(1)
	require.ErrorIs(t, r.Err, ErrClosed)
	require.ErrorIs(t, r.Err, errRetry, "the reason for the retry is kept")
	_, inFlight := h.acc.Queued(tp0)
	require.Zero(t, inFlight)
	h.sync()
	require.Zero(t, h.acc.Incomplete())
}
