package otelhooks_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// One Telemetry given to a second producer, as a pool built in a loop
// around one otelhooks.New would, is refused: it would label the first
// producer's records with the second's client id, and its buffer gauges
// would read the second alone. The first producer's measurements go on as
// before.
func TestASecondProducerIsRefused(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	tt := newTelemetry(t, otelhooks.Options{})
	tel, reader := tt.tel, tt.reader
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	orders, err := producer.New(producer.Config{Brokers: c.Addrs(), ClientID: "orders", Hooks: tel.Hooks(), BufferMemory: 1 << 20})
	require.NoError(t, err)
	defer orders.Close(ctx)

	_, err = producer.New(producer.Config{Brokers: c.Addrs(), ClientID: "payments", Hooks: tel.Hooks(), BufferMemory: 2 << 20})
	var ce *producer.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "Hooks[0]")
	require.Contains(t, ce.Reason, "one Telemetry per producer")

	_, err = orders.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)
	sent := collect(t, reader, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Equal(t, map[string]int64{"orders": 1}, byAttr(t, sent.DataPoints, "messaging.client.id"))
	total := collect(t, reader, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Equal(t, map[string]int64{"orders": 1 << 20}, byAttr(t, total.DataPoints, "messaging.client.id"))
}
