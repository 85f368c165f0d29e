package integration

// Records produced with our producer, read back with kgo, compared field by
// field: key, value and header values (nil kept apart from empty), header
// keys and order, timestamps, partitions, and offsets equal to those the
// callbacks reported, in produce order within each partition.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/partitioner"
)

// e2eFieldPartitions is the partition count of the field-by-field topic.
const e2eFieldPartitions = 3

// e2eFieldRecords returns records covering every field's corner cases.
// Explicit timestamps lie within the last few minutes (a real broker may
// refuse timestamps far from now, and retention may delete old ones) or a
// little ahead, and out of order within a partition so that batches carry
// negative timestamp deltas. Records whose Timestamp is zero get "now".
func e2eFieldRecords(topic string, now time.Time) []*producer.Record {
	base := now.Add(-5 * time.Minute).Truncate(time.Millisecond)
	ts := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	on := func(p int32, r producer.Record) *producer.Record {
		r.Topic, r.Partition, r.ExplicitPartition = topic, p, true
		return &r
	}
	keyed := func(r producer.Record) *producer.Record {
		r.Topic = topic
		return &r
	}
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(255 - i)
	}
	manyHeaders := make([]producer.Header, 40)
	for i := range manyHeaders {
		manyHeaders[i] = producer.Header{Key: fmt.Sprintf("h%02d", i%7)} // repeated keys, nil values
		if i%3 == 0 {
			manyHeaders[i].Value = []byte{byte(i)}
		}
	}
	big := bytes.Repeat([]byte("a big value in a batch of its own; "), 4000) // > BatchSize

	recs := []*producer.Record{
		on(0, producer.Record{Key: nil, Value: []byte("nil key"), Timestamp: ts(0)}),
		on(0, producer.Record{Key: []byte{}, Value: []byte("empty key"), Timestamp: ts(1)}),
		on(0, producer.Record{Key: []byte("nil value"), Value: nil, Timestamp: ts(2)}),
		on(0, producer.Record{Key: []byte("empty value"), Value: []byte{}, Timestamp: ts(3)}),
		on(1, producer.Record{Key: nil, Value: nil, Timestamp: ts(4)}),
		on(1, producer.Record{Key: []byte{}, Value: []byte{}, Timestamp: ts(5)}),
		on(1, producer.Record{Key: []byte("headers"), Value: []byte("v"), Timestamp: ts(6), Headers: []producer.Header{
			{Key: "a", Value: []byte("first a")},
			{Key: "nil", Value: nil},
			{Key: "empty", Value: []byte{}},
			{Key: "a", Value: []byte("second a")},
			// Go header keys are strings and cannot be nil; the protocol's
			// header key is a non-nullable string, so "" is the one corner.
			{Key: "", Value: []byte("empty key")},
			{Key: "ünïcödé ключ", Value: allBytes},
		}}),
		on(1, producer.Record{Key: []byte("many headers"), Value: []byte("v"), Timestamp: ts(7), Headers: manyHeaders}),
		on(2, producer.Record{Key: allBytes, Value: allBytes, Timestamp: ts(8)}),
		on(2, producer.Record{Key: []byte("earlier"), Value: []byte("5s before the previous"), Timestamp: ts(8 - 5000)}),
		on(2, producer.Record{Key: []byte("later"), Value: []byte("ahead of now"), Timestamp: now.Add(2 * time.Minute).Truncate(time.Millisecond)}),
		on(2, producer.Record{Key: []byte("now"), Value: []byte("zero timestamp means now")}),
		on(0, producer.Record{Key: []byte("big"), Value: big, Timestamp: ts(9)}),
		keyed(producer.Record{Key: []byte("user-1"), Value: []byte("keyed 1"), Timestamp: ts(10)}),
		keyed(producer.Record{Key: []byte("user-2"), Value: []byte("keyed 2"), Timestamp: ts(11)}),
		keyed(producer.Record{Key: []byte("user-3"), Value: []byte("keyed 3"), Timestamp: ts(12)}),
		keyed(producer.Record{Key: []byte(""), Value: []byte("empty key is hashed"), Timestamp: ts(13)}),
		keyed(producer.Record{Key: nil, Value: []byte("keyless, partitioner's choice"), Timestamp: ts(14)}),
		keyed(producer.Record{Key: nil, Value: nil, Timestamp: ts(15)}),
	}
	// One key, many records: their order within the partition must be the
	// order they were produced in.
	for i := range 10 {
		recs = append(recs, keyed(producer.Record{Key: []byte("same key"), Value: fmt.Appendf(nil, "same key #%d", i), Timestamp: ts(20 + i)}))
	}
	return recs
}

// e2eClone copies a record deeply, so the test keeps what it produced while
// the producer's caller-side buffers are scribbled over.
func e2eClone(r *producer.Record) *producer.Record {
	c := *r
	c.Key = cloneNullable(r.Key)
	c.Value = cloneNullable(r.Value)
	c.Headers = nil
	for _, h := range r.Headers {
		c.Headers = append(c.Headers, producer.Header{Key: h.Key, Value: cloneNullable(h.Value)})
	}
	return &c
}

// cloneNullable is bytes.Clone keeping nil and empty apart (bytes.Clone
// already does; named for the reader).
func cloneNullable(b []byte) []byte { return bytes.Clone(b) }

// scribble overwrites a record's buffers in place: Produce copies them, so
// nothing the broker stores may change.
func scribble(r *producer.Record) {
	for _, b := range [][]byte{r.Key, r.Value} {
		for i := range b {
			b[i] ^= 0xA5
		}
	}
	for _, h := range r.Headers {
		for i := range h.Value {
			h.Value[i] ^= 0x5A
		}
	}
}

func TestE2EReadBackFieldByField(t *testing.T) {
	seeds := brokers(t)
	for _, codec := range []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd} {
		t.Run(codec.String(), func(t *testing.T) { e2eReadBackFieldByField(t, seeds, codec) })
	}
}

func e2eReadBackFieldByField(t *testing.T, seeds []string, codec compression.Codec) {
	topic := newTopic(t, seeds, e2eFieldPartitions)
	// One request in flight: the order of a partition's records is checked,
	// and a real broker answers NOT_LEADER_OR_FOLLOWER for a moment after it
	// creates a topic; with more requests in flight a retried batch may land
	// after a later one (as with the Java client without idempotence).
	p := newProducer(t, seeds, func(c *producer.Config) {
		c.Compression = codec
		c.MaxInFlight = 1
	})
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	type sent struct {
		rec    *producer.Record // as produced, kept intact
		md     producer.RecordMetadata
		before time.Time // for a zero Timestamp: the record's time lies in [before, after]
		after  time.Time
		way    string // "Produce" or "Send"
		how    string
	}
	var all []sent

	// Asynchronously with Produce, scribbling over the caller's buffers as
	// soon as Produce returns.
	recs := e2eFieldRecords(topic, time.Now())
	o := newOutcomes(len(recs))
	before := time.Now()
	for i, r := range recs {
		kept := e2eClone(r)
		p.Produce(ctx, r, o.callback(i))
		scribble(r)
		recs[i] = kept
	}
	outs := o.wait(t)
	after := time.Now()
	requireAllAcked(t, outs)
	for i, r := range recs {
		all = append(all, sent{rec: r, md: outs[i].md, before: before, after: after, way: "Produce", how: fmt.Sprintf("Produce #%d", i)})
	}

	// Synchronously with Send, one at a time.
	for i, r := range e2eFieldRecords(topic, time.Now()) {
		before := time.Now()
		md, err := p.Send(ctx, r)
		require.NoError(t, err, "Send #%d", i)
		all = append(all, sent{rec: r, md: md, before: before, after: time.Now(), way: "Send", how: fmt.Sprintf("Send #%d", i)})
	}

	got := e2eReadAll(t, seeds, topic, len(all))
	byOffset := e2eOffsets(got)
	lastOffset := map[string]int64{} // "way/partition" to the last offset seen, for order
	var noProducerID []string
	for _, s := range all {
		r, md, what := s.rec, s.md, s.how
		assert.Equal(t, topic, md.Topic, "%s: metadata topic", what)
		switch {
		case r.ExplicitPartition:
			assert.Equal(t, r.Partition, md.Partition, "%s: explicit partition", what)
		case r.Key != nil:
			assert.Equal(t, partitioner.KeyPartition(r.Key, e2eFieldPartitions), md.Partition, "%s: key partition", what)
		default:
			assert.True(t, md.Partition >= 0 && md.Partition < e2eFieldPartitions, "%s: partition %d", what, md.Partition)
		}
		assert.Equal(t, sizeOrMinusOne(r.Key), md.SerializedKeySize, "%s: serialized key size", what)
		assert.Equal(t, sizeOrMinusOne(r.Value), md.SerializedValueSize, "%s: serialized value size", what)
		if r.Timestamp.IsZero() {
			assert.False(t, md.Timestamp.Before(s.before.Truncate(time.Millisecond)) || md.Timestamp.After(s.after),
				"%s: a zero Timestamp must become the time of Produce; got %v, produced between %v and %v", what, md.Timestamp, s.before, s.after)
		} else {
			assert.Equal(t, r.Timestamp.UnixMilli(), md.Timestamp.UnixMilli(), "%s: metadata timestamp", what)
		}

		g, ok := byOffset[[2]int64{int64(md.Partition), md.Offset}]
		if !assert.True(t, ok, "%s: nothing stored at partition %d offset %d, where the callback said it landed", what, md.Partition, md.Offset) {
			continue
		}
		e2eSameRecord(t, r, g, what)
		assert.Equal(t, md.Timestamp.UnixMilli(), g.Timestamp.UnixMilli(), "%s: stored timestamp vs metadata", what)
		if g.ProducerID < 0 {
			noProducerID = append(noProducerID, what)
		}
		assert.Equal(t, uint8(codec), g.Compression, "%s: codec of the stored batch", what)

		// Within one way of producing, a partition's offsets follow the
		// produce order.
		k := fmt.Sprintf("%s/%d", s.way, md.Partition)
		if last, seen := lastOffset[k]; seen {
			assert.Greater(t, md.Offset, last, "%s: offset %d is not after the previous record's %d in partition %d", what, md.Offset, last, md.Partition)
		}
		lastOffset[k] = md.Offset
	}

	assert.Empty(t, firstFew(noProducerID), "%d of %d records written without a producer id: the producer is idempotent by default",
		len(noProducerID), len(all))

	// Per key, the stored order is the produce order.
	var sameKey []string
	for _, g := range got {
		if string(g.Key) == "same key" {
			sameKey = append(sameKey, string(g.Value))
		}
	}
	var want []string
	for range 2 {
		for i := range 10 {
			want = append(want, fmt.Sprintf("same key #%d", i))
		}
	}
	assert.Equal(t, want, sameKey, "records of one key, in stored order")
}

// TestE2ELogAppendTime runs against a real broker only: kfake accepts the
// topic config message.timestamp.type=LogAppendTime but keeps the
// producer's CreateTime, so there is nothing to check against it.
func TestE2ELogAppendTime(t *testing.T) {
	if os.Getenv("KAFKA_BROKERS") == "" {
		t.Skip("real broker only: kfake does not apply message.timestamp.type=LogAppendTime")
	}
	seeds := brokers(t)
	topic := e2eNewTopics(t, seeds, 1, 2, map[string]string{"message.timestamp.type": "LogAppendTime"})[0]
	p := newProducer(t, seeds, nil)
	createTime := time.Now().Add(-30 * time.Minute).Truncate(time.Millisecond)
	recs := make([]*producer.Record, 200)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "%d", i), Timestamp: createTime}
	}
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)
	got := e2eReadAll(t, seeds, topic, len(recs))
	byOffset := e2eOffsets(got)
	for i, o := range outs {
		what := fmt.Sprintf("record %d", i)
		assert.NotEqual(t, createTime.UnixMilli(), o.md.Timestamp.UnixMilli(), "%s: the metadata must carry the broker's append time, not the CreateTime", what)
		g, ok := byOffset[[2]int64{int64(o.md.Partition), o.md.Offset}]
		if assert.True(t, ok, "%s: nothing stored at %d/%d", what, o.md.Partition, o.md.Offset) {
			assert.Equal(t, g.Timestamp.UnixMilli(), o.md.Timestamp.UnixMilli(), "%s: metadata timestamp vs the stored append time", what)
			sameBytes(t, recs[i].Value, g.Value, what+": value")
		}
	}
}

func sizeOrMinusOne(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}
