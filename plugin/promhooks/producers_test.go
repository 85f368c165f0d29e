package promhooks_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/plugin/promhooks"
)

// One Metrics given to a second producer, as a pool built in a loop around
// one promhooks.New would, is refused: its gauges read one producer's
// Stats, and its counters would add up both unseen. The first producer's
// metrics go on as before.
func TestASecondProducerIsRefused(t *testing.T) {
	c := startCluster(t)
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	first, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), BufferMemory: 1 << 20})
	require.NoError(t, err)
	defer first.Close(ctx)

	_, err = producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), BufferMemory: 2 << 20})
	var ce *producer.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "Hooks[0]")
	require.Contains(t, ce.Reason, "one Metrics per producer")

	_, err = first.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)
	total, _ := value(t, reg, "kafka_producer_buffer_total_bytes", nil)
	require.Equal(t, float64(1<<20), total, "the first producer's buffer")
	sent, _ := value(t, reg, "kafka_producer_record_send_total", nil)
	require.Equal(t, 1.0, sent)
}
