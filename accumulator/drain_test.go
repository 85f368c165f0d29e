package accumulator

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

func TestLingerMakesBatchReady(t *testing.T) {
	h := newHarness(t, nil)
	res := h.add(tp0, 1, []byte("v"))
	require.True(t, res.Wake, "a new batch must wake the sender to arm its linger timer")
	require.Positive(t, res.Bytes)

	bs, next := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, bs, "a batch is not ready before Linger")
	require.Equal(t, 10*time.Millisecond, next)

	h.clk.Advance(4 * time.Millisecond)
	_, next = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Equal(t, 6*time.Millisecond, next)

	h.clk.Advance(6 * time.Millisecond)
	bs, _ = h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	require.Equal(t, 1, bs[0].Records())
	decoded, _, err := record.DecodeBatch(bs[0].Encoded())
	require.NoError(t, err)
	require.Equal(t, []byte("v"), decoded.Records[0].Value)
}

func TestFullBatchIsReadyAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	value := make([]byte, 100)
	var woke int
	for i := 0; i < 20; i++ {
		if h.add(tp0, i, value).Wake {
			woke++
		}
	}
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 3, queued, "20 records of ~110 bytes make three batches of at most 1024 bytes")
	require.GreaterOrEqual(t, woke, 3)

	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1, "one batch per partition per drain")
	require.LessOrEqual(t, len(bs[0].Encoded()), 1024)
	require.Greater(t, len(bs[0].Encoded())+110, 1024, "the batch was sealed only when the next record did not fit")
}

func TestDrainIsFairAndPacksUpToMaxBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	parts := []TopicPartition{part(0), part(1), part(2)}
	value := make([]byte, 300)
	for i, tp := range parts {
		h.add(tp, i, value)
	}
	one := record.BatchHeaderSize + record.RecordSize(0, 0, []byte("0"), value, nil)

	bs, next, start := h.acc.Drain(nil, node, parts, 0, 2*one+10, false, h.clk.Now())
	require.Len(t, bs, 2, "two batches fit the request")
	require.Equal(t, int32(0), bs[0].TP.Partition)
	require.Equal(t, int32(1), bs[1].TP.Partition)
	require.Equal(t, 2, start, "the next request starts where this one stopped")
	require.Zero(t, next, "more is ready now")

	for i := range parts {
		h.add(parts[i], 10+i, value)
	}
	bs, _, _ = h.acc.Drain(nil, node, parts, start, 2*one+10, false, h.clk.Now())
	require.Equal(t, int32(2), bs[0].TP.Partition, "the partition left out last time goes first")
	require.Len(t, bs, 1, "partition 2's batch, now of two records, leaves no room for another")
}

func TestDrainReturnsOneBatchLargerThanMaxBytes(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0 })
	h.add(tp0, 1, make([]byte, 500))
	bs, _ := h.drain([]TopicPartition{tp0}, 100)
	require.Len(t, bs, 1, "a lone batch is sent even when larger than maxBytes; the record size check bounds it")
}

func TestMaxInFlightOneMutesPartitionWhileInFlight(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = 0; c.MaxInFlight = 1 })
	h.add(tp0, 1, make([]byte, 600))
	h.add(tp0, 2, make([]byte, 600)) // does not fit: second batch
	bs, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, bs, 1)
	none, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Empty(t, none, "the second batch must wait for the first")
	h.retry(bs[0], 0)
	retry, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, retry, 1)
	require.Same(t, bs[0], retry[0], "the retried batch goes before the later one")
	h.acc.Complete(retry[0], 0, -1, nil)
	second, _ := h.drain([]TopicPartition{tp0}, 1<<20)
	require.Len(t, second, 1)
	require.Equal(t, 1, second[0].Records())
}

func TestMemoryPressureMakesBatchesReady(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Linger = time.Hour; c.MaxBlock = time.Hour })
	// Fill the pool: 64 partitions take one 1024-byte buffer each.
	var parts []TopicPartition
	for i := int32(0); i < 64; i++ {
		tp := part(i)
		parts = append(parts, tp)
		h.add(tp, int(i), []byte("v"))
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := h.acc.Append(context.Background(), part(64), nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: 64})
		blocked <- err
	}()
	waitFor(t, "an appender to wait for memory", func() bool { return h.pool.Waiters() == 1 })

	bs, _ := h.drain(parts, 1<<20)
	require.Len(t, bs, 64, "with a waiter for memory every batch is ready despite Linger")
	h.acc.Complete(bs[0], 0, -1, nil)
	require.NoError(t, receive(t, blocked, "the blocked append did not get memory after a batch completed"))
}

func TestReadyWithoutDraining(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{tp0, part(1)}
	ready, next := h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, noDeadline, next, "nothing queued: nothing to wait for")

	h.add(tp0, 1, []byte("v"))
	ready, next = h.acc.Ready(node, parts, false, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 10*time.Millisecond, next, "the linger of the only batch")

	h.clk.Advance(10 * time.Millisecond)
	ready, _ = h.acc.Ready(node, parts, false, h.clk.Now())
	require.True(t, ready)
	queued, _ := h.acc.Queued(tp0)
	require.Equal(t, 1, queued, "Ready takes nothing")
}

// A request that goes anyway takes the node's lingering batches along (the
// Java client's drain), whichever side of the ready batch they are on; a
// batch waiting out a retry backoff stays.
func TestARequestTakesTheLingeringBatchesAlong(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1), part(2), part(3)}
	h.add(part(0), 0, []byte("lingering before"))
	h.add(part(1), 1, make([]byte, 1100)) // full: ready now
	h.add(part(2), 2, []byte("lingering after"))
	h.add(part(3), 3, []byte("to retry"))
	h.clk.Advance(10 * time.Millisecond)
	bs, _ := h.drain([]TopicPartition{part(3)}, 1<<20)
	require.Len(t, bs, 1)
	h.retry(bs[0], time.Second)

	h.add(part(3), 4, []byte("behind the retry"))
	bs, _ = h.drain(parts, 1<<20)
	var got []int32
	for _, b := range bs {
		got = append(got, b.TP.Partition)
	}
	require.ElementsMatch(t, []int32{0, 1, 2}, got, "the full batch and both lingering ones; not the one in backoff")

	h.add(part(0), 5, []byte("alone"))
	bs, next := h.drain(parts, 1<<20)
	require.Empty(t, bs, "with nothing ready, a lingering batch waits")
	require.Equal(t, 10*time.Millisecond, next)
}

// While its broker has a request of ours in flight (busy), a batch that
// is not full waits for the answer even once its linger is over: the
// broker would hold a request sent behind the other until then. A full
// batch goes, and takes the waiting ones along; so do retries.
func TestABusyBrokerIsSentOnlyFullBatchesAndRetries(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1), part(2)}
	busyDrain := func() []int32 {
		bs, _, _ := h.acc.Drain(nil, node, parts, 0, 1<<20, true, h.clk.Now())
		var got []int32
		for _, b := range bs {
			got = append(got, b.TP.Partition)
		}
		return got
	}
	h.add(part(0), 0, []byte("lingered long enough"))
	h.clk.Advance(10 * time.Millisecond)
	ready, next := h.acc.Ready(node, parts, true, h.clk.Now())
	require.False(t, ready, "a batch that is not full waits for the answer in flight")
	require.Equal(t, noDeadline, next, "the answer, not a timer, lets it go")
	require.Empty(t, busyDrain())
	ready, _ = h.acc.Ready(node, parts, false, h.clk.Now())
	require.True(t, ready, "once nothing is in flight, its linger decides")

	h.add(part(1), 1, make([]byte, 1100)) // full: ready now
	require.ElementsMatch(t, []int32{0, 1}, busyDrain(), "the full batch goes and takes the waiting one along")

	h.add(part(2), 2, []byte("to retry"))
	h.clk.Advance(10 * time.Millisecond)
	bs, _ := h.drain([]TopicPartition{part(2)}, 1<<20)
	require.Len(t, bs, 1)
	h.retry(bs[0], time.Second)
	h.clk.Advance(time.Second)
	require.Equal(t, []int32{2}, busyDrain(), "a retry does not wait for answers to other requests")
}

// A batch held while its broker is busy goes along with a full batch only
// if it fits beside it. One left out for lack of room waits no longer for
// the answer in flight, only for its linger, and goes in the next request:
// full batches that each left it no room would otherwise keep the broker
// busy, and the batch waiting, until its DeliveryTimeout.
func TestABatchLeftOutOfABusyRequestGoesInTheNext(t *testing.T) {
	h := newHarness(t, nil)
	parts := []TopicPartition{part(0), part(1)}
	big := make([]byte, 1100) // a batch of its own, full
	maxBytes := record.BatchHeaderSize + record.RecordSize(0, 0, []byte("1"), big, nil) + 10
	busyDrain := func(start int) ([]int32, int) {
		bs, _, next := h.acc.Drain(nil, node, parts, start, maxBytes, true, h.clk.Now())
		var got []int32
		for _, b := range bs {
			got = append(got, b.TP.Partition)
		}
		return got, next
	}
	h.add(part(0), 0, []byte("small"))
	h.add(part(1), 1, big)
	got, start := busyDrain(0)
	require.Equal(t, []int32{1}, got, "the full batch goes; the waiting one does not fit beside it")

	ready, wait := h.acc.Ready(node, parts, true, h.clk.Now())
	require.False(t, ready)
	require.Equal(t, 10*time.Millisecond, wait, "left out, the batch waits for its linger, not for the answer in flight")
	h.clk.Advance(10 * time.Millisecond)
	ready, _ = h.acc.Ready(node, parts, true, h.clk.Now())
	require.True(t, ready, "its linger over, the batch left out goes though the broker is busy")

	h.add(part(1), 2, big)
	got, start = busyDrain(start)
	require.Equal(t, []int32{0}, got, "the batch left out goes first; the next full batch does not fit beside it")
	got, _ = busyDrain(start)
	require.Equal(t, []int32{1}, got)
}
