package otelhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// metricsOnly is a Telemetry of opts on a no-op tracer, as a user who
// wants the metrics alone has, and a real MeterProvider.
func metricsOnly(t testing.TB, opts otelhooks.Options) (*otelhooks.Telemetry, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	opts.TracerProvider = tracenoop.NewTracerProvider()
	opts.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := otelhooks.New(opts)
	require.NoError(t, err)
	return tel, reader
}

// oneRecord runs tel's record hooks for one record written, as the
// producer does: the buffered hook, if there is one, then the
// acknowledged hook with the context it returned.
func oneRecord(tel *otelhooks.Telemetry) func() {
	var buffered producer.HookRecordBuffered
	var acked producer.HookRecordAcknowledged
	for _, h := range tel.Hooks() {
		if b, ok := h.(producer.HookRecordBuffered); ok {
			buffered = b
		}
		if a, ok := h.(producer.HookRecordAcknowledged); ok {
			acked = a
		}
	}
	rec := producer.Record{Topic: "events", Key: []byte("user-42"), Value: []byte("v")}
	a := producer.RecordAcknowledged{Metadata: producer.RecordMetadata{Topic: "events", Partition: 1, Offset: 7}, Latency: time.Millisecond, Sent: true}
	return func() {
		ctx := context.Background()
		if buffered != nil {
			ctx = buffered.OnRecordBuffered(ctx, rec)
		}
		acked.OnRecordAcknowledged(ctx, a)
	}
}

// NoTraces keeps the per-record metrics and leaves out the spans' cost: a
// record allocates nothing in the hooks, where with tracing off in the
// TracerProvider alone they still build each span's attributes, name and
// context.
func TestNoTracesKeepsTheRecordMetricsWithoutTheSpansCost(t *testing.T) {
	noTraces, reader := metricsOnly(t, otelhooks.Options{NoTraces: true})
	for _, h := range noTraces.Hooks() {
		_, buffered := h.(producer.HookRecordBuffered)
		require.False(t, buffered, "no span to start")
	}
	oneRecord(noTraces)()
	sent := collect(t, reader, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Equal(t, int64(1), sum(sent), "the record counted")
	require.Equal(t, uint64(1), histogramCount(t, reader, "messaging.client.operation.duration"))

	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector; make test runs this without it")
	}
	noop, _ := metricsOnly(t, otelhooks.Options{})
	with, without := testing.AllocsPerRun(100, oneRecord(noop)), testing.AllocsPerRun(100, oneRecord(noTraces))
	t.Logf("allocations per record: %v with a no-op tracer, %v with NoTraces", with, without)
	require.Zero(t, without)
	require.Greater(t, with, without)
}

// NoSpans overrides NoTraces, as Options says: with both, no hook hears of
// records, and the producer tracks none. Kept, the NoTraces hook would
// cost every record the allocation NoSpans is there to save, for metrics
// the user asked to leave out.
func TestNoSpansOverridesNoTraces(t *testing.T) {
	tel, _ := metricsOnly(t, otelhooks.Options{NoSpans: true, NoTraces: true})
	require.Len(t, tel.Hooks(), 1)
	for _, h := range tel.Hooks() {
		_, buffered := h.(producer.HookRecordBuffered)
		_, acked := h.(producer.HookRecordAcknowledged)
		_, refused := h.(producer.HookRecordRefused)
		require.False(t, buffered || acked || refused)
	}
}

// BenchmarkRecordHooks is a record's cost in the hooks, written at once,
// with tracing off by a no-op TracerProvider and with NoTraces.
func BenchmarkRecordHooks(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts otelhooks.Options
	}{{"noop-tracer", otelhooks.Options{}}, {"NoTraces", otelhooks.Options{NoTraces: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			tel, _ := metricsOnly(b, bc.opts)
			record := oneRecord(tel)
			b.ReportAllocs()
			for b.Loop() {
				record()
			}
		})
	}
}
