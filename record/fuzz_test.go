package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/gokafka/producer/compression"
)

// FuzzDecodeBatch feeds arbitrary bytes to DecodeBatch, seeded with batches
// built with every codec. Decoding must fail with a CorruptError whose
// offset lies inside what was decoded, or succeed; whatever decodes must
// decode the same once written again field by field (appendBatch), and its
// records must come back the same after a rebuild by a Builder. Each input
// is decoded twice: as it is, for the framing and the checks on it, and
// with its length, magic and CRC made right (withValidFraming), since a
// mutated byte almost always breaks the CRC-32C and the fuzzer would
// otherwise never reach the records nor the decompressors.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(goldenBatch)
	for _, c := range allCodecs {
		f.Add(build(f, 4096, notIdempotent(c), edgeRecords()[:6]))
		f.Add(build(f, 4096, CloseOptions{Codec: c, ProducerID: 1, ProducerEpoch: 2, BaseSequence: 3, Transactional: true},
			[]testRecord{{ts: 1, key: []byte("k"), value: []byte("v")}}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeBatch(t, data)
		checkDecodeBatch(t, withValidFraming(data))
	})
}

// checkDecodeBatch is FuzzDecodeBatch's check of one input.
func checkDecodeBatch(t *testing.T, data []byte) {
	batch, rest, err := DecodeBatch(data)
	if err != nil {
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("error of type %T: %v", err, err)
		}
		// The decompressed records are not at hand; their size is bounded.
		limit := len(data)
		if ce.Decompressed {
			limit = compression.MaxDecompressedSize
		}
		if ce.Offset < 0 || ce.Offset > limit {
			t.Fatalf("offset %d outside the %d bytes decoded: %v", ce.Offset, limit, err)
		}
		return
	}
	if len(rest) > len(data) || !bytes.Equal(rest, data[len(data)-len(rest):]) {
		t.Fatal("rest is not a suffix of the input")
	}
	again, rest, err := DecodeBatch(appendBatch(t, nil, batch))
	if err != nil || len(rest) != 0 {
		t.Fatalf("the decoded batch written again: %v, %d bytes after it", err, len(rest))
	}
	// The length and the CRC are of the bytes, which differ where the
	// input compressed otherwise or spelled a varint with more bytes.
	again.BatchLength, again.CRC = batch.BatchLength, batch.CRC
	if !reflect.DeepEqual(again, batch) {
		t.Fatalf("decode(write(decode(x))) != decode(x)\n%+v\n%+v", again, batch)
	}
	if len(batch.Records) == 0 {
		return // compaction can leave empty batches; Close refuses them
	}
	recs := make([]testRecord, len(batch.Records))
	for i, r := range batch.Records {
		recs[i] = testRecord{ts: batch.FirstTimestamp + r.TimestampDelta, key: r.Key, value: r.Value, headers: r.Headers}
	}
	checkDecoded(t, build(t, 2*len(data)+1024, notIdempotent(batch.Codec()), recs), recs)
}

// withValidFraming returns a copy of data as one batch that passes
// DecodeBatch's length, magic and CRC checks: its length covers the whole
// input and its CRC sums what the mutations left. Data too short for a
// header is returned as it is.
func withValidFraming(data []byte) []byte {
	if len(data) < BatchHeaderSize {
		return data
	}
	b := bytes.Clone(data)
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-lengthFieldEnd))
	b[offMagic] = Magic
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

// appendBatch appends b as DecodeBatch reads it: every header field as it
// is, save the length and the CRC, which it computes, and the records, each
// with its own attributes, deltas, key, value and headers, compressed with
// b's codec. It shares no code with DecodeBatch nor with the Builder, so
// that a field either reads into the wrong place shows.
func appendBatch(t *testing.T, dst []byte, b Batch) []byte {
	t.Helper()
	var records []byte
	for _, r := range b.Records {
		body := append([]byte{byte(r.Attributes)}, binary.AppendVarint(nil, r.TimestampDelta)...)
		body = binary.AppendVarint(body, int64(r.OffsetDelta))
		body = appendVarintBytes(body, r.Key)
		body = appendVarintBytes(body, r.Value)
		body = binary.AppendVarint(body, int64(len(r.Headers)))
		for _, h := range r.Headers {
			body = append(binary.AppendVarint(body, int64(len(h.Key))), h.Key...)
			body = appendVarintBytes(body, h.Value)
		}
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
	}
	if b.Codec() != compression.None {
		var err error
		if records, err = compression.Compress(nil, b.Codec(), compression.DefaultLevel, records); err != nil {
			t.Fatal(err)
		}
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.BaseOffset))
	dst = binary.BigEndian.AppendUint32(dst, 0) // the length, below
	dst = binary.BigEndian.AppendUint32(dst, uint32(b.PartitionLeaderEpoch))
	dst = append(dst, byte(b.Magic))
	dst = binary.BigEndian.AppendUint32(dst, 0) // the CRC, below
	dst = binary.BigEndian.AppendUint16(dst, uint16(b.Attributes))
	dst = binary.BigEndian.AppendUint32(dst, uint32(b.LastOffsetDelta))
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.FirstTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.MaxTimestamp))
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.ProducerID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(b.ProducerEpoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(b.BaseSequence))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b.Records)))
	dst = append(dst, records...)
	batch := dst[start:]
	binary.BigEndian.PutUint32(batch[offBatchLength:], uint32(len(batch)-lengthFieldEnd))
	binary.BigEndian.PutUint32(batch[offCRC:], batchCRC(batch))
	return dst
}

// appendVarintBytes appends b with a varint length, -1 for nil.
func appendVarintBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	return append(binary.AppendVarint(dst, int64(len(b))), b...)
}
