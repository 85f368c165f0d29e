package protocol

import (
	"fmt"

	"github.com/gokafka/producer/protocol/wire"
)

// This file holds the few field shapes that recur across messages: array
// lengths checked against the bytes they claim, int32 arrays, and tagged-field
// sections that mix known fields with ones kept from decoding.

// readArrayLen reads the length of an array the schema does not allow to be
// null. Null is rejected rather than read as empty, as Kafka's own decoders
// do, so that a decoder never accepts bytes the broker would not have sent.
// minElem is a lower bound on one element's encoded size: checking
// n*minElem against what remains bounds the allocation for the elements by
// the input's size, not by a multiple of it.
func readArrayLen(rd *wire.Reader, flexible bool, minElem int, what string) int {
	n := readNullableArrayLen(rd, flexible, minElem, what)
	if n < 0 {
		rd.Fail(what+" is null but not nullable", wire.ErrMalformed)
		return 0
	}
	return n
}

// readNullableArrayLen reads an array length that may be -1 (null).
func readNullableArrayLen(rd *wire.Reader, flexible bool, minElem int, what string) int {
	n := rd.Len(flexible)
	if rd.Err() != nil {
		return 0
	}
	if n > 0 && n > rd.Remaining()/minElem {
		rd.Fail(fmt.Sprintf("%d %s need at least %d bytes each, %d remain", n, what, minElem, rd.Remaining()), wire.ErrTruncated)
		return 0
	}
	return n
}

// appendInt32s appends a non-nullable []int32 (broker id lists).
func appendInt32s(dst []byte, s []int32, flexible bool) []byte {
	dst = wire.AppendLen(dst, len(s), flexible)
	for _, x := range s {
		dst = wire.AppendInt32(dst, x)
	}
	return dst
}

// readInt32s reads a non-nullable []int32; nil when empty.
func readInt32s(rd *wire.Reader, flexible bool, what string) []int32 {
	n := readArrayLen(rd, flexible, 4, what)
	if n == 0 {
		return nil
	}
	s := make([]int32, n)
	for i := range s {
		s[i] = rd.Int32()
	}
	return s
}

// appendTagSection appends a tagged-field section. known lists the tags of
// the message's known fields that are set, and field writes one of them by
// number; unknown holds tags kept from decoding. The protocol wants tags in
// ascending order, so the two are merged by tag number; callers may hand
// unknown in any order. When a kept tag has the number of a known field that
// is set, the known field wins, so the section never repeats a tag.
func appendTagSection(dst []byte, known []uint32, field func(dst []byte, tag uint32) []byte, unknown []wire.TaggedField) []byte {
	if len(known) == 0 && len(unknown) == 0 {
		return append(dst, 0)
	}
	count := 0
	for tag, _ := nextTag(-1, known, unknown); tag >= 0; tag, _ = nextTag(tag, known, unknown) {
		count++
	}
	dst = wire.AppendUvarint(dst, uint32(count))
	for tag, u := nextTag(-1, known, unknown); tag >= 0; tag, u = nextTag(tag, known, unknown) {
		if u < 0 {
			dst = appendKnownTag(dst, uint32(tag), field)
		} else {
			dst = wire.AppendTaggedField(dst, unknown[u].Tag, unknown[u].Data)
		}
	}
	return dst
}

// nextTag finds the smallest tag above after among known and unknown, and
// which unknown entry holds it (-1 for a known field); tag is -1 when none is
// left. Sections hold a handful of tags, so scanning beats sorting a copy,
// which would allocate on every encode.
func nextTag(after int64, known []uint32, unknown []wire.TaggedField) (tag int64, unknownIndex int) {
	tag, unknownIndex = -1, -1
	for _, k := range known {
		if t := int64(k); t > after && (tag < 0 || t < tag) {
			tag = t
		}
	}
	for i, u := range unknown {
		if t := int64(u.Tag); t > after && (tag < 0 || t < tag) {
			tag, unknownIndex = t, i
		}
	}
	return tag, unknownIndex
}

// appendKnownTag writes one known tagged field. Its size precedes its bytes
// but is only known once they are written, so the value is written first and
// moved up by the width of the tag number and size.
func appendKnownTag(dst []byte, tag uint32, field func(dst []byte, tag uint32) []byte) []byte {
	start := len(dst)
	dst = field(dst, tag)
	size := len(dst) - start
	var hdr [10]byte
	h := wire.AppendUvarint(hdr[:0], tag)
	h = wire.AppendUvarint(h, uint32(size))
	dst = append(dst, h...)
	copy(dst[start+len(h):], dst[start:start+size])
	copy(dst[start:], h)
	return dst
}

// nonNullString is the value sent for a nullable string at a version where
// the field cannot be null yet: the empty string, as the closest a broker of
// that version can be told.
func nonNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
