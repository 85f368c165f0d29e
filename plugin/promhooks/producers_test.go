package promhooks_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

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
	total := value(t, reg, "kafka_producer_buffer_total_bytes", nil)
	require.Equal(t, float64(1<<20), total, "the first producer's buffer")
	sent := value(t, reg, "kafka_producer_record_send_total", nil)
	require.Equal(t, 1.0, sent)
}

// Unregister lets go of the producer: a Metrics kept after its producer's
// Close and its Unregister (a field of a long-lived struct, say, in a
// process that replaces its producer on each new configuration) would
// otherwise keep each old producer reachable, its buffer memory with it.
func TestUnregisterLetsGoOfTheProducer(t *testing.T) {
	c := startCluster(t)
	m, err := promhooks.New(prometheus.NewRegistry(), promhooks.Options{})
	require.NoError(t, err)
	closed := closedProducer(t, c.Addrs(), m)
	require.True(t, m.Unregister())
	// Polled: a goroutine of the producer's may still be on its way out
	// when Close returns, and hold it for one collection more.
	require.Eventually(t, func() bool {
		runtime.GC()
		return closed.Value() == nil
	}, wait, time.Millisecond, "the closed producer, still reachable")
	runtime.KeepAlive(m)
}

// closedProducer is a weak pointer to a producer with m's hooks that sent
// a record and closed: nothing of it is left on the caller's stack.
func closedProducer(t *testing.T, brokers []string, m *promhooks.Metrics) weak.Pointer[producer.Producer] {
	t.Helper()
	p, err := producer.New(producer.Config{Brokers: brokers, Hooks: m.Hooks()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, p.Close(ctx))
	return weak.Make(p)
}
