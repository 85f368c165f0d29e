package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gokafka/producer/compression"
)

// FuzzDecodeBatch feeds arbitrary bytes to DecodeBatch, seeded with batches
// built with every codec. Decoding must fail with a CorruptError whose offset
// lies inside what was decoded, or succeed; whatever decodes must come back
// the same after a rebuild. Each input is decoded twice: as it is, for the
// framing and the checks on it, and with its length, magic and CRC made
// right (withValidFraming), since a mutated byte almost always breaks the
// CRC-32C and the fuzzer would otherwise never reach the records nor the
// decompressors.
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
