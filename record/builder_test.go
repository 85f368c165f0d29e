package record

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/gokafka/producer/compression"
)

type testRecord struct {
	ts         int64
	key, value []byte
	headers    []Header
}

// build appends recs into a buffer of the given capacity and closes it.
func build(t testing.TB, capacity int, opts CloseOptions, recs []testRecord) []byte {
	t.Helper()
	var b Builder
	b.Reset(make([]byte, 0, capacity))
	for _, r := range recs {
		want := b.SizeWith(r.ts, r.key, r.value, r.headers)
		b.Append(r.ts, r.key, r.value, r.headers)
		if b.Size() != want {
			t.Fatalf("SizeWith predicted %d, Size is %d", want, b.Size())
		}
	}
	batch, err := b.Close(opts)
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

// checkDecoded decodes batch and compares it with what was appended.
func checkDecoded(t testing.TB, batch []byte, recs []testRecord) Batch {
	t.Helper()
	d, rest, err := DecodeBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left after the batch", len(rest))
	}
	if len(d.Records) != len(recs) || d.LastOffsetDelta != int32(len(recs)-1) {
		t.Fatalf("%d records, last offset delta %d; want %d", len(d.Records), d.LastOffsetDelta, len(recs))
	}
	if int(d.BatchLength) != len(batch)-12 || d.Magic != 2 || d.TimestampType() != CreateTime || d.IsControl() {
		t.Fatalf("header: %+v", d)
	}
	maxTs := recs[0].ts
	for i, r := range recs {
		maxTs = max(maxTs, r.ts)
		got := d.Records[i]
		if got.OffsetDelta != int32(i) || d.FirstTimestamp+got.TimestampDelta != r.ts {
			t.Fatalf("record %d: offset delta %d, timestamp %d", i, got.OffsetDelta, d.FirstTimestamp+got.TimestampDelta)
		}
		if !sameBytes(got.Key, r.key) || !sameBytes(got.Value, r.value) || !sameHeaders(got.Headers, r.headers) {
			t.Fatalf("record %d: got %+v, want %+v", i, got, r)
		}
	}
	if d.FirstTimestamp != recs[0].ts || d.MaxTimestamp != maxTs {
		t.Fatalf("timestamps first %d max %d, want %d %d", d.FirstTimestamp, d.MaxTimestamp, recs[0].ts, maxTs)
	}
	return d
}

// sameBytes compares contents and nil-ness: nil and empty are different.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func sameHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !sameBytes(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

// edgeRecords covers nil against empty keys, values and header values,
// negative and large timestamp deltas, and long values.
func edgeRecords() []testRecord {
	rng := newRand(1)
	return []testRecord{
		{ts: 1000, key: nil, value: nil},
		{ts: 1001, key: []byte{}, value: []byte{}},
		{ts: 999, key: []byte("k"), value: nil},                    // negative delta, tombstone
		{ts: -5, key: nil, value: []byte("before the epoch")},      // large negative delta
		{ts: 1 << 50, key: []byte("far"), value: []byte("future")}, // large positive delta
		{ts: 1002, key: []byte("h"), value: []byte("v"), headers: []Header{
			{Key: "nil", Value: nil}, {Key: "empty", Value: []byte{}}, {Key: "", Value: []byte("x")},
		}},
		{ts: 1003, key: bytes.Repeat([]byte("K"), 200), value: recordValue(70_000, rng)},
	}
}

func TestRoundTripEveryCodec(t *testing.T) {
	recs := edgeRecords()
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			batch := build(t, 1<<20, notIdempotent(c), recs)
			d := checkDecoded(t, batch, recs)
			if d.Codec() != c {
				t.Fatalf("codec %v, want %v", d.Codec(), c)
			}
		})
	}
}

func TestRoundTripManyRecords(t *testing.T) {
	rng := newRand(2)
	recs := make([]testRecord, 20_000) // offset deltas past one-byte varints
	for i := range recs {
		recs[i] = testRecord{ts: 1700000000000 + int64(rng.IntN(2000)) - 1000,
			key: fmt.Appendf(nil, "key-%d", i), value: recordValue(rng.IntN(300), rng)}
	}
	for _, c := range allCodecs {
		t.Run(c.String(), func(t *testing.T) {
			batch := build(t, 8<<20, notIdempotent(c), recs)
			if d := checkDecoded(t, batch, recs); d.Codec() != c {
				t.Fatalf("codec %v, want %v", d.Codec(), c)
			}
		})
	}
}

func TestCloseWritesProducerFields(t *testing.T) {
	recs := []testRecord{{ts: 1, value: []byte("a")}, {ts: 2, value: []byte("b")}}
	batch := build(t, 256, CloseOptions{Codec: compression.Gzip, Level: 9,
		ProducerID: 77, ProducerEpoch: 3, BaseSequence: 1000, Transactional: true}, recs)
	d := checkDecoded(t, batch, recs)
	if d.ProducerID != 77 || d.ProducerEpoch != 3 || d.BaseSequence != 1000 || !d.Transactional() || d.Codec() != compression.Gzip {
		t.Fatalf("header: %+v", d)
	}
}

// TestStampProducer also reads the codec with CodecOf, as the sender does
// to keep zstd batches from brokers below Produce v7: the transactional
// bit, set next to the codec bits, must not be read as part of the codec.
func TestStampProducer(t *testing.T) {
	recs := []testRecord{{ts: 5, key: []byte("k"), value: []byte("v")}}
	for _, c := range allCodecs {
		batch := build(t, 256, notIdempotent(c), recs)
		StampProducer(batch, 1234567890123, 7, 42, true)
		d := checkDecoded(t, batch, recs) // checks the CRC too
		if d.ProducerID != 1234567890123 || d.ProducerEpoch != 7 || d.BaseSequence != 42 || !d.Transactional() || d.Codec() != c {
			t.Fatalf("%v after stamping: %+v", c, d)
		}
		if got := CodecOf(batch); got != c {
			t.Fatalf("%v after stamping: CodecOf says %v", c, got)
		}
		StampProducer(batch, NoProducerID, NoProducerEpoch, NoSequence, false)
		d = checkDecoded(t, batch, recs)
		if d.ProducerID != -1 || d.ProducerEpoch != -1 || d.BaseSequence != -1 || d.Transactional() || d.Codec() != c {
			t.Fatalf("%v after clearing: %+v", c, d)
		}
	}
}

// TestCloseFallsBackWhenCompressionDoesNotFit gives Close a buffer exactly
// as large as the uncompressed batch: incompressible records then stay
// uncompressed, compressible ones are compressed.
func TestCloseFallsBackWhenCompressionDoesNotFit(t *testing.T) {
	rng := newRand(3)
	random := make([]byte, 4000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for _, c := range allCodecs[1:] {
		for _, tc := range []struct {
			value []byte
			want  compression.Codec
		}{
			{random, compression.None},
			{bytes.Repeat([]byte("compressible "), 300), c},
		} {
			var b Builder
			b.Reset(nil)
			size := b.SizeWith(10, nil, tc.value, nil)
			buf := make([]byte, 0, size)
			b.Reset(buf)
			b.Append(10, nil, tc.value, nil)
			batch, err := b.Close(notIdempotent(c))
			if err != nil {
				t.Fatal(err)
			}
			if &batch[:1][0] != &buf[:1][0] || cap(batch) != size {
				t.Fatalf("%v: the batch left the caller's buffer", c)
			}
			if d := checkDecoded(t, batch, []testRecord{{ts: 10, value: tc.value}}); d.Codec() != tc.want {
				t.Fatalf("%v: batch codec %v, want %v", c, d.Codec(), tc.want)
			}
		}
	}
}

func TestCloseErrors(t *testing.T) {
	var b Builder
	if _, err := b.Close(notIdempotent(compression.None)); err == nil {
		t.Fatal("Close without Reset succeeded")
	}
	b.Reset(nil)
	if _, err := b.Close(notIdempotent(compression.None)); !errors.Is(err, ErrEmptyBatch) {
		t.Fatalf("empty batch: %v", err)
	}
	b.Append(1, nil, []byte("v"), nil)
	if _, err := b.Close(CloseOptions{Codec: compression.Gzip, Level: 99}); !errors.Is(err, compression.ErrInvalidLevel) {
		t.Fatalf("bad level: %v", err)
	}
	// A failed Close leaves the builder intact.
	first, err := b.Close(notIdempotent(compression.Snappy))
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Close(notIdempotent(compression.Gzip))
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBuilderAccessors(t *testing.T) {
	var b Builder
	b.Reset(make([]byte, 10, 100)) // a dirty buffer: Reset starts from 0
	if b.Size() != BatchHeaderSize || b.NumRecords() != 0 {
		t.Fatalf("after Reset: size %d, %d records", b.Size(), b.NumRecords())
	}
	b.Append(50, nil, nil, nil)
	b.Append(40, nil, nil, nil)
	b.Append(60, nil, nil, nil)
	if b.NumRecords() != 3 || b.FirstTimestamp() != 50 || b.MaxTimestamp() != 60 {
		t.Fatalf("records %d first %d max %d", b.NumRecords(), b.FirstTimestamp(), b.MaxTimestamp())
	}
	if got, want := RecordSize(0, 0, nil, nil, nil), 7; got != want {
		t.Fatalf("RecordSize of an empty record %d, want %d", got, want)
	}
	b.Reset(b.buf)
	if b.NumRecords() != 0 || b.FirstTimestamp() != 0 || b.Size() != BatchHeaderSize {
		t.Fatal("Reset kept state")
	}
}

// TestAppendDoesNotAllocate checks the hot path: appending into a buffer
// with room and closing it uncompressed allocates nothing, and compressing
// allocates next to nothing once the pools are warm.
func TestAppendDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	key, value := []byte("key-000001"), recordValue(100, newRand(4))
	headers := []Header{{Key: "trace", Value: []byte("abc")}}
	buf := make([]byte, 0, 256<<10)
	for _, c := range allCodecs {
		var b Builder
		run := func() {
			b.Reset(buf)
			for i := range 1000 {
				b.Append(1700000000000+int64(i), key, value, headers)
			}
			if _, err := b.Close(notIdempotent(c)); err != nil {
				t.Fatal(err)
			}
		}
		run()
		limit := 2.0
		if c == compression.None {
			limit = 0
		}
		if n := testing.AllocsPerRun(10, run); n > limit {
			t.Errorf("%v: %.1f allocs per 1,000 appends and Close", c, n)
		}
	}
}

// AppendWithin appends exactly when the batch stays within the limit, and
// always appends a batch's first record.
func TestAppendWithinRefusesOnlyPastTheLimit(t *testing.T) {
	var b Builder
	b.Reset(make([]byte, 0, 512))
	value := bytes.Repeat([]byte("v"), 100)
	if !b.AppendWithin(10, &Data{TimestampMs: 1000, Value: value}) {
		t.Fatal("the first record was refused: a batch takes its first record whatever the limit")
	}
	next := b.SizeWith(1001, []byte("k"), value, nil)
	if b.AppendWithin(next-1, &Data{TimestampMs: 1001, Key: []byte("k"), Value: value}) {
		t.Fatalf("appended past a limit of %d: the batch is %d bytes", next-1, b.Size())
	}
	if b.NumRecords() != 1 || b.Size() >= next {
		t.Fatalf("a refused record changed the batch: %d records, %d bytes", b.NumRecords(), b.Size())
	}
	if !b.AppendWithin(next, &Data{TimestampMs: 1001, Key: []byte("k"), Value: value}) {
		t.Fatalf("refused a record that takes the batch to exactly the limit, %d bytes", next)
	}
	if b.Size() != next {
		t.Fatalf("Size is %d, SizeWith predicted %d", b.Size(), next)
	}
	if !b.AppendWithin(-1, &Data{TimestampMs: 999, Value: value}) {
		t.Fatal("a negative limit refused a record")
	}
	batch, err := b.Close(CloseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkDecoded(t, batch, []testRecord{{ts: 1000, value: value}, {ts: 1001, key: []byte("k"), value: value}, {ts: 999, value: value}})
}

// MaxRecordOverhead bounds what a record without headers adds besides its
// key and value, at the deltas and lengths where each varint is longest.
func TestMaxRecordOverheadBoundsRecordSize(t *testing.T) {
	huge := make([]byte, 1<<27) // a 5-byte length; never written, so never touched
	for _, n := range []int{0, 63, 64, 8191, 8192, 1 << 20, 1 << 27} {
		for _, key := range [][]byte{nil, huge[:n]} {
			value := huge[:n]
			for _, d := range []struct {
				offset int32
				ts     int64
			}{{0, 0}, {math.MaxInt32, math.MinInt64}, {math.MinInt32, math.MaxInt64}} {
				got := RecordSize(d.offset, d.ts, key, value, nil) - len(key) - len(value)
				if got > MaxRecordOverhead {
					t.Errorf("key %d, value %d bytes, deltas %+v: %d bytes besides them, more than MaxRecordOverhead %d",
						len(key), len(value), d, got, MaxRecordOverhead)
				}
			}
		}
	}
}

// A closed batch takes no more records: a record appended after Close
// went after the batch's bytes, uncounted by its length, record count and
// CRC, and a second Close returned the batch with those bytes trailing
// it, which a decoder read as one record and bytes left over.
func TestAClosedBatchTakesNoMoreRecords(t *testing.T) {
	recs := []testRecord{{ts: 1000, key: []byte("k"), value: []byte("first")}}
	var b Builder
	b.Reset(make([]byte, 0, 1024))
	b.Append(recs[0].ts, recs[0].key, recs[0].value, nil)
	first, err := b.Close(CloseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first = bytes.Clone(first)
	if b.AppendWithin(1024, &Data{TimestampMs: 1001, Value: []byte("late")}) {
		t.Fatal("AppendWithin took a record after Close")
	}
	if b.NumRecords() != 1 {
		t.Fatalf("%d records after a refused append, want 1", b.NumRecords())
	}
	again, err := b.Close(CloseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, first) {
		t.Fatalf("a second Close returned %d bytes, the first %d", len(again), len(first))
	}
	checkDecoded(t, again, recs)
	defer func() {
		if recover() == nil {
			t.Fatal("Append after Close did not panic")
		}
	}()
	b.Append(1002, nil, []byte("later"), nil)
}

// A Builder never Reset takes no record and does not close: its buffer has
// no room for the header, so Close wrote the header over the records and
// returned a corrupt batch with a nil error.
func TestABuilderNeverResetTakesNoRecordsAndDoesNotClose(t *testing.T) {
	var b Builder
	if b.AppendWithin(-1, &Data{TimestampMs: 1, Key: []byte("key"), Value: bytes.Repeat([]byte("v"), 100)}) {
		t.Fatal("AppendWithin took a record into a Builder never Reset")
	}
	if b.NumRecords() != 0 || b.Size() != 0 {
		t.Fatalf("a refused record changed the Builder: %d records, %d bytes", b.NumRecords(), b.Size())
	}
	if batch, err := b.Close(notIdempotent(compression.None)); !errors.Is(err, errNotReset) {
		t.Fatalf("Close on a Builder never Reset: %d bytes, %v; want errNotReset", len(batch), err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Append on a Builder never Reset did not panic")
		}
	}()
	b.Append(1, []byte("key"), []byte("v"), nil)
}

// A limit of 0 is a limit, not "no limit" (only a negative one is): a
// caller passing a buffer's capacity of 0 gets batches of one record.
func TestAppendWithinALimitOfZeroTakesOnlyTheFirstRecord(t *testing.T) {
	var b Builder
	b.Reset(nil)
	if !b.AppendWithin(0, &Data{TimestampMs: 1, Value: []byte("a")}) {
		t.Fatal("the first record was refused: a batch takes its first record whatever the limit")
	}
	if b.AppendWithin(0, &Data{TimestampMs: 1, Value: []byte("b")}) {
		t.Fatalf("AppendWithin(0) took a second record: the batch is %d bytes", b.Size())
	}
}

// Close refuses a level with codec none, as CheckLevel does: a level the
// batch would silently ignore is a configuration mistake worth hearing of.
func TestCloseRefusesALevelForCodecNone(t *testing.T) {
	var b Builder
	b.Reset(nil)
	b.Append(1, nil, []byte("v"), nil)
	if _, err := b.Close(CloseOptions{Codec: compression.None, Level: 5}); !errors.Is(err, compression.ErrInvalidLevel) {
		t.Fatalf("Close(None, level 5): %v, want ErrInvalidLevel", err)
	}
}

// A compressed form exactly as long as the buffer's capacity fits it and
// stays compressed: the batch is sent as the codec the user asked for.
func TestACompressedBatchFillingTheBufferExactlyStaysCompressed(t *testing.T) {
	rng := newRand(7)
	value := make([]byte, 3000)
	for i := range value {
		value[i] = byte(rng.Uint32())
	}
	for _, c := range allCodecs[1:] {
		var b Builder
		b.Reset(make([]byte, 0, 1<<16))
		b.Append(10, nil, value, nil)
		raw := b.Size()
		first, err := b.Close(notIdempotent(c))
		if err != nil {
			t.Fatal(err)
		}
		first = bytes.Clone(first)
		// Random bytes grow when compressed: a buffer of the compressed
		// length has room for the records uncompressed too.
		if CodecOf(first) != c || len(first) < raw {
			t.Fatalf("%v: %d bytes compressed from %d, codec %v; want a larger batch of codec %v", c, len(first), raw, CodecOf(first), c)
		}
		b.Reset(make([]byte, 0, len(first)))
		b.Append(10, nil, value, nil)
		batch, err := b.Close(notIdempotent(c))
		if err != nil {
			t.Fatal(err)
		}
		if CodecOf(batch) != c || !bytes.Equal(batch, first) {
			t.Fatalf("%v: a compressed form of exactly cap(buf)=%d bytes was dropped: codec %v", c, len(first), CodecOf(batch))
		}
	}
}
