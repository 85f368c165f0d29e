package producer

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// The times and sizes the hooks report, which the plugins' metrics are
// made of, are what happened, to the nanosecond on the fake clock: a batch
// its Linger holds for a second, then flushed, and answered two seconds
// after it reached the broker, spent a second in the queue, as did each of
// its records, whose latency of three seconds runs on to the answer; the
// request's latency is the broker's two. Compressed, the batch's size
// before compression is over its size on the wire, which the request
// carries.
func TestHooksReportQueueTimesLatenciesAndSizes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	arrived, answer := make(chan struct{}, 1), make(chan struct{})
	answerAll := sync.OnceFunc(func() { close(answer) })
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		select {
		case arrived <- struct{}{}:
		default: // a request after the first, which the checks refuse
		}
		<-answer
		return fakebroker.Action{}
	})
	clk := clock.NewFake(heldClockStart)
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Hooks = []Hook{rec}
		cfg.Compression = compression.Gzip
		cfg.Linger, cfg.DeliveryTimeout = time.Hour, 2*time.Hour
	})
	t.Cleanup(answerAll) // should the test fail: the fake cluster's Close waits for its hook
	learnTopic(t, p, clk, "t")

	const n = 4
	o := newOutcomes(n)
	for i := range n {
		value := bytes.Repeat([]byte(fmt.Sprint(i)), 500)
		p.Produce(ctx(t), &Record{Topic: "t", Value: value}, o.cb(i))
	}
	clk.Advance(time.Second)
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(ctx(t)) }()
	receive(t, arrived, "the flushed batch never reached the broker")
	clk.Advance(2 * time.Second)
	answerAll()
	require.NoError(t, receive(t, flushed, "Flush"))
	o.wait(t, "every record")

	rec.locked(func() {
		require.Len(t, rec.acked, n)
		for _, a := range rec.acked {
			require.NoError(t, a.Err)
			require.Equal(t, time.Second, a.QueueTime, "Produce to the flush")
			require.Equal(t, 3*time.Second, a.Latency, "Produce to the answer")
		}
		require.Len(t, rec.batches, 1)
		b := rec.batches[0]
		require.Equal(t, n, b.Records)
		require.Equal(t, time.Second, b.QueueTime, "the first record to the flush")
		require.Greater(t, b.Bytes, b.CompressedBytes, "repeated bytes compress")
		require.Len(t, rec.written, 1)
		require.Equal(t, b.CompressedBytes, rec.written[0].Bytes, "a request carries its batches as compressed")
		require.Len(t, rec.answered, 1)
		require.Equal(t, 2*time.Second, rec.answered[0].Latency, "the broker's time to answer")
	})
}
