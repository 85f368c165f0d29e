package record

import "github.com/gokafka/producer/protocol/wire"

// Builder writes records of one batch straight into a caller-supplied
// buffer, which the producer takes from its buffer pool: there is no
// intermediate record representation and no copy at Close.
//
// Append never allocates while the buffer has capacity. It has no limit to
// refuse a record by (it panics only on a batch closed or never Reset);
// AppendWithin refuses one that would take the batch past a limit, the
// buffer's capacity for the producer. Appending past the capacity still
// works, because Go's append grows the slice, but the batch then lives in
// memory the pool did not hand out.
//
// The zero Builder is not usable: call Reset first (it takes no record, and
// Close refuses it). A Builder is not safe for concurrent use; the
// accumulator serialises access to each open batch.
type Builder struct {
	buf        []byte
	numRecords int32
	firstTs    int64
	maxTs      int64
	// open is set by Reset and cleared by Close: one flag, so that the
	// refusal of a Builder never Reset costs appends no second check.
	open bool
}

// Reset starts a new batch in buf, overwriting it from the start: pass a
// pooled buffer's full slice or buf[:0]. It reserves the 61-byte header,
// which Close fills in, and forgets any previous batch.
func (b *Builder) Reset(buf []byte) {
	*b = Builder{buf: append(buf[:0], make([]byte, BatchHeaderSize)...), open: true}
}

// Data is one record as a producer hands it to a batch: its timestamp
// (milliseconds since the epoch) and its bytes. The batch works out its
// offset and timestamp deltas. Key, Value and header values may be nil
// (written as length -1; a nil value is a tombstone), which is distinct
// from empty.
type Data struct {
	TimestampMs int64
	Key, Value  []byte
	Headers     []Header
}

// Append adds a record with the given timestamp (milliseconds since the
// epoch). Its offset delta is NumRecords(); the first record's timestamp
// becomes the batch's base timestamp, and later records store their
// difference to it, which may be negative. The bytes are copied; the caller
// may reuse them. A closed batch, or a Builder never Reset, takes no
// record: Append then panics, as a misuse that would corrupt the batch.
func (b *Builder) Append(timestampMs int64, key, value []byte, headers []Header) {
	if !b.AppendWithin(-1, &Data{TimestampMs: timestampMs, Key: key, Value: value, Headers: headers}) {
		panic("record: Append after Close or without Reset")
	}
}

// AppendWithin appends d as Append does unless the batch would then be
// longer than limit bytes, and says whether it did. The first record of a
// batch is always appended, whatever its size; a negative limit is no
// limit. It sizes the record once, where SizeWith then Append would size it
// twice. d comes by pointer: its four fields are more words than a call's
// registers, and would be copied through the producing goroutine's stack
// (see the producer's Produce on why that stack is kept shallow).
//
// A closed batch takes no record (AppendWithin returns false): Close has
// fixed its length, record count and CRC, and a record added after would
// follow the batch as bytes none of them cover. Nor does a Builder never
// Reset: its buffer has no room for the header, which Close would write
// over the records.
func (b *Builder) AppendWithin(limit int, d *Data) bool {
	if !b.open {
		return false
	}
	var delta int64
	if b.numRecords > 0 {
		delta = d.TimestampMs - b.firstTs
	}
	body := recordBodySize(b.numRecords, delta, d)
	if limit >= 0 && b.numRecords > 0 && len(b.buf)+wire.VarintSize(int32(body))+body > limit {
		return false
	}
	if b.numRecords == 0 {
		b.firstTs, b.maxTs = d.TimestampMs, d.TimestampMs
	} else if d.TimestampMs > b.maxTs {
		b.maxTs = d.TimestampMs
	}
	// The record is written here, its key and value each as a varint
	// length (-1 for nil) and the bytes, rather than by functions of their
	// own: each call put its frame below this one on the producing
	// goroutine's stack (see the producer's Produce on why that stack is
	// kept shallow).
	buf := wire.AppendVarint(b.buf, int32(body))
	buf = append(buf, 0) // attributes: no record-level attribute is defined
	buf = wire.AppendVarlong(buf, delta)
	buf = wire.AppendVarint(buf, b.numRecords) // the offset delta
	buf = wire.AppendVarint(buf, lengthOf(d.Key))
	buf = append(buf, d.Key...)
	buf = wire.AppendVarint(buf, lengthOf(d.Value))
	buf = append(buf, d.Value...)
	buf = wire.AppendVarint(buf, int32(len(d.Headers)))
	if len(d.Headers) > 0 {
		buf = appendHeaders(buf, d.Headers)
	}
	if cap(buf) == cap(b.buf) {
		// Still the same array: storing only the length skips the garbage
		// collector's write barrier, which storing the pointer would take
		// for every record while a collection runs.
		b.buf = b.buf[:len(buf)]
	} else {
		b.buf = buf
	}
	b.numRecords++
	return true
}

// MaxRecordOverhead is the most a record without headers adds to the
// records section besides its key and value bytes, whatever its deltas:
// length prefix (5), attributes (1), timestamp delta (10), offset delta
// (5), key and value lengths (5 each) and header count (1). Adding it up
// is cheaper than RecordSize, and shows that most records are far below a
// limit.
const MaxRecordOverhead = 5 + 1 + 10 + 5 + 5 + 5 + 1

// RecordSize is the number of bytes one record adds to the records section,
// its length prefix included, before compression.
func RecordSize(offsetDelta int32, timestampDelta int64, key, value []byte, headers []Header) int {
	body := recordBodySize(offsetDelta, timestampDelta, &Data{Key: key, Value: value, Headers: headers})
	return wire.VarintSize(int32(body)) + body
}

// SizeWith is what Size would return after appending this record.
func (b *Builder) SizeWith(timestampMs int64, key, value []byte, headers []Header) int {
	var delta int64
	if b.numRecords > 0 {
		delta = timestampMs - b.firstTs
	}
	return len(b.buf) + RecordSize(b.numRecords, delta, key, value, headers)
}

// Size is the length of the batch if it were closed now without
// compression: the header and the records so far. After Close it is the
// length of the closed batch.
func (b *Builder) Size() int { return len(b.buf) }

// NumRecords is the number of records appended since Reset.
func (b *Builder) NumRecords() int { return int(b.numRecords) }

// FirstTimestamp is the first record's timestamp, the batch's base
// timestamp; 0 before the first Append.
func (b *Builder) FirstTimestamp() int64 { return b.firstTs }

// MaxTimestamp is the largest timestamp appended; 0 before the first Append.
func (b *Builder) MaxTimestamp() int64 { return b.maxTs }

// recordBodySize is the size of a record after its length prefix, computed
// from the field sizes: the prefix is written first, so the body's size is
// needed before the body is, and encoding it twice would double the cost.
func recordBodySize(offsetDelta int32, timestampDelta int64, d *Data) int {
	n := 1 + // attributes
		wire.VarlongSize(timestampDelta) +
		wire.VarintSize(offsetDelta) +
		bytesSize(d.Key) +
		bytesSize(d.Value) +
		wire.VarintSize(int32(len(d.Headers)))
	for i := range d.Headers {
		h := &d.Headers[i]
		n += wire.VarintSize(int32(len(h.Key))) + len(h.Key) + bytesSize(h.Value)
	}
	return n
}

// bytesSize is the encoded size of a varint-length-prefixed byte slice.
func bytesSize(b []byte) int {
	if b == nil {
		return 1 // varint -1
	}
	return wire.VarintSize(int32(len(b))) + len(b)
}

// appendHeaders appends each header's key and value. Most records have
// none: the loop is kept out of AppendWithin, whose frame it would grow.
func appendHeaders(buf []byte, headers []Header) []byte {
	for i := range headers {
		h := &headers[i]
		buf = wire.AppendVarint(buf, int32(len(h.Key)))
		buf = append(buf, h.Key...)
		buf = wire.AppendVarint(buf, lengthOf(h.Value))
		buf = append(buf, h.Value...)
	}
	return buf
}

// lengthOf is a byte slice's length as the records section writes it:
// -1 for nil, which is distinct from empty.
func lengthOf(b []byte) int32 {
	if b == nil {
		return -1
	}
	return int32(len(b))
}
