package integration

// The independent check of issue 2: ProduceRequests and RecordBatches
// encoded by our protocol and record packages are decoded here by code we did
// not write (franz-go's kmsg for the messages and batches, kgo's decompressor
// for the records section) and compared field by field with what the test
// asked for. The expected values come from the test's own description of the
// batch, never from our decoder, so a bug shared by our encoder and decoder
// cannot hide. No broker is needed.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"
)

// kmsgCodecs is every codec a RecordBatch can name.
var kmsgCodecs = []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd}

// kmsgRecord is one record as the test means it to be encoded.
type kmsgRecord struct {
	ts         int64
	key, value []byte
	headers    []record.Header
}

// kmsgBatch is one batch as the test means it to be encoded.
type kmsgBatch struct {
	codec   compression.Codec
	records []kmsgRecord

	// Producer fields: set through CloseOptions, or, when stamp is true,
	// through StampProducer after Close (the sender's way).
	producerID    int64
	producerEpoch int16
	baseSequence  int32
	transactional bool
	stamp         bool
}

// kmsgSampleRecords covers what a record can hold: null and empty keys,
// values and header values, repeated header keys, binary bytes, timestamps
// before the first one (negative deltas) and after it, and values large
// enough that compression has something to do.
func kmsgSampleRecords(base int64, seed int) []kmsgRecord {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	text := []byte(strings.Repeat(fmt.Sprintf("record %d compresses well; ", seed), 300))
	return []kmsgRecord{
		{ts: base, key: nil, value: []byte("null key")},
		{ts: base + 1, key: []byte{}, value: []byte("empty key")},
		{ts: base + 2, key: []byte("null value"), value: nil},
		{ts: base + 3, key: []byte("empty value"), value: []byte{}},
		{ts: base - 1000, key: nil, value: nil}, // before the base: negative delta
		{ts: base + 5, key: []byte("headers"), value: []byte("v"), headers: []record.Header{
			{Key: "a", Value: []byte("1")},
			{Key: "null", Value: nil},
			{Key: "empty", Value: []byte{}},
			{Key: "a", Value: []byte("2")}, // repeated key, order kept
			{Key: "", Value: []byte("empty key")},
			{Key: "ключ", Value: binary},
		}},
		{ts: base + 1<<40, key: binary, value: text}, // a delta that needs a long varint
		{ts: base + 7, key: []byte("k"), value: text[:1000]},
	}
}

// kmsgSampleBatches returns batches of every codec, with and without
// producer fields, stamped either way, transactional or not.
func kmsgSampleBatches(base int64) []kmsgBatch {
	var out []kmsgBatch
	for i, c := range kmsgCodecs {
		out = append(out,
			kmsgBatch{codec: c, records: kmsgSampleRecords(base, i),
				producerID: record.NoProducerID, producerEpoch: record.NoProducerEpoch, baseSequence: record.NoSequence},
			kmsgBatch{codec: c, records: kmsgSampleRecords(base+int64(i), i+10),
				producerID: 1<<40 + int64(i), producerEpoch: 7, baseSequence: 1<<30 + int32(i)},
			kmsgBatch{codec: c, records: kmsgSampleRecords(base-int64(i), i+20),
				producerID: 42, producerEpoch: 3, baseSequence: 99, transactional: true, stamp: true},
			kmsgBatch{codec: c, records: []kmsgRecord{{ts: base, key: []byte("only"), value: []byte("one")}},
				producerID: 5, producerEpoch: 0, baseSequence: 0, stamp: true},
		)
	}
	return out
}

// encode builds the batch with our record package.
func (kb kmsgBatch) encode(t *testing.T) []byte {
	t.Helper()
	var b record.Builder
	b.Reset(make([]byte, 0, 1<<20))
	for _, r := range kb.records {
		b.Append(r.ts, r.key, r.value, r.headers)
	}
	opts := record.CloseOptions{Codec: kb.codec, Level: compression.DefaultLevel,
		ProducerID: kb.producerID, ProducerEpoch: kb.producerEpoch, BaseSequence: kb.baseSequence,
		Transactional: kb.transactional}
	if kb.stamp {
		opts.ProducerID, opts.ProducerEpoch, opts.BaseSequence, opts.Transactional =
			record.NoProducerID, record.NoProducerEpoch, record.NoSequence, false
	}
	batch, err := b.Close(opts)
	require.NoError(t, err)
	batch = slices.Clone(batch)
	if kb.stamp {
		record.StampProducer(batch, kb.producerID, kb.producerEpoch, kb.baseSequence, kb.transactional)
	}
	return batch
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// kmsgCheckBatches decodes raw (one or more concatenated batches) with kmsg
// and compares every field with want.
func kmsgCheckBatches(t *testing.T, raw []byte, want []kmsgBatch, what string) {
	t.Helper()
	for i, w := range want {
		what := fmt.Sprintf("%s batch %d (%s)", what, i, w.codec)
		var kb kmsg.RecordBatch
		require.NoError(t, kb.ReadFrom(raw), "%s: kmsg cannot decode the batch header", what)
		size := 12 + int(kb.Length)
		require.LessOrEqual(t, size, len(raw), "%s: batch length %d runs past the %d bytes present", what, kb.Length, len(raw))
		one := raw[:size]
		raw = raw[size:]
		require.NoError(t, kb.ReadFrom(one), what)

		assert.Equal(t, int64(0), kb.FirstOffset, "%s: base offset", what)
		assert.Equal(t, int32(len(one)-12), kb.Length, "%s: batch length", what)
		assert.Equal(t, int32(-1), kb.PartitionLeaderEpoch, "%s: partition leader epoch", what)
		assert.Equal(t, int8(2), kb.Magic, "%s: magic", what)
		assert.Equal(t, crc32.Checksum(one[21:], castagnoli), uint32(kb.CRC), "%s: CRC-32C of attributes..end", what)
		wantAttrs := int16(w.codec)
		if w.transactional {
			wantAttrs |= 0x10
		}
		assert.Equal(t, wantAttrs, kb.Attributes, "%s: attributes (codec bits 0-2, CreateTime, transactional bit 4, not control)", what)
		assert.Equal(t, int32(len(w.records)-1), kb.LastOffsetDelta, "%s: last offset delta", what)
		first, maxTs := w.records[0].ts, w.records[0].ts
		for _, r := range w.records {
			maxTs = max(maxTs, r.ts)
		}
		assert.Equal(t, first, kb.FirstTimestamp, "%s: first (base) timestamp", what)
		assert.Equal(t, maxTs, kb.MaxTimestamp, "%s: max timestamp", what)
		assert.Equal(t, w.producerID, kb.ProducerID, "%s: producer id", what)
		assert.Equal(t, w.producerEpoch, kb.ProducerEpoch, "%s: producer epoch", what)
		assert.Equal(t, w.baseSequence, kb.FirstSequence, "%s: base sequence", what)
		assert.Equal(t, int32(len(w.records)), kb.NumRecords, "%s: record count", what)
		assert.Equal(t, one, kb.AppendTo(nil), "%s: kmsg re-encodes the batch to other bytes", what)

		records, err := kgo.DefaultDecompressor().Decompress(kb.Records, kgo.CompressionCodecType(w.codec))
		require.NoError(t, err, "%s: franz-go cannot decompress the records", what)
		kmsgCheckRecords(t, records, w.records, first, what)
	}
	assert.Empty(t, raw, "%s: bytes after the last batch", what)
}

// kmsgCheckRecords decodes an uncompressed records section with kmsg.
func kmsgCheckRecords(t *testing.T, section []byte, want []kmsgRecord, base int64, what string) {
	t.Helper()
	for i, w := range want {
		what := fmt.Sprintf("%s record %d", what, i)
		length, n := binary.Varint(section)
		require.Positive(t, n, "%s: no length varint", what)
		size := n + int(length)
		require.LessOrEqual(t, size, len(section), "%s: length %d runs past the section", what, length)
		var r kmsg.Record
		require.NoError(t, r.ReadFrom(section[:size]), what)
		assert.Equal(t, section[:size], r.AppendTo(nil), "%s: kmsg re-encodes the record to other bytes (trailing or missing fields)", what)
		section = section[size:]

		assert.Equal(t, int8(0), r.Attributes, "%s: attributes", what)
		assert.Equal(t, w.ts-base, r.TimestampDelta64, "%s: timestamp delta", what)
		assert.Equal(t, int32(i), r.OffsetDelta, "%s: offset delta", what)
		sameBytes(t, w.key, r.Key, what+": key")
		sameBytes(t, w.value, r.Value, what+": value")
		require.Len(t, r.Headers, len(w.headers), "%s: headers", what)
		for j, h := range w.headers {
			assert.Equal(t, h.Key, r.Headers[j].Key, "%s: header %d key", what, j)
			sameBytes(t, h.Value, r.Headers[j].Value, fmt.Sprintf("%s: header %d value", what, j))
		}
	}
	assert.Empty(t, section, "%s: bytes after the last record", what)
}

// TestKmsgProduceRequest encodes ProduceRequests at every version we
// implement that kmsg also knows, each carrying batches of every codec, and
// decodes them with kmsg.
func TestKmsgProduceRequest(t *testing.T) {
	ours := protocol.Supported(protocol.Produce)
	theirs := new(kmsg.ProduceRequest).MaxVersion()
	require.Equal(t, int16(3), ours.Min, "Produce v3 is the first with RecordBatch v2")
	require.GreaterOrEqual(t, theirs, ours.Max, "kmsg must know every Produce version we encode (v%d-v%d)", ours.Min, ours.Max)

	const base = int64(1_700_000_000_000)
	batches := kmsgSampleBatches(base)
	// Partition layout: topic "alpha" gets one batch per partition, and
	// partition 7 gets two concatenated batches; topic "beta" gets the rest.
	type part struct {
		index   int32
		batches []kmsgBatch
	}
	type topic struct {
		name  string
		id    [16]byte // what names the topic from v13 (KIP-516)
		parts []part
	}
	var alpha, beta topic
	alpha.name, beta.name = "alpha", "beta.with-every_char"
	alpha.id, beta.id = [16]byte{0: 0xa1, 15: 1}, [16]byte{0: 0xbe, 8: 0x80, 15: 2}
	for i, b := range batches {
		switch {
		case i < 8:
			alpha.parts = append(alpha.parts, part{index: int32(i), batches: []kmsgBatch{b}})
		case i == 8:
			alpha.parts = append(alpha.parts, part{index: 100, batches: []kmsgBatch{b, batches[i+1]}})
		case i == 9:
		default:
			beta.parts = append(beta.parts, part{index: int32(1000 + i), batches: []kmsgBatch{b}})
		}
	}
	topics := []topic{alpha, beta}

	encodedBatches := map[string][]byte{}
	req := protocol.ProduceRequest{TimeoutMs: 29_999}
	for _, tp := range topics {
		// Both the name and the id: the version decides which is sent.
		rt := protocol.ProduceRequestTopic{Name: tp.name, TopicID: tp.id}
		for _, p := range tp.parts {
			var raw []byte
			for _, b := range p.batches {
				raw = append(raw, b.encode(t)...)
			}
			encodedBatches[fmt.Sprintf("%s/%d", tp.name, p.index)] = raw
			rt.Partitions = append(rt.Partitions, protocol.ProduceRequestPartition{Index: p.index, Records: raw})
		}
		req.Topics = append(req.Topics, rt)
	}

	txnID := "txn-ünïcode"
	clientID := "kmsg-check"
	for v := ours.Min; v <= ours.Max; v++ {
		for _, variant := range []struct {
			name  string
			txnID *string
			acks  int16
		}{
			{"acks=all", nil, -1},
			{"acks=1 transactional", &txnID, 1},
			{"acks=0 empty transactional id", new(string), 0},
		} {
			t.Run(fmt.Sprintf("v%d/%s", v, variant.name), func(t *testing.T) {
				req := req
				req.TransactionalID, req.Acks = variant.txnID, variant.acks
				body := req.AppendTo(nil, v)
				frame := protocol.AppendRequestHeader(nil, protocol.Produce, v, 0x01020304, &clientID)
				frame = append(frame, body...)

				got := kmsg.NewPtrProduceRequest()
				got.SetVersion(v)
				require.NoError(t, got.ReadFrom(body), "kmsg cannot decode our Produce v%d body", v)
				assert.Equal(t, variant.txnID, got.TransactionID, "transactional id")
				assert.Equal(t, variant.acks, got.Acks, "acks")
				assert.Equal(t, int32(29_999), got.TimeoutMillis, "timeout")
				assert.Empty(t, got.UnknownTags.Len(), "request tags")
				require.Len(t, got.Topics, len(topics))
				for i, tp := range topics {
					gt := got.Topics[i]
					if v >= 13 {
						assert.Empty(t, gt.Topic, "topic %d: no name from v13", i)
						assert.Equal(t, tp.id, gt.TopicID, "topic %d id (v13+)", i)
					} else {
						assert.Equal(t, tp.name, gt.Topic, "topic %d name", i)
						assert.Zero(t, gt.TopicID, "topic %d: no id before v13", i)
					}
					require.Len(t, gt.Partitions, len(tp.parts), "topic %s partitions", tp.name)
					for j, p := range tp.parts {
						gp := gt.Partitions[j]
						assert.Equal(t, p.index, gp.Partition, "topic %s partition %d index", tp.name, j)
						key := fmt.Sprintf("%s/%d", tp.name, p.index)
						require.Equal(t, encodedBatches[key], gp.Records, "%s: records bytes must travel unchanged", key)
						kmsgCheckBatches(t, gp.Records, p.batches, key)
					}
				}

				// kmsg's encoding of what it decoded must be our bytes,
				// header included: nothing left unread, nothing encoded
				// differently.
				want := kmsg.NewRequestFormatter(kmsg.FormatterClientID(clientID)).AppendRequest(nil, got, 0x01020304)
				require.Equal(t, int32(len(want)-4), int32(binary.BigEndian.Uint32(want)), "kmsg frame size")
				assert.Equal(t, want[4:], frame, "our request header and body differ from kmsg's encoding of the same request")
			})
		}
	}
}

// TestKmsgProduceRequestNullRecords checks a partition with null records
// bytes, which the schema allows, at a flexible and a non-flexible version.
func TestKmsgProduceRequestNullRecords(t *testing.T) {
	for _, v := range []int16{3, 8, 9, 12, 13} {
		req := protocol.ProduceRequest{Acks: -1, TimeoutMs: 1, Topics: []protocol.ProduceRequestTopic{
			{Name: "t", Partitions: []protocol.ProduceRequestPartition{{Index: 3, Records: nil}, {Index: 4, Records: []byte{}}}},
		}}
		got := kmsg.NewPtrProduceRequest()
		got.SetVersion(v)
		require.NoError(t, got.ReadFrom(req.AppendTo(nil, v)), "v%d", v)
		require.Len(t, got.Topics, 1, "v%d", v)
		require.Len(t, got.Topics[0].Partitions, 2, "v%d", v)
		assert.Nil(t, got.Topics[0].Partitions[0].Records, "v%d: nil records must be encoded as null", v)
		assert.NotNil(t, got.Topics[0].Partitions[1].Records, "v%d: empty records must not be encoded as null", v)
		assert.Empty(t, got.Topics[0].Partitions[1].Records, "v%d", v)
	}
}
