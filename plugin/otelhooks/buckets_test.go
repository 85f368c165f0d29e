package otelhooks_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// hookOf is tel's hook of kind H, failing the test if it has none.
func hookOf[H any](t *testing.T, tel *otelhooks.Telemetry) H {
	t.Helper()
	for _, h := range tel.Hooks() {
		if found, ok := h.(H); ok {
			return found
		}
	}
	var none H
	t.Fatalf("no %T among the hooks", &none)
	return none
}

// bucket is the bounds (lo, hi] of the one bucket of the histogram's only
// data point that holds a measurement.
func bucket(t *testing.T, h metricdata.Histogram[float64]) (lo, hi float64) {
	t.Helper()
	require.Len(t, h.DataPoints, 1)
	dp := h.DataPoints[0]
	require.Equal(t, uint64(1), dp.Count)
	for i, n := range dp.BucketCounts {
		if n == 0 {
			continue
		}
		lo, hi = math.Inf(-1), math.Inf(1)
		if i > 0 {
			lo = dp.Bounds[i-1]
		}
		if i < len(dp.Bounds) {
			hi = dp.Bounds[i]
		}
		return lo, hi
	}
	t.Fatal("no bucket holds the measurement")
	return 0, 0
}

// Durations are in seconds and batch sizes in bytes: each histogram's
// buckets fit its unit, so a 12ms duration and a full default batch (64
// KiB) land in buckets narrow enough to say something.
func TestHistogramBucketsFitTheirUnits(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	const took = 12 * time.Millisecond
	hookOf[producer.HookRecordAcknowledged](t, tt.tel).OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{
		Metadata: producer.RecordMetadata{Topic: "events", Offset: 7}, Latency: took,
	})
	tt.tel.OnBatchWritten(producer.BatchWritten{Topic: "events", Records: 1, QueueTime: took, Bytes: 64 << 10, CompressedBytes: 64 << 10})
	tt.tel.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Batches: 1, Records: 1, Latency: took, Throttle: took})

	for _, name := range []string{"messaging.client.operation.duration", "kafka.producer.record.queue.time",
		"kafka.producer.request.latency", "kafka.producer.throttle.time"} {
		lo, hi := bucket(t, tt.metric(t, name).(metricdata.Histogram[float64]))
		require.Equal(t, [2]float64{0.01, 0.025}, [2]float64{lo, hi}, "%s: 12ms, in seconds", name)
	}
	lo, hi := bucket(t, tt.metric(t, "kafka.producer.batch.size").(metricdata.Histogram[float64]))
	require.Equal(t, [2]float64{32 << 10, 64 << 10}, [2]float64{lo, hi}, "a 64 KiB batch, in bytes")
}

// A failed record's operation duration is in seconds as a written one's
// is: it is recorded apart, under its error.type, and in milliseconds it
// would put a failure that took 12ms past 10s, in the last bucket, where
// a dashboard of the duration's tail would show failures as the slowest
// sends of all.
func TestAFailedRecordsDurationIsInSeconds(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	hookOf[producer.HookRecordAcknowledged](t, tt.tel).OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{
		Metadata: producer.RecordMetadata{Topic: "events", Partition: 0, Offset: -1}, Err: producer.ErrDeliveryTimeout,
		Latency: 12 * time.Millisecond, Sent: true,
	})
	lo, hi := bucket(t, tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64]))
	require.Equal(t, [2]float64{0.01, 0.025}, [2]float64{lo, hi}, "12ms, in seconds")
}
