package otelhooks

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gokafka/producer"
)

// records is the per-record half: the spans and per-record metrics.
type records struct{ t *Telemetry }

// counts is the per-record half without spans (Options.NoTraces): the
// per-record metrics alone. It has no OnRecordBuffered, there being no
// span to start, so the producer hands each record's context to
// OnRecordAcknowledged as it was.
type counts struct{ t *Telemetry }

func (c counts) OnRecordAcknowledged(ctx context.Context, a producer.RecordAcknowledged) {
	c.t.countAcknowledged(ctx, a)
}

func (c counts) OnRecordRefused(ctx context.Context, rec producer.Record, err error) {
	c.t.countRefused(ctx, rec.Topic, errors.Is(err, producer.ErrNilRecord), err)
}

// spanKey is the context key under which a Telemetry keeps a record's span,
// from OnRecordBuffered to OnRecordAcknowledged. The current span of the
// acknowledged record's ctx is the one the last tracing hook started, which
// may be another hook's (a second Telemetry, the user's own); each
// Telemetry ends exactly its own span, found under a key holding its own
// pointer.
type spanKey struct{ t *Telemetry }

// OnRecordBuffered starts the record's span in its Context. The span is
// also the returned ctx's current span, so that a later hook's span is its
// child.
func (r records) OnRecordBuffered(ctx context.Context, rec producer.Record) context.Context {
	ctx, span := r.start(ctx, rec, true)
	return context.WithValue(ctx, spanKey(r), span)
}

// OnRecordRefused gives a record Produce refused at once, which no other
// record hook hears of, what a failed record gets: its span, ended at once
// with the error, and its operation duration, 0 (the refusal took no
// time the producer measures). Its topic may be one the producer refused
// as invalid: the span names it as given, its bytes that are not UTF-8,
// which OTLP's strings cannot carry, replaced, and the duration counts it
// under "<invalid>" (see countRefused). A nil record's span has no body
// size and is no tombstone: there was no message. Its partition is the
// one the record named, as its error says, if it named one.
func (r records) OnRecordRefused(ctx context.Context, rec producer.Record, err error) {
	nilRecord, topic := errors.Is(err, producer.ErrNilRecord), rec.Topic
	rec.Topic = strings.ToValidUTF8(rec.Topic, "\uFFFD")
	ctx, span := r.start(ctx, rec, !nilRecord)
	md := producer.RecordMetadata{Topic: rec.Topic, Partition: -1, Offset: -1}
	if pe := (*producer.PartitionError)(nil); errors.As(err, &pe) {
		md.Partition = pe.Partition
	}
	end(span, md, err)
	r.t.countRefused(ctx, topic, nilRecord, err)
}

// invalidTopic is the topic of the measurements of records refused for
// their topic's name; no topic is named so, '<' being no character of a
// topic's name.
const invalidTopic = "<invalid>"

// countRefused records a refused record's operation duration, 0, under its
// topic, "" for a nil record. A topic no broker would take as a name is
// counted under invalidTopic: the callers' bad names would each be a
// series of their own, without bound.
func (t *Telemetry) countRefused(ctx context.Context, topic string, nilRecord bool, err error) {
	if !nilRecord && producer.ValidateTopicName(topic) != nil {
		topic = invalidTopic
	}
	t.duration.Record(ctx, 0, t.series.Load().failed(topic, err))
}

// start starts a record's span in ctx; message is false for a nil record,
// whose span says nothing of a body it never had.
func (r records) start(ctx context.Context, rec producer.Record, message bool) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.client.id", r.t.series.Load().clientID),
		operationName, operationType,
	}
	if rec.Topic != "" {
		// As the span's name below: a record without a topic has no
		// destination, where "" would name one.
		attrs = append(attrs, attribute.String("messaging.destination.name", rec.Topic))
	}
	if message {
		attrs = append(attrs, attribute.Int("messaging.message.body.size", len(rec.Value)))
	}
	if key, ok := readableKey(rec.Key); ok {
		attrs = append(attrs, attribute.String("messaging.kafka.message.key", key))
	}
	if message && rec.Value == nil {
		// A tombstone, which deletes its key from a compacted topic: the
		// conventions require its span to say so. An empty value is none.
		attrs = append(attrs, attribute.Bool("messaging.kafka.message.tombstone", true))
	}
	// The conventions name a span "{operation} {destination}", and
	// "{operation}" alone when there is no destination (a nil record, or
	// one without a topic): not "send " with a space and nothing after.
	name := "send"
	if rec.Topic != "" {
		name += " " + rec.Topic
	}
	return r.t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs...))
}

// maxKeyAttribute is the longest key, in bytes, a span names: longer ones
// are rarely what a person searches spans by, and would weigh on every
// span of their records.
const maxKeyAttribute = 256

// readableKey is the key as messaging.kafka.message.key, which the
// conventions recommend only for a key with a canonical string form: many
// keys are binary (a big-endian number, a UUID's bytes, a serialized
// struct), and as a string attribute such a key would be misread or, not
// being UTF-8, dropped or mangled by exporters (OTLP strings are UTF-8).
// So a key is named only if it is valid UTF-8 without control characters
// (a binary number's zero bytes are valid UTF-8) and at most
// maxKeyAttribute bytes long; a nil key, no key, is not.
func readableKey(key []byte) (string, bool) {
	if key == nil || len(key) > maxKeyAttribute || !utf8.Valid(key) || bytes.IndexFunc(key, unicode.IsControl) >= 0 {
		return "", false
	}
	return string(key), true
}

// OnRecordAcknowledged ends the record's span with its outcome, and counts
// it.
func (r records) OnRecordAcknowledged(ctx context.Context, a producer.RecordAcknowledged) {
	md := a.Metadata
	if span, ok := ctx.Value(spanKey(r)).(trace.Span); ok {
		end(span, md, a.Err)
	}
	r.t.countAcknowledged(ctx, a)
}

// countAcknowledged counts a record's outcome in the per-record metrics.
func (t *Telemetry) countAcknowledged(ctx context.Context, a producer.RecordAcknowledged) {
	md := a.Metadata
	s := t.series.Load()
	if a.Err != nil {
		attrs := s.failed(md.Topic, a.Err)
		if a.Sent {
			t.sent.Add(ctx, 1, attrs)
		}
		t.duration.Record(ctx, a.Latency.Seconds(), attrs)
		return
	}
	topic := s.topic(md.Topic)
	if a.Sent {
		t.sent.Add(ctx, 1, topic.sendAdd...)
	}
	t.duration.Record(ctx, a.Latency.Seconds(), topic.sendRecord...)
}

// end ends a record's span with its outcome.
func end(span trace.Span, md producer.RecordMetadata, err error) {
	if !span.IsRecording() {
		return
	}
	if md.Partition >= 0 {
		span.SetAttributes(attribute.String("messaging.destination.partition.id", strconv.Itoa(int(md.Partition))))
	}
	if md.Offset >= 0 {
		span.SetAttributes(attribute.Int64("messaging.kafka.offset", md.Offset))
	}
	if err != nil {
		span.SetAttributes(attribute.String("error.type", producer.ErrorName(err)))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
