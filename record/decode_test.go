package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol/wire"
)

// patched returns a copy of the golden batch changed by edit, with its CRC
// recomputed so that the decoder gets past the checksum to the edit.
func patched(edit func(b []byte) []byte) []byte {
	b := edit(bytes.Clone(goldenBatch))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-12))
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

// Offsets into goldenBatch of its records.
const (
	goldenRecord0 = BatchHeaderSize // record 0's length varint
	goldenRecord1 = BatchHeaderSize + 10
)

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		input  []byte
		offset int
		cause  error
	}{
		{"empty", nil, 0, wire.ErrTruncated},
		{"short header", goldenBatch[:10], 8, wire.ErrTruncated},
		{"truncated batch", goldenBatch[:len(goldenBatch)-1], offBatchLength, wire.ErrTruncated},
		{"batch length below the header", func() []byte {
			b := bytes.Clone(goldenBatch)
			binary.BigEndian.PutUint32(b[offBatchLength:], 48)
			return b
		}(), offBatchLength, wire.ErrMalformed},
		{"negative batch length", func() []byte {
			b := bytes.Clone(goldenBatch)
			binary.BigEndian.PutUint32(b[offBatchLength:], 0xffffffff)
			return b
		}(), offBatchLength, wire.ErrMalformed},
		// Added to the length field's end in a 32-bit int, it wrapped
		// negative, passed the check against the input's length and
		// panicked as a slice bound.
		{"batch length past a 32-bit int", func() []byte {
			b := make([]byte, 80)
			binary.BigEndian.PutUint32(b[offBatchLength:], 0x7ffffffa)
			b[offMagic] = Magic
			return b
		}(), offBatchLength, wire.ErrTruncated},
		{"magic 1", func() []byte {
			b := bytes.Clone(goldenBatch)
			b[offMagic] = 1 // not covered by the CRC
			return b
		}(), offMagic, wire.ErrMalformed},
		{"bad crc", func() []byte {
			b := bytes.Clone(goldenBatch)
			b[len(b)-1] ^= 1
			return b
		}(), offCRC, nil},
		{"unknown codec", patched(func(b []byte) []byte { b[offAttributes+1] = 6; return b }), offAttributes, compression.ErrUnknownCodec},
		{"count beyond the bytes", patched(func(b []byte) []byte { b[offRecordCount+3] = 4; return b }), offRecordCount, wire.ErrMalformed},
		{"count negative", patched(func(b []byte) []byte { b[offRecordCount] = 0x80; return b }), offRecordCount, wire.ErrMalformed},
		{"count below records", patched(func(b []byte) []byte { b[offRecordCount+3] = 1; return b }), goldenRecord1, wire.ErrMalformed},
		{"records end early", patched(func(b []byte) []byte {
			// 3 records would fit the 25 bytes of records, but 2 fill them.
			b[offRecordCount+3] = 3
			return b
		}), len(goldenBatch), wire.ErrTruncated},
		{"zero-length record", patched(func(b []byte) []byte {
			b[offRecordCount+3] = 3
			return append(b, 0x00, 0, 0, 0, 0, 0, 0)
		}), len(goldenBatch) + 1, wire.ErrTruncated},
		{"record length beyond the batch", patched(func(b []byte) []byte { b[goldenRecord1] = 0x7e; return b }), goldenRecord1, wire.ErrMalformed},
		{"record length shorter than its fields", patched(func(b []byte) []byte {
			b[goldenRecord0] = 0x10 // 8 instead of 9: the header count is cut off
			return b
		}), goldenRecord0 + 1 + 8, wire.ErrTruncated},
		{"record length longer than its fields", patched(func(b []byte) []byte {
			b[goldenRecord0] = 0x14 // 10 instead of 9: record 0 swallows a byte
			return b
		}), goldenRecord0 + 1 + 9, wire.ErrMalformed},
		{"key length beyond the record", patched(func(b []byte) []byte { b[goldenRecord0+4] = 0x20; return b }), goldenRecord0 + 5, wire.ErrTruncated},
		{"key length -2", patched(func(b []byte) []byte { b[goldenRecord0+4] = 0x03; return b }), goldenRecord0 + 5, wire.ErrMalformed},
		{"nil header key", patched(func(b []byte) []byte { b[goldenRecord1+12] = 0x01; return b }), goldenRecord1 + 13, wire.ErrMalformed},
		{"header count beyond the record", patched(func(b []byte) []byte { b[goldenRecord1+11] = 0x08; return b }), goldenRecord1 + 12, wire.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rest, err := DecodeBatch(tc.input)
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v, want a CorruptError", err)
			}
			if ce.Offset != tc.offset {
				t.Errorf("offset %d, want %d: %v", ce.Offset, tc.offset, err)
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("error %v does not wrap %v", err, tc.cause)
			}
			if rest != nil {
				t.Errorf("rest %d bytes on error", len(rest))
			}
			t.Log(err)
		})
	}
}

func TestDecodeCorruptCompressedRecords(t *testing.T) {
	recs := []testRecord{{ts: 1, key: []byte("k"), value: bytes.Repeat([]byte("value "), 50)}}
	for _, c := range allCodecs[1:] {
		batch := build(t, 1024, notIdempotent(c), recs)
		// Cut the compressed section short, keeping length and CRC valid.
		batch = batch[:len(batch)-5]
		binary.BigEndian.PutUint32(batch[offBatchLength:], uint32(len(batch)-12))
		binary.BigEndian.PutUint32(batch[offCRC:], batchCRC(batch))
		_, _, err := DecodeBatch(batch)
		var ce *CorruptError
		if !errors.As(err, &ce) || !errors.Is(err, compression.ErrCorrupt) || ce.Offset != BatchHeaderSize {
			t.Fatalf("%v: %v", c, err)
		}
	}
	// Compressed records that decompress to a bad record report offsets in
	// the decompressed bytes.
	records, _ := compression.Compress(nil, compression.Zstd, 0, goldenBatch[BatchHeaderSize:len(goldenBatch)-1])
	batch := patched(func(b []byte) []byte {
		b[offAttributes+1] = byte(compression.Zstd)
		return append(b[:BatchHeaderSize], records...)
	})
	_, _, err := DecodeBatch(batch)
	var ce *CorruptError
	if !errors.As(err, &ce) || !ce.Decompressed || ce.Offset != 10 {
		t.Fatalf("%v", err)
	}
}

func TestDecodeConsecutiveBatches(t *testing.T) {
	second := build(t, 256, notIdempotent(compression.Snappy), []testRecord{{ts: 9, value: []byte("second")}})
	input := append(bytes.Clone(goldenBatch), second...)
	input = append(input, 1, 2, 3) // a partial third batch, as fetches end
	first, rest, err := DecodeBatch(input)
	if err != nil || len(first.Records) != 2 {
		t.Fatalf("first: %v", err)
	}
	next, rest, err := DecodeBatch(rest)
	if err != nil || string(next.Records[0].Value) != "second" {
		t.Fatalf("second: %v", err)
	}
	if _, _, err := DecodeBatch(rest); !errors.Is(err, wire.ErrTruncated) {
		t.Fatalf("partial batch: %v", err)
	}
}

func TestBatchHelpers(t *testing.T) {
	b := Batch{Attributes: 0b111011}
	if b.Codec() != compression.LZ4 || !b.Transactional() || !b.IsControl() || b.TimestampType() != LogAppendTime {
		t.Fatalf("%v %v %v %v", b.Codec(), b.Transactional(), b.IsControl(), b.TimestampType())
	}
	if LogAppendTime.String() != "LogAppendTime" || CreateTime.String() != "CreateTime" {
		t.Fatal("TimestampType names")
	}
}

// A small compressed batch whose records decompress to megabytes of one
// byte repeated fails at its first record or header without allocating
// the count it claims: the count is checked against the decompressed
// bytes, which a few kilobytes of zstd can fill, so a make of the count
// claimed 96 bytes of Record (40 of Header) for every 7 (2) bytes of
// zeros, 110 MB for these 8 MB, only to fail on the first one.
func TestDecodeBombClaimsNoMoreThanItDecodes(t *testing.T) {
	const size = 8 << 20
	for _, tc := range []struct {
		name    string
		section []byte
		count   int32
	}{
		// Each record's length is 0: record 0 ends before its fields.
		{"records of zeros", make([]byte, size), size / minRecordSize},
		// One record filling the section (a 4-byte length, then
		// attributes, timestamp and offset deltas, a null key and value)
		// counting a header for every two bytes left, whose keys are
		// -1, null, which a header key cannot be.
		{"headers of -1", func() []byte {
			b := append(wire.AppendVarint(nil, size-4), 0, 0, 0, 1, 1)
			b = wire.AppendVarint(b, int32((size-len(b)-5)/minHeaderSize))
			return append(b, bytes.Repeat([]byte{1}, size-len(b))...)
		}(), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			batch := compressedBatch(t, compression.Zstd, tc.section, tc.count)
			var err error
			allocated := bytesAllocated(func() { _, _, err = DecodeBatch(batch) })
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d-byte batch: %v, want ErrCorrupt", len(batch), err)
			}
			t.Log(err)
			// The decompressed records themselves, and slack.
			if limit := uint64(2 * size); allocated > limit {
				t.Fatalf("%d-byte batch of %d bytes of records: %d bytes allocated, over %d (%v)",
					len(batch), size, allocated, limit, err)
			}
		})
	}
}

// compressedBatch frames section, compressed with c, as a batch of count
// records with a valid length and CRC.
func compressedBatch(t *testing.T, c compression.Codec, section []byte, count int32) []byte {
	t.Helper()
	b := make([]byte, BatchHeaderSize)
	b, err := compression.Compress(b, c, compression.DefaultLevel, section)
	if err != nil {
		t.Fatal(err)
	}
	b[offMagic] = Magic
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(c))
	binary.BigEndian.PutUint32(b[offRecordCount:], uint32(count))
	binary.BigEndian.PutUint32(b[offBatchLength:], uint32(len(b)-lengthFieldEnd))
	binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
	return b
}

// bytesAllocated is how many bytes the heap handed out while f ran.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
