package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"
)

// varint32Edges are where zigzag and 7-bit grouping change length.
var varint32Edges = []int32{0, 1, -1, 63, -64, 64, -65, 8191, -8192, 8192, 1<<20 - 1, 1 << 20, math.MaxInt32, math.MinInt32}

func TestVarintMatchesProtobufZigzag(t *testing.T) {
	// Kafka's VARINT/VARLONG is protobuf's zigzag varint; encoding/binary
	// implements the same, so it is an independent reference.
	for _, v := range varint32Edges {
		want := binary.AppendVarint(nil, int64(v))
		if got := AppendVarint(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarint(%d) = %x, want %x", v, got, want)
		}
		if n := VarintSize(v); n != len(want) {
			t.Errorf("VarintSize(%d) = %d, want %d", v, n, len(want))
		}
		rd := NewReader(want)
		if got := rd.Varint(); got != v || rd.Err() != nil {
			t.Errorf("Varint() of %x = %d, %v; want %d", want, got, rd.Err(), v)
		}
	}
	for _, v := range []int64{0, -1, 1, 63, -64, 64, -65, 8191, -8192, 8192, math.MaxInt64, math.MinInt64, 1 << 35, -(1 << 35)} {
		want := binary.AppendVarint(nil, v)
		if got := AppendVarlong(nil, v); !bytes.Equal(got, want) {
			t.Errorf("AppendVarlong(%d) = %x, want %x", v, got, want)
		}
		if n := VarlongSize(v); n != len(want) {
			t.Errorf("VarlongSize(%d) = %d, want %d", v, n, len(want))
		}
		rd := NewReader(want)
		if got := rd.Varlong(); got != v || rd.Err() != nil {
			t.Errorf("Varlong() of %x = %d, %v; want %d", want, got, rd.Err(), v)
		}
	}
}

func TestUvarintSizes(t *testing.T) {
	for _, v := range []uint32{0, 127, 128, 16383, 16384, 1<<21 - 1, 1 << 21, 1<<28 - 1, 1 << 28, math.MaxUint32} {
		b := AppendUvarint(nil, v)
		if !bytes.Equal(b, binary.AppendUvarint(nil, uint64(v))) {
			t.Errorf("AppendUvarint(%d) = %x", v, b)
		}
		if UvarintSize(v) != len(b) {
			t.Errorf("UvarintSize(%d) = %d, encoded %d bytes", v, UvarintSize(v), len(b))
		}
	}
}

func TestFixedWidthBigEndian(t *testing.T) {
	var b []byte
	b = AppendInt8(b, -2)
	b = AppendInt16(b, -3)
	b = AppendInt32(b, 0x01020304)
	b = AppendInt64(b, -5)
	b = AppendUint32(b, 0xfffffffe)
	b = AppendBool(b, true)
	b = AppendUUID(b, UUID{15: 9})
	want := []byte{0xfe, 0xff, 0xfd, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb, 0xff, 0xff, 0xff, 0xfe, 1}
	want = append(want, make([]byte, 15)...)
	want = append(want, 9)
	if !bytes.Equal(b, want) {
		t.Fatalf("got %x\nwant %x", b, want)
	}
	rd := NewReader(b)
	if rd.Int8() != -2 || rd.Int16() != -3 || rd.Int32() != 0x01020304 || rd.Int64() != -5 ||
		rd.Uint32() != 0xfffffffe || !rd.Bool() || rd.UUID() != (UUID{15: 9}) {
		t.Fatal("read back differs")
	}
	rd.Done("fixed widths")
	if rd.Err() != nil {
		t.Fatal(rd.Err())
	}
}

func TestStringsAndBytesKeepNullAndEmptyApart(t *testing.T) {
	empty, text := "", "kafka"
	for _, flex := range []bool{false, true} {
		var b []byte
		b = AppendStr(b, text, flex)
		b = AppendNullableStr(b, nil, flex)
		b = AppendNullableStr(b, &empty, flex)
		b = AppendByteSlice(b, []byte{}, flex)
		b = AppendNullableByteSlice(b, nil, flex)
		b = AppendNullableByteSlice(b, []byte{}, flex)
		b = AppendLen(b, 3, flex)
		b = append(b, 1, 2, 3) // three one-byte elements

		rd := NewReader(b)
		if s := rd.Str(flex); s != text {
			t.Errorf("flex=%v: string %q", flex, s)
		}
		if s := rd.NullableStr(flex); s != nil {
			t.Errorf("flex=%v: null string read as %q", flex, *s)
		}
		if s := rd.NullableStr(flex); s == nil || *s != "" {
			t.Errorf("flex=%v: empty string read as %v", flex, s)
		}
		if bs := rd.ByteSlice(flex); bs == nil || len(bs) != 0 {
			t.Errorf("flex=%v: empty bytes read as %v", flex, bs)
		}
		if bs := rd.NullableByteSlice(flex); bs != nil {
			t.Errorf("flex=%v: null bytes read as %v", flex, bs)
		}
		if bs := rd.NullableByteSlice(flex); bs == nil {
			t.Errorf("flex=%v: empty nullable bytes read as null", flex)
		}
		if n := rd.Len(flex); n != 3 {
			t.Errorf("flex=%v: array length %d", flex, n)
		}
		rd.Span(3)
		if rd.Err() != nil || rd.Remaining() != 0 {
			t.Errorf("flex=%v: err %v, %d bytes left", flex, rd.Err(), rd.Remaining())
		}
	}
	if !bytes.Equal(AppendNullArray(nil, true), []byte{0}) || !bytes.Equal(AppendNullArray(nil, false), []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Error("null array encodings")
	}
}

func TestReaderRemembersFirstErrorWithOffset(t *testing.T) {
	rd := NewReader([]byte{0, 1, 2})
	rd.Int16()
	rd.Int32() // only one byte left
	rd.Int8()  // would succeed alone, but the reader has failed
	var we *Error
	if !errors.As(rd.Err(), &we) {
		t.Fatalf("error %v is not a *wire.Error", rd.Err())
	}
	if we.Offset != 2 || !errors.Is(rd.Err(), ErrTruncated) {
		t.Fatalf("got %v at offset %d, want truncation at byte 2", rd.Err(), we.Offset)
	}
}

// A varint cut short is reported at its first byte, where a reader of the
// error looks for the field, not past its last.
func TestATruncatedVarintIsReportedWhereItBegins(t *testing.T) {
	rd := NewReader([]byte{0, 0x80, 0x80})
	rd.Int8()
	rd.Uvarint()
	var we *Error
	if !errors.As(rd.Err(), &we) || we.Offset != 1 || !errors.Is(rd.Err(), ErrTruncated) {
		t.Fatalf("error %v, want truncation at byte 1", rd.Err())
	}
}

// An unsigned varint of exactly 2^32 overflows 32 bits: read as 0, a
// compact length would turn into a null.
func TestAnUnsignedVarintOf2To32Overflows(t *testing.T) {
	rd := NewReader([]byte{0x80, 0x80, 0x80, 0x80, 0x10}) // 1<<32
	if v := rd.Uvarint(); !errors.Is(rd.Err(), ErrMalformed) {
		t.Fatalf("Uvarint read %d, err %v; want ErrMalformed", v, rd.Err())
	}
}

func TestLengthsAreNeverTrusted(t *testing.T) {
	cases := map[string]struct {
		b    []byte
		read func(*Reader)
		want error
	}{
		"string longer than input":  {AppendInt16(nil, 100), func(r *Reader) { _ = r.Int16String() }, ErrTruncated},
		"negative string length":    {AppendInt16(nil, -2), func(r *Reader) { _ = r.Int16String() }, ErrMalformed},
		"bytes longer than input":   {AppendInt32(nil, math.MaxInt32), func(r *Reader) { r.Bytes() }, ErrTruncated},
		"array count beyond input":  {AppendInt32(nil, 1<<30), func(r *Reader) { r.ArrayLen() }, ErrTruncated},
		"compact count beyond":      {AppendUvarint(nil, 1<<30), func(r *Reader) { r.CompactArrayLen() }, ErrTruncated},
		"varint of six bytes":       {[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, func(r *Reader) { r.Varint() }, ErrMalformed},
		"varint overflowing 32 bit": {[]byte{0xff, 0xff, 0xff, 0xff, 0x7f}, func(r *Reader) { r.Varint() }, ErrMalformed},
		"varlong of eleven bytes":   {bytes.Repeat([]byte{0x80}, 11), func(r *Reader) { r.Varlong() }, ErrMalformed},
		"unterminated uvarint":      {[]byte{0x80, 0x80}, func(r *Reader) { r.Uvarint() }, ErrTruncated},
		"trailing bytes":            {[]byte{1, 2}, func(r *Reader) { r.Int8(); r.Done("x") }, ErrMalformed},
		// Lengths past math.MaxInt32, which wrapped negative where an int
		// is 32 bits: read as malformed there, or not checked at all.
		"compact count past int32":  {AppendUvarint(nil, 1<<31+1), func(r *Reader) { r.CompactArrayLen() }, ErrTruncated},
		"compact string past int32": {AppendUvarint(nil, math.MaxUint32), func(r *Reader) { r.CompactString() }, ErrTruncated},
		"tag count past int32": {
			AppendTaggedField(AppendTaggedField(AppendUvarint(nil, 1<<31), 0, nil), 0, nil),
			func(r *Reader) { r.SkipTaggedFields() }, ErrTruncated},
		"tag size past int32": {
			AppendUvarint(AppendUvarint(AppendUvarint(nil, 1), 0), math.MaxUint32),
			func(r *Reader) { r.SkipTaggedFields() }, ErrTruncated},
	}
	for name, c := range cases {
		rd := NewReader(c.b)
		c.read(&rd)
		if !errors.Is(rd.Err(), c.want) {
			t.Errorf("%s: err %v, want %v", name, rd.Err(), c.want)
		}
	}
}

func TestTaggedFields(t *testing.T) {
	var b []byte
	b = AppendUvarint(b, 3)
	b = AppendTaggedField(b, 0, AppendInt32(nil, 7))
	b = AppendTaggedField(b, 2, []byte("kept"))
	b = AppendTaggedField(b, 5, nil)

	rd := NewReader(b)
	var seven int32
	unknown := rd.TaggedFields(func(tag uint32, f *Reader) bool {
		if tag == 0 {
			seven = f.Int32()
			return true
		}
		return false
	})
	if rd.Err() != nil || seven != 7 || len(unknown) != 2 || string(unknown[0].Data) != "kept" || unknown[1].Tag != 5 {
		t.Fatalf("err %v, known %d, unknown %+v", rd.Err(), seven, unknown)
	}
	if again := AppendUnknownTags(nil, []TaggedField{{Tag: 0, Data: AppendInt32(nil, 7)}, unknown[0], unknown[1]}); !bytes.Equal(again, b) {
		t.Fatalf("re-encoding tags: %x, want %x", again, b)
	}

	descending := AppendTaggedField(AppendTaggedField(AppendUvarint(nil, 2), 3, nil), 1, nil)
	rd = NewReader(descending)
	rd.SkipTaggedFields()
	if !errors.Is(rd.Err(), ErrMalformed) {
		t.Errorf("tags out of order: err %v", rd.Err())
	}

	partial := AppendTaggedField(AppendUvarint(nil, 1), 0, AppendInt64(nil, 1))
	rd = NewReader(partial)
	rd.TaggedFields(func(uint32, *Reader) bool { return true }) // reads none of the 8 bytes
	if !errors.Is(rd.Err(), ErrMalformed) {
		t.Errorf("a known tag left unread: err %v", rd.Err())
	}
}

// A tag repeated is as malformed as tags out of order: read twice, the
// second would silently overwrite the first field's value.
func TestARepeatedTagIsMalformed(t *testing.T) {
	b := AppendTaggedField(AppendTaggedField(AppendUvarint(nil, 2), 1, nil), 1, nil)
	rd := NewReader(b)
	rd.SkipTaggedFields()
	if !errors.Is(rd.Err(), ErrMalformed) {
		t.Fatalf("a repeated tag: err %v, want ErrMalformed", rd.Err())
	}
}

// FuzzReader reads arbitrary input as the primitives ops names, one op a
// byte (readerOps). A read must never panic, never move the offset past the
// input, never report an offset outside it, and fail wrapping ErrTruncated
// or ErrMalformed, after which every read returns its zero value. What reads
// without error must come back the same when written by the Append
// functions and read again, from no more bytes than the input took (the
// input may spell a varint with more bytes than needed, never fewer); a
// reader whose value differs from what its writer meant reads bytes that
// the broker did not send.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3}, []byte{})
	f.Add([]byte{3, 5, 7, 8, 9}, AppendCompactString(AppendVarint(AppendInt32(nil, 3), -9), "abc"))
	f.Add([]byte{18}, AppendTaggedField(AppendUvarint(nil, 1), 1, []byte("x")))
	f.Add([]byte{10, 11, 12, 13, 14, 15, 16, 17}, AppendNullableString(AppendString(nil, "k"), nil))
	f.Fuzz(func(t *testing.T, ops, b []byte) {
		rd := NewReader(b)
		var got []any
		for _, op := range ops {
			got = append(got, readerOps[int(op)%len(readerOps)].read(&rd))
			if rd.Offset() > len(b) {
				t.Fatalf("offset %d beyond %d bytes", rd.Offset(), len(b))
			}
		}
		if err := rd.Err(); err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Offset < 0 || we.Offset > len(b) ||
				!errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v: want an *Error inside the %d-byte input, truncated or malformed", err, len(b))
			}
			for _, op := range readerOps {
				if v := op.read(&rd); !reflect.ValueOf(v).IsZero() || rd.Err() != err {
					t.Fatalf("%s after the error %v read %#v, error %v", op.name, err, v, rd.Err())
				}
			}
			return
		}
		var enc []byte
		for i, op := range ops {
			enc = readerOps[int(op)%len(readerOps)].write(enc, got[i])
		}
		if len(enc) > rd.Offset() {
			t.Fatalf("%d bytes read back as %d bytes", rd.Offset(), len(enc))
		}
		again := NewReader(enc)
		for i, op := range ops {
			o := readerOps[int(op)%len(readerOps)]
			if v := o.read(&again); !reflect.DeepEqual(v, got[i]) {
				t.Fatalf("%s read %#v, written and read again %#v (%v)", o.name, got[i], v, again.Err())
			}
		}
		if again.Err() != nil || again.Remaining() != 0 {
			t.Fatalf("reading back %x: %v, %d bytes left", enc, again.Err(), again.Remaining())
		}
	})
}

// readerOps are FuzzReader's primitives: each reads one value and writes
// it back as the Append function that matches it.
var readerOps = []struct {
	name  string
	read  func(rd *Reader) any
	write func(dst []byte, v any) []byte
}{
	{"Bool", func(rd *Reader) any { return rd.Bool() }, func(dst []byte, v any) []byte { return AppendBool(dst, v.(bool)) }},
	{"Int8", func(rd *Reader) any { return rd.Int8() }, func(dst []byte, v any) []byte { return AppendInt8(dst, v.(int8)) }},
	{"Int16", func(rd *Reader) any { return rd.Int16() }, func(dst []byte, v any) []byte { return AppendInt16(dst, v.(int16)) }},
	{"Int32", func(rd *Reader) any { return rd.Int32() }, func(dst []byte, v any) []byte { return AppendInt32(dst, v.(int32)) }},
	{"Uint32", func(rd *Reader) any { return rd.Uint32() }, func(dst []byte, v any) []byte { return AppendUint32(dst, v.(uint32)) }},
	{"Int64", func(rd *Reader) any { return rd.Int64() }, func(dst []byte, v any) []byte { return AppendInt64(dst, v.(int64)) }},
	{"Uvarint", func(rd *Reader) any { return rd.Uvarint() }, func(dst []byte, v any) []byte { return AppendUvarint(dst, v.(uint32)) }},
	{"Varint", func(rd *Reader) any { return rd.Varint() }, func(dst []byte, v any) []byte { return AppendVarint(dst, v.(int32)) }},
	{"Varlong", func(rd *Reader) any { return rd.Varlong() }, func(dst []byte, v any) []byte { return AppendVarlong(dst, v.(int64)) }},
	{"UUID", func(rd *Reader) any { return rd.UUID() }, func(dst []byte, v any) []byte { return AppendUUID(dst, v.(UUID)) }},
	{"Int16String", func(rd *Reader) any { return rd.Int16String() }, func(dst []byte, v any) []byte { return AppendString(dst, v.(string)) }},
	{"NullableString", func(rd *Reader) any { return rd.NullableString() }, func(dst []byte, v any) []byte { return AppendNullableString(dst, v.(*string)) }},
	{"CompactString", func(rd *Reader) any { return rd.CompactString() }, func(dst []byte, v any) []byte { return AppendCompactString(dst, v.(string)) }},
	{"CompactNullableString", func(rd *Reader) any { return rd.CompactNullableString() }, func(dst []byte, v any) []byte { return AppendCompactNullableString(dst, v.(*string)) }},
	{"Bytes", func(rd *Reader) any { return rd.Bytes() }, func(dst []byte, v any) []byte { return AppendBytes(dst, v.([]byte)) }},
	{"NullableBytes", func(rd *Reader) any { return rd.NullableBytes() }, func(dst []byte, v any) []byte { return AppendNullableByteSlice(dst, v.([]byte), false) }},
	{"CompactBytes", func(rd *Reader) any { return rd.CompactBytes() }, func(dst []byte, v any) []byte { return AppendCompactBytes(dst, v.([]byte)) }},
	{"CompactNullableBytes", func(rd *Reader) any { return rd.CompactNullableBytes() }, func(dst []byte, v any) []byte { return AppendNullableByteSlice(dst, v.([]byte), true) }},
	{"TaggedFields", func(rd *Reader) any { return rd.TaggedFields(nil) }, func(dst []byte, v any) []byte { return AppendUnknownTags(dst, v.([]TaggedField)) }},
}
