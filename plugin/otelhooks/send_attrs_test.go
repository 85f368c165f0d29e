package otelhooks_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/plugin/otelhooks"
)

// The per-record metrics carry messaging.operation.name and
// messaging.operation.type "send", which the conventions require of them,
// whatever the outcome.
func TestPerRecordMetricsNameTheSendOperation(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	acked := hookOf[producer.HookRecordAcknowledged](t, tt.tel)
	acked.OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{Metadata: producer.RecordMetadata{Topic: "events"}, Sent: true})
	acked.OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{
		Metadata: producer.RecordMetadata{Topic: "events", Partition: 0, Offset: -1}, Err: producer.ErrDeliveryTimeout, Sent: true,
	})

	sent := tt.metric(t, "messaging.client.sent.messages").(metricdata.Sum[int64])
	duration := tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64])
	sets := []attribute.Set{}
	for _, dp := range sent.DataPoints {
		sets = append(sets, dp.Attributes)
	}
	for _, dp := range duration.DataPoints {
		sets = append(sets, dp.Attributes)
	}
	require.Len(t, sets, 4, "a success and a failure, each in both")
	for _, set := range sets {
		name, _ := set.Value("messaging.operation.name")
		kind, _ := set.Value("messaging.operation.type")
		require.Equal(t, "send", name.String(), set.ToSlice())
		require.Equal(t, "send", kind.String(), set.ToSlice())
	}
}

// messaging.client.sent.messages counts only the records the producer
// tried to send: the conventions say it must not count a record that was
// never sent, such as one whose topic never appeared. Its operation still
// took time and failed, so the duration has it.
func TestSentMessagesLeaveOutARecordNeverSent(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	acked := hookOf[producer.HookRecordAcknowledged](t, tt.tel)
	acked.OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{Metadata: producer.RecordMetadata{Topic: "events", Offset: 3}, Sent: true})
	acked.OnRecordAcknowledged(context.Background(), producer.RecordAcknowledged{
		Metadata: producer.RecordMetadata{Topic: "events", Partition: -1, Offset: -1}, Err: producer.ErrUnknownTopic,
	})

	sent := tt.metric(t, "messaging.client.sent.messages").(metricdata.Sum[int64])
	require.Len(t, sent.DataPoints, 1, "the record sent, alone")
	_, failed := sent.DataPoints[0].Attributes.Value("error.type")
	require.False(t, failed, "the record sent, alone")
	require.Equal(t, uint64(2), histogramCount(t, tt.reader, "messaging.client.operation.duration"), "both operations")
}

// A span names the record's key when it is short readable text, and only
// then: a binary key has no string form to show.
func TestSpansNameAReadableKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  []byte
		want string // "": none
	}{
		{"text", []byte("order-42"), "order-42"},
		{"unicode text", []byte("zürich/köln"), "zürich/köln"},
		{"no key", nil, ""},
		{"an int64, big-endian", []byte{0, 0, 0, 0, 0, 0, 0, 42}, ""},
		{"not UTF-8", []byte{0xff, 0xfe, 'a'}, ""},
		// 256 bytes is the longest key named: a limit one short would
		// drop keys users wrote to fit it.
		{"256 bytes, the longest named", []byte(strings.Repeat("k", 256)), strings.Repeat("k", 256)},
		{"too long", []byte(strings.Repeat("k", 257)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTelemetry(t, otelhooks.Options{})
			ctx := hookOf[producer.HookRecordBuffered](t, tt.tel).OnRecordBuffered(context.Background(), producer.Record{Topic: "events", Key: tc.key})
			hookOf[producer.HookRecordAcknowledged](t, tt.tel).OnRecordAcknowledged(ctx, producer.RecordAcknowledged{Err: errors.New("no matter")})
			spans := tt.spans.Ended()
			require.Len(t, spans, 1)
			require.Equal(t, tc.want, attr(spans[0], "messaging.kafka.message.key"))
		})
	}
}

// A tombstone's span says it is one (messaging.kafka.message.tombstone,
// which the conventions require of it), and only a tombstone's: an empty
// value deletes nothing.
func TestSpansMarkATombstone(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte
		want  string // "": not set
	}{
		{"a nil value", nil, "true"},
		{"an empty value", []byte{}, ""},
		{"a value", []byte("v"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTelemetry(t, otelhooks.Options{})
			ctx := hookOf[producer.HookRecordBuffered](t, tt.tel).OnRecordBuffered(context.Background(), producer.Record{Topic: "events", Key: []byte("k"), Value: tc.value})
			hookOf[producer.HookRecordAcknowledged](t, tt.tel).OnRecordAcknowledged(ctx, producer.RecordAcknowledged{Metadata: producer.RecordMetadata{Topic: "events", Offset: 5}})
			spans := tt.spans.Ended()
			require.Len(t, spans, 1)
			require.Equal(t, tc.want, attr(spans[0], "messaging.kafka.message.tombstone"))
		})
	}
}

// A nil record, refused at once, had no message: its span says nothing of
// a body or a tombstone, while a record refused with a nil value is a
// tombstone of 0 bytes all the same. Neither has a topic, and their spans
// are named "send", the operation alone, as the conventions name a span
// without a destination, not "send " with a trailing space, and carry no
// messaging.destination.name, where "" would name one.
func TestTheSpanOfANilRecordHasNoBodyAndIsNoTombstone(t *testing.T) {
	tt := newTelemetry(t, otelhooks.Options{})
	p, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: tt.tel.Hooks()})
	require.NoError(t, err)
	defer p.Close(context.Background())
	p.Produce(context.Background(), nil, nil)
	p.Produce(context.Background(), &producer.Record{}, nil)

	spans := tt.spans.Ended()
	require.Len(t, spans, 2, "a span per refused record")
	has := func(i int, key string) bool {
		for _, kv := range spans[i].Attributes() {
			if string(kv.Key) == key {
				return true
			}
		}
		return false
	}
	require.False(t, has(0, "messaging.kafka.message.tombstone"), "a nil record")
	require.False(t, has(0, "messaging.message.body.size"), "a nil record")
	require.Equal(t, "true", attr(spans[1], "messaging.kafka.message.tombstone"), "a record with a nil value")
	require.Equal(t, "0", attr(spans[1], "messaging.message.body.size"), "a record with a nil value")
	for i := range spans {
		require.Equal(t, "send", spans[i].Name(), "no topic, no destination in the name")
		require.False(t, has(i, "messaging.destination.name"), "no topic, no destination")
	}
}

// A record Produce refuses at once has its operation duration, with and
// without spans (NoTraces): a nil record's under no topic, "", as the
// package says, and a topic no broker would take as a name under
// "<invalid>". A nil record is a bug of its own, not a bad topic name:
// counted under "<invalid>", it would be taken for one; and a NoTraces
// producer that left refusals out would show no failures where there are
// some.
func TestARefusedRecordsDurationIsCountedUnderItsTopic(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts otelhooks.Options
	}{{"with spans", otelhooks.Options{}}, {"NoTraces", otelhooks.Options{NoTraces: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			tt := newTelemetry(t, tc.opts)
			p, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: tt.tel.Hooks()})
			require.NoError(t, err)
			defer p.Close(context.Background())
			p.Produce(context.Background(), nil, nil)
			p.Produce(context.Background(), &producer.Record{Topic: "orders/2024-06-01"}, nil)

			duration := tt.metric(t, "messaging.client.operation.duration").(metricdata.Histogram[float64])
			topics := map[string]uint64{}
			for _, dp := range duration.DataPoints {
				topic, _ := dp.Attributes.Value("messaging.destination.name")
				topics[topic.AsString()] += dp.Count
			}
			require.Equal(t, map[string]uint64{"": 1, "<invalid>": 1}, topics)
		})
	}
}
