// Package wire holds the primitive encodings of the Kafka protocol: fixed-width
// big-endian integers, zigzag varints, unsigned varints, (compact) strings and
// bytes, array lengths, UUIDs and tagged fields.
//
// It imports nothing else of this module, so both protocol/ (requests and
// responses) and record/ (RecordBatch v2) build on it without depending on each
// other. Writers append to a caller-owned slice and return it, so an encoder can
// write a whole request into one reused buffer; Reader decodes with bounds
// checks and remembers the first error, so decoders read straight through and
// check once at the end.
package wire

import (
	"encoding/base64"
	"encoding/binary"
)

// AppendBool appends b as one byte, 1 for true.
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// AppendInt8 appends v as one byte.
func AppendInt8(dst []byte, v int8) []byte { return append(dst, byte(v)) }

// AppendInt16 appends v big-endian.
func AppendInt16(dst []byte, v int16) []byte { return binary.BigEndian.AppendUint16(dst, uint16(v)) }

// AppendInt32 appends v big-endian.
func AppendInt32(dst []byte, v int32) []byte { return binary.BigEndian.AppendUint32(dst, uint32(v)) }

// AppendUint32 appends v big-endian.
func AppendUint32(dst []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(dst, v) }

// AppendInt64 appends v big-endian.
func AppendInt64(dst []byte, v int64) []byte { return binary.BigEndian.AppendUint64(dst, uint64(v)) }

// AppendUvarint appends v as an unsigned LEB128 varint (UNSIGNED_VARINT), the
// encoding of compact lengths and tag numbers.
func AppendUvarint(dst []byte, v uint32) []byte {
	// One and two bytes, most record fields, inline without the loop.
	switch {
	case v < 1<<7:
		return append(dst, byte(v))
	case v < 1<<14:
		return append(dst, byte(v)|0x80, byte(v>>7))
	}
	return appendLongUvarint(dst, uint64(v))
}

// appendLongUvarint appends v as an unsigned varint of any length.
func appendLongUvarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendVarint appends v zigzag-encoded (VARINT), as record fields are.
func AppendVarint(dst []byte, v int32) []byte {
	return AppendUvarint(dst, uint32(v<<1)^uint32(v>>31))
}

// AppendVarlong appends v zigzag-encoded (VARLONG).
func AppendVarlong(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	if u < 1<<7 { // a record's timestamp delta, mostly: inline
		return append(dst, byte(u))
	}
	return appendLongUvarint(dst, u)
}

// UvarintSize is the number of bytes AppendUvarint writes for v.
func UvarintSize(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	case v < 1<<28:
		return 4
	}
	return 5
}

// VarintSize is the number of bytes AppendVarint writes for v. Record
// encoders use it to write a record's length prefix before its body without
// encoding the body twice.
func VarintSize(v int32) int { return UvarintSize(uint32(v<<1) ^ uint32(v>>31)) }

// VarlongSize is the number of bytes AppendVarlong writes for v.
func VarlongSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// AppendString appends s with an INT16 length (STRING).
func AppendString(dst []byte, s string) []byte {
	dst = AppendInt16(dst, int16(len(s)))
	return append(dst, s...)
}

// AppendNullableString appends s with an INT16 length, -1 for nil
// (NULLABLE_STRING).
func AppendNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return AppendInt16(dst, -1)
	}
	return AppendString(dst, *s)
}

// AppendCompactString appends s with an UNSIGNED_VARINT length+1
// (COMPACT_STRING).
func AppendCompactString(dst []byte, s string) []byte {
	dst = AppendUvarint(dst, uint32(len(s))+1)
	return append(dst, s...)
}

// AppendCompactNullableString appends s as COMPACT_NULLABLE_STRING: 0 for nil.
func AppendCompactNullableString(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, 0)
	}
	return AppendCompactString(dst, *s)
}

// AppendBytes appends b with an INT32 length (BYTES).
func AppendBytes(dst []byte, b []byte) []byte {
	dst = AppendInt32(dst, int32(len(b)))
	return append(dst, b...)
}

// AppendCompactBytes appends b with an UNSIGNED_VARINT length+1
// (COMPACT_BYTES).
func AppendCompactBytes(dst []byte, b []byte) []byte {
	dst = AppendUvarint(dst, uint32(len(b))+1)
	return append(dst, b...)
}

// AppendArrayLen appends an ARRAY length as INT32.
func AppendArrayLen(dst []byte, n int) []byte { return AppendInt32(dst, int32(n)) }

// AppendCompactArrayLen appends a COMPACT_ARRAY length as UNSIGNED_VARINT n+1.
func AppendCompactArrayLen(dst []byte, n int) []byte { return AppendUvarint(dst, uint32(n)+1) }

// AppendNullArray appends the length of a null array: -1, or 0 when compact.
func AppendNullArray(dst []byte, compact bool) []byte {
	if compact {
		return append(dst, 0)
	}
	return AppendInt32(dst, -1)
}

// AppendUUID appends the 16 bytes of u.
func AppendUUID(dst []byte, u UUID) []byte { return append(dst, u[:]...) }

// UUID is Kafka's 128-bit identifier (topic ids); the zero value means none.
type UUID [16]byte

// String is u as Kafka prints it (Uuid.toString): the 16 bytes in URL-safe
// base64, unpadded, so that an id in our errors reads as in the broker's.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// TaggedField is a tagged field this code does not interpret; decoders keep
// them so that a message read and written again keeps its bytes.
type TaggedField struct {
	Tag  uint32
	Data []byte
}

// AppendTaggedField appends one tag: its number, its size and its bytes.
func AppendTaggedField(dst []byte, tag uint32, data []byte) []byte {
	dst = AppendUvarint(dst, tag)
	dst = AppendUvarint(dst, uint32(len(data)))
	return append(dst, data...)
}

// AppendUnknownTags appends a tagged-field section holding only unknown tags:
// the count, then each tag in the order given (callers keep them sorted, as
// the protocol requires ascending tag numbers).
func AppendUnknownTags(dst []byte, tags []TaggedField) []byte {
	dst = AppendUvarint(dst, uint32(len(tags)))
	for _, t := range tags {
		dst = AppendTaggedField(dst, t.Tag, t.Data)
	}
	return dst
}

// The helpers below pick the classic or compact form by the message version's
// flexibility, so that a message's encoder reads as its schema does: one line
// per field, branching only where fields come and go.

// AppendStr appends a STRING or COMPACT_STRING.
func AppendStr(dst []byte, s string, flexible bool) []byte {
	if flexible {
		return AppendCompactString(dst, s)
	}
	return AppendString(dst, s)
}

// AppendNullableStr appends a NULLABLE_STRING or COMPACT_NULLABLE_STRING.
func AppendNullableStr(dst []byte, s *string, flexible bool) []byte {
	if flexible {
		return AppendCompactNullableString(dst, s)
	}
	return AppendNullableString(dst, s)
}

// AppendByteSlice appends BYTES or COMPACT_BYTES.
func AppendByteSlice(dst []byte, b []byte, flexible bool) []byte {
	if flexible {
		return AppendCompactBytes(dst, b)
	}
	return AppendBytes(dst, b)
}

// AppendNullableByteSlice appends NULLABLE_BYTES/RECORDS or their compact form.
func AppendNullableByteSlice(dst []byte, b []byte, flexible bool) []byte {
	return append(AppendNullableByteSliceLen(dst, b, flexible), b...)
}

// AppendNullableByteSliceLen appends the length AppendNullableByteSlice
// writes before b's bytes, and not the bytes: for an encoding that leaves
// b where it is, to be written from there (writev).
func AppendNullableByteSliceLen(dst []byte, b []byte, flexible bool) []byte {
	switch {
	case b == nil && flexible:
		return append(dst, 0)
	case b == nil:
		return AppendInt32(dst, -1)
	case flexible:
		return AppendUvarint(dst, uint32(len(b))+1)
	default:
		return AppendInt32(dst, int32(len(b)))
	}
}

// AppendLen appends an ARRAY or COMPACT_ARRAY length.
func AppendLen(dst []byte, n int, flexible bool) []byte {
	if flexible {
		return AppendCompactArrayLen(dst, n)
	}
	return AppendArrayLen(dst, n)
}
