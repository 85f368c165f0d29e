package promhooks_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/plugin/promhooks"
	"github.com/gokafka/producer/protocol"
)

// While a broker holds the first request, the gauges read from the
// producer show its batch buffered and a Send waiting for the memory the
// batch holds. The broker then drops the connection without answering:
// the request counts in request_error_total, under its broker, and not as
// an answer, while its retry and the waiting record's request are
// answered.
func TestMetricsOfARequestThatFailed(t *testing.T) {
	c, err := fakebroker.Start(fakebroker.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	arrived, drop := make(chan struct{}), make(chan struct{})
	var dropOnce sync.Once
	t.Cleanup(func() { dropOnce.Do(func() { close(drop) }) })
	var requests atomic.Int64
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if requests.Add(1) > 1 {
			return fakebroker.Action{}
		}
		close(arrived)
		<-drop
		return fakebroker.Action{Drop: true}
	})
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	// The first batch takes all the memory there is.
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), BatchSize: 1 << 10, BufferMemory: 1 << 10,
		Linger: producer.NoLinger, RetryBackoff: 10 * time.Millisecond, ReconnectBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	first, second := make(chan error, 1), make(chan error, 1)
	p.Produce(ctx, &producer.Record{Topic: "events", Value: []byte("first")}, func(_ producer.RecordMetadata, err error) { first <- err })
	bounded.Receive(t, arrived, wait, "the first request at the broker")
	go func() {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("second")})
		second <- err
	}()
	require.Eventually(t, func() bool { return p.Stats().BufferWaiters == 1 }, wait, time.Millisecond, "the Send waiting for memory")
	waiting := value(t, reg, "kafka_producer_waiting_threads", nil)
	require.Equal(t, 1.0, waiting, "the Send waiting for memory")
	buffered := value(t, reg, "kafka_producer_batches_buffered", nil)
	require.Equal(t, 1.0, buffered, "the held request's batch")

	dropOnce.Do(func() { close(drop) })
	require.NoError(t, bounded.Receive(t, first, wait, "the first record"))
	require.NoError(t, bounded.Receive(t, second, wait, "the second record"))
	require.NoError(t, p.Close(ctx))

	failed := value(t, reg, "kafka_producer_request_error_total", map[string]string{"node_id": "0"})
	require.Equal(t, 1.0, failed, "the dropped request")
	written := value(t, reg, "kafka_producer_request_total", nil)
	answered := value(t, reg, "kafka_producer_response_total", nil)
	require.Equal(t, 3.0, written, "the dropped request, its retry and the second record's")
	require.Equal(t, written-1, answered, "every request answered but the dropped one")
	for _, gauge := range []string{"kafka_producer_waiting_threads", "kafka_producer_batches_buffered"} {
		v := value(t, reg, gauge, nil)
		require.Zero(t, v, "%s once every record is done", gauge)
	}
}
