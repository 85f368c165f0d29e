package otelhooks_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// byAttr maps the value of key in each data point's attributes to the
// point's value, failing if a point lacks key.
func byAttr[N int64 | float64](t *testing.T, points []metricdata.DataPoint[N], key string) map[string]N {
	t.Helper()
	m := map[string]N{}
	for _, dp := range points {
		v, ok := dp.Attributes.Value(attribute.Key(key))
		require.True(t, ok, "a point without %s: %v", key, dp.Attributes.ToSlice())
		m[v.String()] = dp.Value
	}
	return m
}

// collect reads the metric name from reader.
func collect(t *testing.T, reader sdkmetric.Reader, name string) metricdata.Aggregation {
	t.Helper()
	data := collected(t, reader, name)
	if data == nil {
		t.Fatalf("no metric %s", name)
	}
	return data
}

// collected is the metric name as reader collects it now, or nil: a
// metric with nothing recorded yet is not reported at all.
func collected(t *testing.T, reader sdkmetric.Reader, name string) metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

// twoProducers runs two producers, each with its Telemetry of opts[i] on
// one MeterProvider and with its ClientID of ids[i], and sends one record
// with each; it returns the reader of the MeterProvider.
func twoProducers(t *testing.T, ids [2]string, opts [2]otelhooks.Options) sdkmetric.Reader {
	t.Helper()
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for i := range 2 {
		opts[i].MeterProvider = mp
		tel, err := otelhooks.New(opts[i])
		require.NoError(t, err)
		p, err := producer.New(producer.Config{Brokers: c.Addrs(), ClientID: ids[i], Hooks: tel.Hooks(),
			BufferMemory: int64(i+1) << 20})
		require.NoError(t, err)
		t.Cleanup(func() { p.Close(context.Background()) })
		_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
		require.NoError(t, err)
	}
	return reader
}

// Two producers on one MeterProvider, with client ids of their own, are
// series of their own: each gauge has a point per producer, each counter
// counts each producer's records apart.
func TestProducersOnOneMeterProviderAreTheirOwnSeries(t *testing.T) {
	reader := twoProducers(t, [2]string{"orders", "payments"}, [2]otelhooks.Options{})

	total := collect(t, reader, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Equal(t, map[string]int64{"orders": 1 << 20, "payments": 2 << 20},
		byAttr(t, total.DataPoints, "messaging.client.id"))
	sent := collect(t, reader, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Equal(t, map[string]int64{"orders": 1, "payments": 1}, byAttr(t, sent.DataPoints, "messaging.client.id"))
	opened := collect(t, reader, "kafka.producer.connection.creations").(metricdata.Sum[int64])
	byAttr(t, opened.DataPoints, "messaging.client.id")
	latency := collect(t, reader, "kafka.producer.request.latency").(metricdata.Histogram[float64])
	require.Len(t, latency.DataPoints, 2, "a broker's latency per producer")
}

// Producers with one client id, the default, are told apart by their
// ConstAttributes.
func TestConstAttributesTellApartProducersOfOneClientID(t *testing.T) {
	reader := twoProducers(t, [2]string{"", ""}, [2]otelhooks.Options{
		{ConstAttributes: []attribute.KeyValue{attribute.String("app.producer", "orders")}},
		{ConstAttributes: []attribute.KeyValue{attribute.String("app.producer", "payments")}},
	})

	total := collect(t, reader, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Equal(t, map[string]int64{"orders": 1 << 20, "payments": 2 << 20}, byAttr(t, total.DataPoints, "app.producer"))
	require.Len(t, byAttr(t, total.DataPoints, "messaging.client.id"), 1, "one client id")
	sent := collect(t, reader, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Equal(t, map[string]int64{"orders": 1, "payments": 1}, byAttr(t, sent.DataPoints, "app.producer"))
}

// A constant attribute with the key of one of the plugin's own is
// overridden by it, as Options says: each measurement names the
// producer's client id, its topic and its broker, whatever
// ConstAttributes say. Otherwise ConstAttributes copied from another
// producer's setup, naming its client id, would file this producer's
// records, buffer and requests under the other's, and one naming a topic
// or a broker would lump every topic or broker into one.
func TestConstAttributesDoNotOverrideThePluginsOwn(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	reader := sdkmetric.NewManualReader()
	tel, err := otelhooks.New(otelhooks.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		ConstAttributes: []attribute.KeyValue{
			attribute.String("messaging.system", "not-kafka"),
			attribute.String("messaging.client.id", "payments"),
			attribute.String("messaging.destination.name", "not-events"),
			attribute.Int("kafka.node.id", 99),
			attribute.String("app.tier", "gold"),
		}})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), ClientID: "orders", Hooks: tel.Hooks()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	defer p.Close(ctx)
	_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)

	sent := collect(t, reader, "messaging.client.sent.messages").(metricdata.Sum[int64])
	queued := collect(t, reader, "kafka.producer.record.queue.time").(metricdata.Histogram[float64])
	latency := collect(t, reader, "kafka.producer.request.latency").(metricdata.Histogram[float64])
	total := collect(t, reader, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Len(t, sent.DataPoints, 1)
	require.Len(t, queued.DataPoints, 1)
	require.Len(t, latency.DataPoints, 1, "one broker")
	require.Len(t, total.DataPoints, 1)
	for name, set := range map[string]attribute.Set{
		"sent.messages": sent.DataPoints[0].Attributes, "record.queue.time": queued.DataPoints[0].Attributes,
		"request.latency": latency.DataPoints[0].Attributes, "buffer.total": total.DataPoints[0].Attributes,
	} {
		require.Equal(t, "kafka", attrOf(set, "messaging.system"), name)
		require.Equal(t, "orders", attrOf(set, "messaging.client.id"), name)
		require.Equal(t, "gold", attrOf(set, "app.tier"), "%s: a key of the user's own is kept", name)
	}
	require.Equal(t, "events", attrOf(sent.DataPoints[0].Attributes, "messaging.destination.name"))
	require.Equal(t, "events", attrOf(queued.DataPoints[0].Attributes, "messaging.destination.name"))
	require.Equal(t, "0", attrOf(latency.DataPoints[0].Attributes, "kafka.node.id"), "the leader's node id")
}

// attrOf is set's attribute key, as a string; "" if it has none.
func attrOf(set attribute.Set, key string) string {
	v, ok := set.Value(attribute.Key(key))
	if !ok {
		return ""
	}
	return v.String()
}

// Close unregisters the buffer gauges' callback: a closed producer is no
// longer observed, nor kept by the MeterProvider.
func TestCloseStopsObservingTheProducer(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	reader := sdkmetric.NewManualReader()
	tel, err := otelhooks.New(otelhooks.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), ClientID: "orders", Hooks: tel.Hooks()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)
	total := collect(t, reader, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Len(t, total.DataPoints, 1)

	require.NoError(t, p.Close(ctx))
	require.NoError(t, tel.Close())
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == "kafka.producer.buffer.total" {
				require.Empty(t, m.Data.(metricdata.Gauge[int64]).DataPoints, "a closed producer's buffer is still observed")
			}
		}
	}
}

// Close lets the producer go: a Telemetry the program keeps after it
// (in a struct that outlives the producer, say) no longer keeps the
// closed producer reachable, with its metadata and, where its buffers
// live on the heap, every buffer it pooled.
func TestCloseLetsTheProducerGo(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	tel, err := otelhooks.New(otelhooks.Options{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	gone := sendAndClose(ctx, t, c.Addrs(), tel)
	require.NoError(t, tel.Close())

	require.Eventually(t, func() bool {
		runtime.GC()
		return gone.Value() == nil
	}, wait, 10*time.Millisecond, "the Telemetry keeps its closed producer reachable")
	runtime.KeepAlive(tel)
}

// sendAndClose sends a record with a producer of tel's hooks, closes the
// producer and returns a weak pointer to it, so that the caller holds no
// reference of its own.
func sendAndClose(ctx context.Context, t *testing.T, brokers []string, tel *otelhooks.Telemetry) weak.Pointer[producer.Producer] {
	t.Helper()
	p, err := producer.New(producer.Config{Brokers: brokers, Hooks: tel.Hooks()})
	require.NoError(t, err)
	_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
	require.NoError(t, err)
	require.NoError(t, p.Close(ctx))
	return weak.Make(p)
}
