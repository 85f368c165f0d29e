package otelhooks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// wait bounds every wait: generous for a loaded machine under -race.
const wait = 30 * time.Second

// telemetry is otelhooks on an in-memory span recorder and metric reader.
type telemetry struct {
	spans  *tracetest.SpanRecorder
	tracer trace.Tracer
	reader *sdkmetric.ManualReader
	tel    *otelhooks.Telemetry
}

func newTelemetry(t *testing.T, opts otelhooks.Options) *telemetry {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	opts.TracerProvider, opts.MeterProvider = tp, sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := otelhooks.New(opts)
	require.NoError(t, err)
	return &telemetry{spans: spans, tracer: tp.Tracer("test"), reader: reader, tel: tel}
}

// metric returns the collected metric name, failing if there is none.
func (tt *telemetry) metric(t *testing.T, name string) metricdata.Aggregation {
	t.Helper()
	return collect(t, tt.reader, name)
}

// attr is span s's attribute key, as a string.
func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// Each record gets a span from Produce to its acknowledgement, a child of
// the span in its Context, with the messaging attributes and where it
// landed; the metrics count what a real produce did, each broker's
// request latencies under its node id.
func TestSpansAndMetricsAfterAProduce(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Brokers: 3, Topics: map[string]int32{"events": 3}})
	require.NoError(t, err)
	defer c.Close()
	for partition := range int32(3) { // partition i led by node i
		if c.Leader("events", partition) != partition {
			require.NoError(t, c.MoveLeader("events", partition, partition))
		}
	}
	tt := newTelemetry(t, otelhooks.Options{})
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: tt.tel.Hooks()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	const n = 20
	parent, root := tt.tracer.Start(ctx, "handle payment")
	for i := range n {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Key: []byte{byte(i)}, Value: []byte("paid"), Context: parent})
		require.NoError(t, err)
	}
	root.End()
	total := tt.metric(t, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	require.Equal(t, int64(producer.DefaultBufferMemory), total.DataPoints[0].Value)
	require.NoError(t, p.Close(ctx))

	var sends []sdktrace.ReadOnlySpan
	for _, s := range tt.spans.Ended() {
		if s.Name() == "send events" {
			sends = append(sends, s)
		}
	}
	require.Len(t, sends, n, "a span per record")
	partitions, offsets := map[string]int{}, map[string]int{}
	for _, s := range sends {
		require.Equal(t, trace.SpanKindProducer, s.SpanKind())
		require.Equal(t, root.SpanContext().SpanID(), s.Parent().SpanID(), "a child of the record's Context")
		require.Equal(t, root.SpanContext().TraceID(), s.SpanContext().TraceID())
		require.Equal(t, "kafka", attr(s, "messaging.system"))
		require.Equal(t, "send", attr(s, "messaging.operation.name"))
		require.Equal(t, "send", attr(s, "messaging.operation.type"))
		require.Equal(t, p.ClientID(), attr(s, "messaging.client.id"))
		require.Equal(t, "events", attr(s, "messaging.destination.name"))
		require.Equal(t, "4", attr(s, "messaging.message.body.size"))
		partition := attr(s, "messaging.destination.partition.id")
		require.NotEmpty(t, partition)
		partitions[partition]++
		offsets[partition+"/"+attr(s, "messaging.kafka.offset")]++
		require.Equal(t, codes.Unset, s.Status().Code)
		require.False(t, s.EndTime().Before(s.StartTime()))
	}
	require.Len(t, offsets, n, "each record's own partition and offset")

	sent := tt.metric(t, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Len(t, sent.DataPoints, 1)
	require.Equal(t, int64(n), sent.DataPoints[0].Value)
	dest, _ := sent.DataPoints[0].Attributes.Value(attribute.Key("messaging.destination.name"))
	require.Equal(t, "events", dest.AsString())
	duration := tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64])
	require.Equal(t, uint64(n), duration.DataPoints[0].Count)
	latency := tt.metric(t, "kafka.producer.request.latency").(metricdata.Histogram[float64])
	requests := map[string]int{}
	for _, dp := range latency.DataPoints {
		node, ok := dp.Attributes.Value("kafka.node.id")
		require.True(t, ok, dp.Attributes.ToSlice())
		requests[node.String()] += int(dp.Count)
	}
	require.Equal(t, partitions, requests, "one request per Send, to the leader of its partition, node i of partition i")
	batches := tt.metric(t, "kafka.producer.batch.size").(metricdata.Histogram[float64])
	require.Equal(t, uint64(n), batches.DataPoints[0].Count)
	opened := tt.metric(t, "kafka.producer.connection.creations").(metricdata.Sum[int64])
	closed := tt.metric(t, "kafka.producer.connection.closes").(metricdata.Sum[int64])
	require.Equal(t, sum(opened), sum(closed), "Close closed every connection")
	require.Positive(t, sum(opened))
}

// kafka.producer.buffer.available is the memory free now, not the
// buffer's total: while a batch is open and holds memory, it reads less
// than buffer.total, what the producer's Stats say. A dashboard that
// showed the total as free would never warn of a producer about to block
// in Produce for memory.
func TestBufferAvailableIsTheMemoryFree(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	defer c.Close()
	tt := newTelemetry(t, otelhooks.Options{})
	// Linger keeps the batch open, its memory taken, until Close sends it.
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: tt.tel.Hooks(), Linger: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	defer p.Close(ctx)
	// With the topic's metadata in, Produce appends the record at once,
	// rather than holding it for metadata on another goroutine.
	_, err = p.PartitionsFor(ctx, "events")
	require.NoError(t, err)
	p.Produce(ctx, &producer.Record{Topic: "events", Value: []byte("x")}, nil)
	stats := p.Stats()
	require.Less(t, stats.BufferAvailableBytes, stats.BufferTotalBytes, "the open batch's memory")

	total := tt.metric(t, "kafka.producer.buffer.total").(metricdata.Gauge[int64])
	free := tt.metric(t, "kafka.producer.buffer.available").(metricdata.Gauge[int64])
	require.Len(t, total.DataPoints, 1)
	require.Len(t, free.DataPoints, 1)
	require.Equal(t, stats.BufferTotalBytes, total.DataPoints[0].Value)
	require.Equal(t, stats.BufferAvailableBytes, free.DataPoints[0].Value, "the memory free, not the total")
}

// With acks=0 no broker answers, so there is no request latency to
// record, as the Java client records none; every request recorded one of
// 0 s.
func TestAcksNoneRecordsNoRequestLatency(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	defer c.Close()
	tt := newTelemetry(t, otelhooks.Options{})
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: tt.tel.Hooks(), Acks: producer.AcksNone, DisableIdempotence: true})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	const n = 20
	for range n {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("v")})
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(ctx)) // the hooks have heard all by then

	sent := tt.metric(t, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Equal(t, int64(n), sum(sent), "the records went")
	require.Zero(t, histogramCount(t, tt.reader, "kafka.producer.request.latency"), "no answer, no latency")
}

// histogramCount is how many observations the histogram name holds: 0 if
// it has none, which the reader does not report at all.
func histogramCount(t *testing.T, reader sdkmetric.Reader, name string) (n uint64) {
	t.Helper()
	if data := collected(t, reader, name); data != nil {
		for _, dp := range data.(metricdata.Histogram[float64]).DataPoints {
			n += dp.Count
		}
	}
	return n
}

func sum(s metricdata.Sum[int64]) (n int64) {
	for _, d := range s.DataPoints {
		n += d.Value
	}
	return n
}

// A failed record's span says why, and is counted with its error.type.
func TestAFailedRecordsSpan(t *testing.T) {
	c, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	defer c.Close()
	tt := newTelemetry(t, otelhooks.Options{})
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: tt.tel.Hooks(), MaxBlock: 200 * time.Millisecond})
	require.NoError(t, err)
	defer p.Close(context.Background())
	_, err = p.Send(context.Background(), &producer.Record{Topic: "no-such-topic"})
	require.ErrorIs(t, err, producer.ErrUnknownTopic)

	spans := tt.spans.Ended()
	require.Len(t, spans, 1)
	require.Equal(t, codes.Error, spans[0].Status().Code)
	require.Equal(t, "UNKNOWN_TOPIC", attr(spans[0], "error.type"))
	require.Len(t, spans[0].Events(), 1, "the error, recorded")
	duration := tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64])
	errType, _ := duration.DataPoints[0].Attributes.Value(attribute.Key("error.type"))
	require.Equal(t, "UNKNOWN_TOPIC", errType.AsString())
}

// A record Produce refuses at once, never buffered, still gets its span, a
// child of its Context's, ended at once with its error, and an operation
// duration (of 0) with its error.type; it was never sent, so
// sent.messages leaves it out. A partition it named is in its span, as in
// its error and its metadata. A topic that is not UTF-8, which OTLP
// cannot carry, has its bad bytes replaced in its span; in the duration,
// every topic no broker would take as a name is "<invalid>", one series
// however many bad names the callers make up.
func TestARecordRefusedInProduceHasItsSpanAndDuration(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	defer c.Close()
	tt := newTelemetry(t, otelhooks.Options{})
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: tt.tel.Hooks(), MaxRequestSize: 1 << 10})
	require.NoError(t, err)
	defer p.Close(context.Background())
	parent, root := tt.tracer.Start(context.Background(), "handle payment")
	_, sendErr := p.Send(context.Background(), &producer.Record{Topic: "events", Partition: 0, ExplicitPartition: true,
		Value: make([]byte, 4<<10), Context: parent})
	require.ErrorIs(t, sendErr, producer.ErrRecordTooLarge)
	root.End()
	p.Produce(context.Background(), &producer.Record{Topic: "bad\xfftopic"}, nil)
	p.Produce(context.Background(), &producer.Record{Topic: "orders/2024-06-01"}, nil)

	var sends []sdktrace.ReadOnlySpan
	for _, s := range tt.spans.Ended() {
		if s.Name() != "handle payment" {
			sends = append(sends, s)
		}
	}
	require.Len(t, sends, 3, "a span per refused record")
	require.Equal(t, "send events", sends[0].Name())
	require.Equal(t, root.SpanContext().SpanID(), sends[0].Parent().SpanID(), "a child of the record's Context")
	require.Equal(t, codes.Error, sends[0].Status().Code)
	require.Equal(t, producer.ErrorName(sendErr), attr(sends[0], "error.type"))
	require.Len(t, sends[0].Events(), 1, "the error, recorded")
	require.Equal(t, "0", attr(sends[0], "messaging.destination.partition.id"), "the partition it named")
	require.Empty(t, attr(sends[1], "messaging.destination.partition.id"), "none named, none chosen")
	require.Equal(t, "send bad\ufffdtopic", sends[1].Name())
	require.Equal(t, "orders/2024-06-01", attr(sends[2], "messaging.destination.name"), "the span names the topic as given")

	duration := tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64])
	require.Len(t, duration.DataPoints, 2)
	topics := map[string]uint64{}
	for _, dp := range duration.DataPoints {
		require.Zero(t, dp.Sum, "refused at once")
		_, failed := dp.Attributes.Value("error.type")
		require.True(t, failed, dp.Attributes.ToSlice())
		topic, _ := dp.Attributes.Value("messaging.destination.name")
		topics[topic.AsString()] += dp.Count
	}
	require.Equal(t, map[string]uint64{"events": 1, "<invalid>": 2}, topics)
	require.Nil(t, collected(t, tt.reader, "messaging.client.sent.messages"), "never sent")
}

// NoSpans leaves the records alone: no span, no per-record metric, and
// the producer tracks no record.
func TestNoSpans(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{NoSpans: true})
	require.Len(t, tt.tel.Hooks(), 1)
	for _, h := range tt.tel.Hooks() {
		_, buffered := h.(producer.HookRecordBuffered)
		_, acked := h.(producer.HookRecordAcknowledged)
		_, refused := h.(producer.HookRecordRefused)
		require.False(t, buffered || acked || refused)
	}
}

// Two tracing hooks on one producer, here two Telemetry: each ends its own
// span, exactly once, with where the record landed. The acknowledged
// record's current span is the second one's, which the first used to end
// as its own, leaking its own.
func TestTwoTelemetryEachEndTheirOwnSpans(t *testing.T) {
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	defer c.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	first, err := otelhooks.New(otelhooks.Options{TracerProvider: tp})
	require.NoError(t, err)
	second, err := otelhooks.New(otelhooks.Options{TracerProvider: tp})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: append(first.Hooks(), second.Hooks()...)})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	const n = 3
	for range n {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("x")})
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(ctx))

	started := spans.Started()
	require.Len(t, started, 2*n, "a span per record per Telemetry")
	ends := map[trace.SpanID]int{}
	for _, s := range spans.Ended() {
		ends[s.SpanContext().SpanID()]++
		require.Equal(t, "0", attr(s, "messaging.destination.partition.id"), "ended by its own Telemetry, which set it")
		require.NotEmpty(t, attr(s, "messaging.kafka.offset"))
	}
	for _, s := range started {
		require.Equal(t, 1, ends[s.SpanContext().SpanID()], "span %s ended once", s.SpanContext().SpanID())
	}
}

// One Telemetry listed twice, its Hooks appended twice or beside the
// Telemetry itself, would start two spans per record and end only the
// second, and count every record twice: New refuses it.
func TestNewRefusesATelemetryListedTwice(t *testing.T) {
	tel := newTelemetry(t, otelhooks.Options{}).tel
	noSpans := newTelemetry(t, otelhooks.Options{NoSpans: true}).tel
	for _, tc := range []struct {
		name  string
		hooks []producer.Hook
		want  string
	}{
		{"its Hooks twice", append(tel.Hooks(), tel.Hooks()...), "Hooks[0] and Hooks[2]"},
		{"itself beside its Hooks", append([]producer.Hook{tel}, tel.Hooks()...), "Hooks[0] and Hooks[1]"},
		{"its Hooks without spans twice", append(noSpans.Hooks(), noSpans.Hooks()...), "Hooks[0] and Hooks[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: tc.hooks})
			var ce *producer.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "Hooks", ce.Field)
			require.Contains(t, ce.Reason, tc.want)
		})
	}
}

// A batch split after MESSAGE_TOO_LARGE counts in kafka.producer.batch
// .splits (the Java client's batch-split-total), not as records retried,
// which the Java client does not count it as either.
func TestASplitBatchCountsAsASplitNotARetry(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	retried := hookOf[producer.HookBatchRetried](t, tt.tel)
	retried.OnBatchRetried(producer.BatchRetried{Topic: "events", Records: 4, Attempt: 1, Split: true})
	retried.OnBatchRetried(producer.BatchRetried{Topic: "events", Records: 2, Attempt: 2})
	splits := tt.metric(t, "kafka.producer.batch.splits").(metricdata.Sum[int64])
	require.Equal(t, int64(1), sum(splits))
	retries := tt.metric(t, "kafka.producer.record.retries").(metricdata.Sum[int64])
	require.Equal(t, int64(2), sum(retries), "the retried batch's records only")
}

// The batches' metrics (record.queue.time, batch.size, record.retries,
// batch.splits) are each under their batch's topic,
// messaging.destination.name, as the package says: without it one
// topic's slow, large or retried batches could not be told from
// another's, and a dashboard by topic would show them under none.
func TestBatchMetricsAreUnderTheirTopic(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	topics := []string{"orders", "payments"}
	for _, topic := range topics {
		tt.tel.OnBatchWritten(producer.BatchWritten{Topic: topic, Records: 1, Bytes: 100, CompressedBytes: 100, QueueTime: time.Millisecond})
		tt.tel.OnBatchRetried(producer.BatchRetried{Topic: topic, Records: 2, Attempt: 1})
		tt.tel.OnBatchRetried(producer.BatchRetried{Topic: topic, Records: 2, Attempt: 1, Split: true})
	}
	for _, name := range []string{"kafka.producer.record.queue.time", "kafka.producer.batch.size"} {
		batches := map[string]uint64{}
		for _, dp := range tt.metric(t, name).(metricdata.Histogram[float64]).DataPoints {
			topic, _ := dp.Attributes.Value("messaging.destination.name")
			batches[topic.AsString()] += dp.Count
		}
		require.Equal(t, map[string]uint64{"orders": 1, "payments": 1}, batches, name)
	}
	retries := tt.metric(t, "kafka.producer.record.retries").(metricdata.Sum[int64])
	require.Equal(t, map[string]int64{"orders": 2, "payments": 2}, byAttr(t, retries.DataPoints, "messaging.destination.name"))
	splits := tt.metric(t, "kafka.producer.batch.splits").(metricdata.Sum[int64])
	require.Equal(t, map[string]int64{"orders": 1, "payments": 1}, byAttr(t, splits.DataPoints, "messaging.destination.name"))
}

// kafka.producer.throttle.time records every answer's throttle time, 0
// included, as the Java client's produce-throttle-time-avg averages over
// every answer; a request that failed, or asked for no answer, has none.
// Before, only throttled answers were recorded.
func TestThrottleTimeIsRecordedForEveryAnswer(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	answered := hookOf[producer.HookRequestAnswered](t, tt.tel)
	answered.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Batches: 1, Records: 1, Throttle: 100 * time.Millisecond})
	answered.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Batches: 1, Records: 1})
	answered.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Batches: 1, Records: 1, Err: errors.New("connection reset")})
	answered.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Batches: 1, Records: 1, Unanswered: true})
	throttle := tt.metric(t, "kafka.producer.throttle.time").(metricdata.Histogram[float64])
	require.Len(t, throttle.DataPoints, 1)
	require.Equal(t, uint64(2), throttle.DataPoints[0].Count)
	require.InDelta(t, 0.1, throttle.DataPoints[0].Sum, 1e-9)
}

// kafka.producer.batch.size is the batch's size on the wire, compressed, as
// its description says: it is what the network and the broker's disk carry.
func TestBatchSizeIsTheCompressedSize(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	hookOf[producer.HookBatchWritten](t, tt.tel).OnBatchWritten(producer.BatchWritten{Topic: "events", Records: 2, Bytes: 1000, CompressedBytes: 250})
	size := tt.metric(t, "kafka.producer.batch.size").(metricdata.Histogram[float64])
	require.Len(t, size.DataPoints, 1)
	require.Equal(t, 250.0, size.DataPoints[0].Sum)
}

// A failed connection attempt is not a connection created: counting it
// would hide a broker refusing every connection behind a healthy count.
func TestAFailedConnectionIsNotCountedAsCreated(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	opened := hookOf[producer.HookConnectionOpened](t, tt.tel)
	opened.OnConnectionOpened(producer.ConnectionOpened{Broker: 1})
	opened.OnConnectionOpened(producer.ConnectionOpened{Broker: 2, Err: errors.New("connection refused")})
	creations := tt.metric(t, "kafka.producer.connection.creations").(metricdata.Sum[int64])
	require.Equal(t, int64(1), sum(creations), "one connection created, one attempt failed")
}
