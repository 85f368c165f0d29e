package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTruncated is wrapped by every Error caused by input that ends before the
// value being read does.
var ErrTruncated = errors.New("truncated input")

// ErrMalformed is wrapped by every Error caused by a value that cannot be
// valid: an over-long varint, a negative or impossible length.
var ErrMalformed = errors.New("malformed input")

// Error is a decoding failure at a byte offset from the start of the
// Reader's input. Callers add what was being decoded (API, version), keeping
// Offset so that a bad byte can be found in a dump.
type Error struct {
	Offset int    // where the failed value starts
	What   string // what was being read and why it failed
	Err    error  // ErrTruncated or ErrMalformed
}

func (e *Error) Error() string { return fmt.Sprintf("byte %d: %s: %v", e.Offset, e.What, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// Reader decodes primitives from a byte slice. It never reads past the end
// and never panics on bad input: the first failure is remembered, every later
// read returns a zero value, and Err reports it. Lengths read from the input
// are checked against the bytes that remain before anything is allocated.
//
// Slices returned by Bytes and friends alias the input; copy them to keep them
// past the input's lifetime.
type Reader struct {
	b   []byte
	off int
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// Remaining is the number of bytes not yet consumed.
func (r *Reader) Remaining() int { return len(r.b) - r.off }

// Fail records err at the current offset unless an error is already
// remembered; decoders use it for semantic errors (an unknown enum value).
func (r *Reader) Fail(what string, err error) {
	if r.err == nil {
		r.err = &Error{Offset: r.off, What: what, Err: err}
	}
}

func (r *Reader) failAt(off int, what string, err error) {
	if r.err == nil {
		r.err = &Error{Offset: off, What: what, Err: err}
	}
	r.off = len(r.b) // nothing more can be read sensibly
}

// take consumes n bytes, or fails when fewer remain.
func (r *Reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.failAt(r.off, fmt.Sprintf("%s needs %d bytes, %d remain", what, n, len(r.b)-r.off), ErrTruncated)
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// Span consumes and returns the next n bytes.
func (r *Reader) Span(n int) []byte { return r.take(n, "span") }

// Rest consumes and returns every remaining byte.
func (r *Reader) Rest() []byte { return r.take(len(r.b)-r.off, "rest") }

// Bool reads one byte; any non-zero value is true.
func (r *Reader) Bool() bool {
	b := r.take(1, "bool")
	return b != nil && b[0] != 0
}

// Int8 reads one byte.
func (r *Reader) Int8() int8 {
	if b := r.take(1, "int8"); b != nil {
		return int8(b[0])
	}
	return 0
}

// Int16 reads a big-endian int16.
func (r *Reader) Int16() int16 {
	if b := r.take(2, "int16"); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() uint16 {
	if b := r.take(2, "uint16"); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// Int32 reads a big-endian int32.
func (r *Reader) Int32() int32 {
	if b := r.take(4, "int32"); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() uint32 {
	if b := r.take(4, "uint32"); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Int64 reads a big-endian int64.
func (r *Reader) Int64() int64 {
	if b := r.take(8, "int64"); b != nil {
		return int64(binary.BigEndian.Uint64(b))
	}
	return 0
}

// uvarint64 reads an unsigned LEB128 value of at most maxBytes bytes.
func (r *Reader) uvarint64(maxBytes int, what string) uint64 {
	if r.err != nil {
		return 0
	}
	start := r.off
	var v uint64
	for i := 0; i < maxBytes; i++ {
		if r.off >= len(r.b) {
			r.failAt(start, what, ErrTruncated)
			return 0
		}
		c := r.b[r.off]
		r.off++
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v
		}
	}
	r.failAt(start, what+" longer than "+fmt.Sprint(maxBytes)+" bytes", ErrMalformed)
	return 0
}

// Uvarint reads an UNSIGNED_VARINT of at most 5 bytes.
func (r *Reader) Uvarint() uint32 {
	v := r.uvarint64(5, "unsigned varint")
	if v > 1<<32-1 {
		r.failAt(r.off, "unsigned varint overflows 32 bits", ErrMalformed)
		return 0
	}
	return uint32(v)
}

// Varint reads a zigzag VARINT of at most 5 bytes.
func (r *Reader) Varint() int32 {
	v := r.uvarint64(5, "varint")
	if v > 1<<32-1 {
		r.failAt(r.off, "varint overflows 32 bits", ErrMalformed)
		return 0
	}
	u := uint32(v)
	return int32(u>>1) ^ -int32(u&1)
}

// Varlong reads a zigzag VARLONG of at most 10 bytes.
func (r *Reader) Varlong() int64 {
	u := r.uvarint64(10, "varlong")
	return int64(u>>1) ^ -int64(u&1)
}

// UUID reads 16 bytes.
func (r *Reader) UUID() UUID {
	var u UUID
	copy(u[:], r.take(16, "uuid"))
	return u
}

// checkLen checks an INT16/INT32/compact length; -1 means null. It fails
// when the length exceeds what remains, so no caller allocates on a lie.
// n is an int64 so that a length past math.MaxInt32 (a compact one
// reaches 2^32-2) is checked as sent where an int is 32 bits, not wrapped.
func (r *Reader) checkLen(start int, n int64, nullable bool, what string) int {
	if r.err != nil {
		return 0
	}
	if n == -1 && nullable {
		return -1
	}
	if n < 0 {
		r.failAt(start, fmt.Sprintf("%s length %d", what, n), ErrMalformed)
		return 0
	}
	if n > int64(len(r.b)-r.off) {
		r.failAt(start, fmt.Sprintf("%s length %d exceeds the %d bytes that remain", what, n, len(r.b)-r.off), ErrTruncated)
		return 0
	}
	return int(n)
}

func (r *Reader) int16Len(nullable bool, what string) int {
	start := r.off
	return r.checkLen(start, int64(r.Int16()), nullable, what)
}

func (r *Reader) int32Len(nullable bool, what string) int {
	start := r.off
	return r.checkLen(start, int64(r.Int32()), nullable, what)
}

func (r *Reader) compactLen(nullable bool, what string) int {
	start := r.off
	return r.checkLen(start, int64(r.Uvarint())-1, nullable, what)
}

// Int16String reads a STRING (INT16 length). It is not called String so
// that a Reader is not a fmt.Stringer: printing one must not consume it.
func (r *Reader) Int16String() string { return string(r.take(r.int16Len(false, "string"), "string")) }

// NullableString reads a NULLABLE_STRING.
func (r *Reader) NullableString() *string {
	n := r.int16Len(true, "nullable string")
	if n < 0 || r.err != nil {
		return nil
	}
	s := string(r.take(n, "nullable string"))
	return &s
}

// CompactString reads a COMPACT_STRING.
func (r *Reader) CompactString() string {
	return string(r.take(r.compactLen(false, "compact string"), "compact string"))
}

// CompactNullableString reads a COMPACT_NULLABLE_STRING.
func (r *Reader) CompactNullableString() *string {
	n := r.compactLen(true, "compact nullable string")
	if n < 0 || r.err != nil {
		return nil
	}
	s := string(r.take(n, "compact nullable string"))
	return &s
}

// Bytes reads BYTES; the result aliases the input.
func (r *Reader) Bytes() []byte { return r.nonNil(r.take(r.int32Len(false, "bytes"), "bytes")) }

// NullableBytes reads NULLABLE_BYTES (or RECORDS); nil for null.
func (r *Reader) NullableBytes() []byte {
	n := r.int32Len(true, "nullable bytes")
	if n < 0 {
		return nil
	}
	return r.nonNil(r.take(n, "nullable bytes"))
}

// CompactBytes reads COMPACT_BYTES.
func (r *Reader) CompactBytes() []byte {
	return r.nonNil(r.take(r.compactLen(false, "compact bytes"), "compact bytes"))
}

// CompactNullableBytes reads COMPACT_NULLABLE_BYTES (or compact RECORDS).
func (r *Reader) CompactNullableBytes() []byte {
	n := r.compactLen(true, "compact nullable bytes")
	if n < 0 {
		return nil
	}
	return r.nonNil(r.take(n, "compact nullable bytes"))
}

// nonNil keeps "present but empty" distinct from null once decoded. After
// an error nothing was decoded: the result stays nil, the zero value every
// read returns then.
func (r *Reader) nonNil(b []byte) []byte {
	if b == nil && r.err == nil {
		return []byte{}
	}
	return b
}

// ArrayLen reads an ARRAY length; -1 for a null array. Every element of every
// array in the protocol takes at least one byte, so a count larger than the
// remaining bytes is rejected before the caller allocates for it.
func (r *Reader) ArrayLen() int { return r.int32Len(true, "array") }

// CompactArrayLen reads a COMPACT_ARRAY length; -1 for a null array.
func (r *Reader) CompactArrayLen() int { return r.compactLen(true, "compact array") }

// TaggedFields reads a tagged-field section, calling known for each tag. When
// known returns false the tag is kept in the returned slice as unknown.
// known receives a Reader over exactly the tag's bytes; it should consume all
// of them.
func (r *Reader) TaggedFields(known func(tag uint32, field *Reader) bool) []TaggedField {
	n := r.Uvarint()
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(r.Remaining()) { // an int of 32 bits would wrap n past MaxInt32
		r.failAt(r.off, fmt.Sprintf("%d tagged fields in %d bytes", n, r.Remaining()), ErrTruncated)
		return nil
	}
	var unknown []TaggedField
	last := int64(-1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.off
		tag := r.Uvarint()
		size := r.checkLen(start, int64(r.Uvarint()), false, "tagged field")
		if r.err != nil {
			return nil
		}
		if int64(tag) <= last {
			r.failAt(start, fmt.Sprintf("tag %d after tag %d", tag, last), ErrMalformed)
			return nil
		}
		last = int64(tag)
		fieldStart := r.off
		data := r.take(size, "tagged field")
		if known != nil {
			sub := Reader{b: r.b[:fieldStart+size], off: fieldStart}
			if known(tag, &sub) {
				if sub.err != nil {
					r.err = sub.err
					return nil
				}
				if sub.off != fieldStart+size {
					r.failAt(fieldStart, fmt.Sprintf("tag %d: %d of its %d bytes unread", tag, fieldStart+size-sub.off, size), ErrMalformed)
					return nil
				}
				continue
			}
		}
		unknown = append(unknown, TaggedField{Tag: tag, Data: data})
	}
	return unknown
}

// SkipTaggedFields reads a tagged-field section and discards it.
func (r *Reader) SkipTaggedFields() { r.TaggedFields(func(uint32, *Reader) bool { return false }) }

// The helpers below mirror the Append*Str family: classic or compact form by
// the message version's flexibility.

// Str reads a STRING or COMPACT_STRING.
func (r *Reader) Str(flexible bool) string {
	if flexible {
		return r.CompactString()
	}
	return r.Int16String()
}

// NullableStr reads a NULLABLE_STRING or COMPACT_NULLABLE_STRING.
func (r *Reader) NullableStr(flexible bool) *string {
	if flexible {
		return r.CompactNullableString()
	}
	return r.NullableString()
}

// ByteSlice reads BYTES or COMPACT_BYTES.
func (r *Reader) ByteSlice(flexible bool) []byte {
	if flexible {
		return r.CompactBytes()
	}
	return r.Bytes()
}

// NullableByteSlice reads NULLABLE_BYTES/RECORDS or their compact form.
func (r *Reader) NullableByteSlice(flexible bool) []byte {
	if flexible {
		return r.CompactNullableBytes()
	}
	return r.NullableBytes()
}

// Len reads an ARRAY or COMPACT_ARRAY length; -1 for null.
func (r *Reader) Len(flexible bool) int {
	if flexible {
		return r.CompactArrayLen()
	}
	return r.ArrayLen()
}

// Done fails when bytes remain unread: a message must consume its whole frame.
func (r *Reader) Done(what string) {
	if r.err == nil && r.off != len(r.b) {
		r.failAt(r.off, fmt.Sprintf("%d trailing bytes after %s", len(r.b)-r.off, what), ErrMalformed)
	}
}
