// Package otelhooks reports a producer to OpenTelemetry: a span per record,
// from Produce to its acknowledgement (or to its refusal, for a record
// Produce refuses at once), started in the record's Context (so a child of
// the caller's span), and metrics.
//
//	tel, err := otelhooks.New(otelhooks.Options{})  // the global providers
//	p, err := producer.New(producer.Config{Brokers: brokers, Hooks: tel.Hooks()})
//	...
//	p.Produce(ctx, &producer.Record{Topic: "events", Value: v, Context: ctx}, cb)
//
// The span is named "send <topic>" ("send" for a record without a topic, a
// nil one included), of kind Producer, with OpenTelemetry's messaging
// attributes (messaging.system "kafka", messaging.client.id,
// messaging.operation.name and messaging.operation.type "send",
// messaging.destination.name (none without a topic),
// messaging.destination.partition.id, messaging.kafka.offset,
// messaging.kafka.message.key when the key is short readable text,
// messaging.kafka.message.tombstone for a nil value,
// messaging.message.body.size, error.type; a nil *Record, refused at once
// with producer.ErrNilRecord, had no message, and its span has neither the
// tombstone nor the body size); a failed record's span has status Error and
// the error as an event. A Telemetry ends only the spans it started,
// whatever other tracing hooks the producer has. A Telemetry serves one
// producer, for good: make one per producer. producer.New refuses a
// producer whose Hooks come from a Telemetry another producer has (even one
// closed since), and Hooks listed twice in one Config (or beside the
// Telemetry itself), which would trace and count every record twice.
//
// Options.NoTraces keeps the metrics and leaves out the spans, and what
// building them costs each record even for a TracerProvider that records
// nothing.
//
// The metrics follow OpenTelemetry's messaging conventions where they say
// something (messaging.client.sent.messages,
// messaging.client.operation.duration, per record; the first counts only
// records the producer tried to send, as the conventions ask, so not one
// that failed in Produce or waiting for metadata; the second has every
// record, one Produce refused at once with a duration of 0, and its topic,
// if no broker would take it as a name, as "<invalid>"), and the Java
// client's names otherwise, under "kafka.producer.":
// record.queue.time, batch.size, record.retries, batch.splits,
// request.latency, throttle.time, connection.creations, connection.closes,
// buffer.total, buffer.available (read from the producer's Stats when
// collected).
// Durations are in seconds, in the buckets the messaging conventions
// advise (5ms to 10s); batch sizes in bytes, in powers of 2 from 256 B to
// 4 MiB.
//
// Every measurement has the attributes messaging.system ("kafka"),
// messaging.client.id (the producer's client id) and
// Options.ConstAttributes, so that producers sharing a MeterProvider are
// series of their own. Each instrument adds its own:
//
//   - messaging.client.sent.messages and
//     messaging.client.operation.duration: messaging.operation.name and
//     messaging.operation.type ("send"), messaging.destination.name (the
//     record's topic, "" for a nil record), and error.type for a record
//     that failed;
//   - record.queue.time, batch.size, record.retries and batch.splits:
//     messaging.destination.name, the batch's topic;
//   - request.latency, throttle.time, connection.creations and
//     connection.closes: kafka.node.id, the broker's node id (negative for
//     a seed broker, before metadata names it), a key of this package's
//     own, not one of the conventions';
//   - buffer.total and buffer.available: none.
//
// server.address and server.port, which the conventions recommend, are
// reported neither on spans nor on measurements: a record's outcome does
// not say which broker wrote it, and the per-broker instruments name a
// broker by its node id, which stays its own when its address changes.
package otelhooks

import (
	"context"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/gokafka/producer"
)

// scope names this instrumentation to the providers.
const scope = "github.com/gokafka/producer/plugin/otelhooks"

// Options configures New; the zero value uses the global providers.
type Options struct {
	TracerProvider trace.TracerProvider // default otel.GetTracerProvider()
	MeterProvider  metric.MeterProvider // default otel.GetMeterProvider()
	// NoSpans leaves out the spans and the per-record metrics, so that the
	// producer does not track records (a small allocation per record).
	NoSpans bool
	// NoTraces leaves out the spans and keeps the per-record metrics
	// (messaging.client.sent.messages, messaging.client.operation
	// .duration), for a user who wants the metrics alone: a TracerProvider
	// that records nothing (a no-op one, the global default) still costs
	// each record its span's attributes, name and context in the hooks,
	// about 1.3us and 9 allocations (1.2 KB) for a record written, where
	// with NoTraces the hooks take 0.5us and allocate nothing
	// (BenchmarkRecordHooks, on 2 cores).
	// The producer still tracks records for the metrics. NoSpans, which
	// leaves out the per-record metrics too, overrides it.
	NoTraces bool
	// ConstAttributes are added to every measurement, like Prometheus's
	// ConstLabels. Each measurement already carries the producer's client
	// id (messaging.client.id, Config.ClientID), which tells producers
	// apart on a shared MeterProvider (the global one, by default) only if
	// each has its own: ClientID defaults to the same name for all, and
	// producers with the same client id and no distinct ConstAttributes
	// are one series, their gauges' last observation winning and their
	// counts adding up. Attributes of the plugin's own keys override these.
	ConstAttributes []attribute.KeyValue
}

// Telemetry reports one producer: put its Hooks in that producer's
// Config.Hooks, and in no other producer's (New refuses a second one).
// Each of its measurements names the producer's client id.
type Telemetry struct {
	// taken: a producer was offered the Telemetry and got it
	// (AttachProducer).
	taken      atomic.Bool
	tracer     trace.Tracer
	noSpans    bool
	noTraces   bool
	constAttrs []attribute.KeyValue
	// series is the producer's measurements' attributes, replaced in
	// OnNewProducer (read on the delivery goroutine and in Produce).
	series atomic.Pointer[series]
	// producer is the producer whose Stats the buffer gauges read, from
	// OnNewProducer to Close, which drops it so that a Telemetry kept
	// after it keeps no closed producer (nor, where its buffers live on
	// the heap, the buffers it pooled). It is kept apart from series,
	// whose client id still names any event the producer reports later.
	producer atomic.Pointer[producer.Producer]

	// gauges is the buffer gauges' callback, which Close unregisters.
	gauges metric.Registration

	sent, retries, splits        metric.Int64Counter
	connOpened, connClosed       metric.Int64Counter
	duration, queueTime, latency metric.Float64Histogram
	throttle, batchSize          metric.Float64Histogram
}

// New makes the instruments.
func New(opts Options) (*Telemetry, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &Telemetry{tracer: tp.Tracer(scope), noSpans: opts.NoSpans, noTraces: opts.NoTraces, constAttrs: slices.Clone(opts.ConstAttributes)}
	t.series.Store(newSeries(nil, t.constAttrs))
	if err := t.instruments(mp.Meter(scope)); err != nil {
		return nil, err
	}
	return t, nil
}

// instruments makes every instrument, stopping at the first error.
func (t *Telemetry) instruments(m metric.Meter) error {
	var err error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		err = firstErr(err, e)
		return c
	}
	// Without explicit boundaries the SDK's defaults apply, which are
	// meant for milliseconds (0, 5, 10, 25 ... 10000): every duration in
	// seconds under 5s would share one bucket.
	histogram := func(name, unit, desc string, bounds []float64) metric.Float64Histogram {
		h, e := m.Float64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(bounds...))
		err = firstErr(err, e)
		return h
	}
	t.sent = counter("messaging.client.sent.messages", "{message}", "Records the producer tried to send, by outcome (error.type when failed).")
	t.duration = histogram("messaging.client.operation.duration", "s", "Time from Produce to a record's acknowledgement.", secondsBuckets)
	t.queueTime = histogram("kafka.producer.record.queue.time", "s", "Time from a batch's first record to its first send.", secondsBuckets)
	t.batchSize = histogram("kafka.producer.batch.size", "By", "Size of a written batch on the wire.", batchSizeBuckets)
	t.retries = counter("kafka.producer.record.retries", "{message}", "Records sent again after a failed attempt.")
	t.splits = counter("kafka.producer.batch.splits", "{batch}", "Batches split in two after a broker refused them as too large.")
	t.latency = histogram("kafka.producer.request.latency", "s", "Time from a ProduceRequest's handing to its connection to its answer: any wait for an in-flight slot, the write, the broker's time.", secondsBuckets)
	t.throttle = histogram("kafka.producer.throttle.time", "s", "Throttle times brokers reported.", secondsBuckets)
	t.connOpened = counter("kafka.producer.connection.creations", "{connection}", "Connections opened.")
	t.connClosed = counter("kafka.producer.connection.closes", "{connection}", "Connections closed or broken.")
	total, e := m.Int64ObservableGauge("kafka.producer.buffer.total", metric.WithUnit("By"), metric.WithDescription("Buffer memory in all."))
	err = firstErr(err, e)
	free, e := m.Int64ObservableGauge("kafka.producer.buffer.available", metric.WithUnit("By"), metric.WithDescription("Buffer memory free."))
	err = firstErr(err, e)
	if err != nil {
		return err
	}
	t.gauges, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		// A callback running while Close drops the producer reads it
		// or nil: either is whole, and a closed producer's Stats are
		// still its figures.
		if p := t.producer.Load(); p != nil {
			stats, gauges := p.Stats(), t.series.Load().gauges
			o.ObserveInt64(total, stats.BufferTotalBytes, gauges)
			o.ObserveInt64(free, stats.BufferAvailableBytes, gauges)
		}
		return nil
	}, total, free)
	return err
}

// Close stops observing the producer's buffer gauges and lets the
// producer go: call it once the producer is closed; the Telemetry is then
// done with, and a new producer needs a new one. The MeterProvider
// otherwise keeps the callback, and with it the producer, for as long as
// it lives, and a process that makes and closes producers piles them up.
// The other instruments record only what the producer reports, and a
// closed one reports nothing.
func (t *Telemetry) Close() error {
	err := t.gauges.Unregister()
	t.producer.Store(nil)
	return err
}

// secondsBuckets are the bucket boundaries of the duration histograms: the
// ones OpenTelemetry's messaging conventions advise for
// messaging.client.operation.duration, from 5ms to 10s.
var secondsBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// batchSizeBuckets are the bucket boundaries of kafka.producer.batch.size,
// in bytes: powers of 2 from 256 B to 4 MiB. A batch fills up to
// BatchSize (default 64 KiB, commonly set anywhere from 16 KiB to 1 MiB)
// and a record larger than that makes a batch of its own up to
// MaxRequestSize (default 1 MiB); doubling steps tell a full batch from
// one sent half empty by Linger, and show what compression saves. Batches
// over 4 MiB, which need brokers configured for them, share the last
// bucket.
var batchSizeBuckets = []float64{
	256, 512, 1 << 10, 2 << 10, 4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10,
	128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20,
}

func firstErr(err, e error) error {
	if err != nil {
		return err
	}
	return e
}
