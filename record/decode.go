package record

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol/wire"
)

// ErrCorrupt is matched (with errors.Is) by every DecodeBatch error caused by
// the input. The error is a *CorruptError, which says where.
var ErrCorrupt = errors.New("record: corrupt batch")

// CorruptError describes a malformed batch: what is wrong and where.
type CorruptError struct {
	// Offset is the byte offset of the bad value from the start of the
	// input given to DecodeBatch, or, when Decompressed is set, from the
	// start of the decompressed records section.
	Offset       int
	Decompressed bool
	What         string
	// Err is the cause when there is one: wire.ErrTruncated (the input
	// ends too early, as a partial batch at the end of a fetch does),
	// wire.ErrMalformed, or a compression error.
	Err error
}

func (e *CorruptError) Error() string {
	where := fmt.Sprintf("byte %d", e.Offset)
	if e.Decompressed {
		where += " of the decompressed records"
	}
	s := fmt.Sprintf("%v: %s: %s", ErrCorrupt, where, e.What)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

// minRecordSize is the smallest encoded record: a length, attributes,
// timestamp delta, offset delta, key length, value length and header count,
// one byte each. It bounds a claimed record count by the bytes present
// before anything is allocated for it.
const minRecordSize = 7

// minHeaderSize is the smallest encoded header: a key length and a value
// length, one byte each.
const minHeaderSize = 2

// DecodeBatch decodes the RecordBatch v2 at the start of b and returns it
// with the bytes that follow it. It verifies the CRC-32C before reading
// anything the CRC covers, decompresses compressed records, and checks that
// every length agrees with the bytes present: the record count with the
// records, each record's length with its fields. What it allocates for
// records and headers not yet decoded is in proportion to b's length,
// however far the records decompress. Errors are *CorruptError (errors.Is
// ErrCorrupt); DecodeBatch never panics on bad input.
//
// Keys, values and header values alias b (or the decompressed records);
// header keys are copied into strings.
func DecodeBatch(b []byte) (Batch, []byte, error) {
	var batch Batch
	rd := wire.NewReader(b)
	batch.BaseOffset = rd.Int64()
	batch.BatchLength = rd.Int32()
	if err := rd.Err(); err != nil {
		return Batch{}, nil, fromWire(err, 0, false, "batch header")
	}
	if batch.BatchLength < BatchHeaderSize-lengthFieldEnd {
		return Batch{}, nil, &CorruptError{Offset: offBatchLength, Err: wire.ErrMalformed,
			What: fmt.Sprintf("batch length %d is below the %d-byte minimum", batch.BatchLength, BatchHeaderSize-lengthFieldEnd)}
	}
	// Compared in int64: added to lengthFieldEnd in an int of 32 bits, a
	// length near math.MaxInt32 would wrap negative and pass.
	if int64(batch.BatchLength) > int64(len(b)-lengthFieldEnd) {
		return Batch{}, nil, &CorruptError{Offset: offBatchLength, Err: wire.ErrTruncated,
			What: fmt.Sprintf("batch length %d exceeds the %d bytes that follow it", batch.BatchLength, len(b)-lengthFieldEnd)}
	}
	end := lengthFieldEnd + int(batch.BatchLength)

	// The magic byte decides how to read the rest, and the CRC guards
	// everything from the attributes on; check both before trusting any
	// of it.
	if magic := int8(b[offMagic]); magic != Magic {
		return Batch{}, nil, &CorruptError{Offset: offMagic, Err: wire.ErrMalformed,
			What: fmt.Sprintf("magic %d: only RecordBatch v2 (magic 2) is supported", magic)}
	}
	rd = wire.NewReader(b[:end])
	rd.Span(offLeaderEpoch) // offsets stay relative to the start of b
	batch.PartitionLeaderEpoch = rd.Int32()
	batch.Magic = rd.Int8()
	batch.CRC = rd.Uint32()
	if crc := batchCRC(b[:end]); crc != batch.CRC {
		return Batch{}, nil, &CorruptError{Offset: offCRC,
			What: fmt.Sprintf("crc %#08x, but bytes %d..%d sum to %#08x", batch.CRC, offAttributes, end, crc)}
	}
	batch.Attributes = rd.Int16()
	batch.LastOffsetDelta = rd.Int32()
	batch.FirstTimestamp = rd.Int64()
	batch.MaxTimestamp = rd.Int64()
	batch.ProducerID = rd.Int64()
	batch.ProducerEpoch = rd.Int16()
	batch.BaseSequence = rd.Int32()
	count := rd.Int32()
	section := rd.Rest()
	if err := rd.Err(); err != nil { // unreachable: the length was checked
		return Batch{}, nil, fromWire(err, 0, false, "batch header")
	}

	codec := batch.Codec()
	// At DefaultLevel, CheckLevel fails only for a codec that does not exist.
	if err := compression.CheckLevel(codec, compression.DefaultLevel); err != nil {
		return Batch{}, nil, &CorruptError{Offset: offAttributes, Err: err,
			What: fmt.Sprintf("attributes %#04x name codec %d", uint16(batch.Attributes), codec)}
	}
	records, base, decompressed := section, BatchHeaderSize, false
	if codec != compression.None {
		var err error
		if records, err = compression.Decompress(nil, codec, section); err != nil {
			return Batch{}, nil, &CorruptError{Offset: BatchHeaderSize, Err: err,
				What: fmt.Sprintf("%v records do not decompress", codec)}
		}
		base, decompressed = 0, true
	}
	if count < 0 || int(count) > len(records)/minRecordSize {
		return Batch{}, nil, &CorruptError{Offset: offRecordCount, Err: wire.ErrMalformed,
			What: fmt.Sprintf("record count %d does not fit %d bytes of records", count, len(records))}
	}
	dec := recordsDecoder{base: base, decompressed: decompressed, wireBytes: len(section)}
	var err error
	if batch.Records, err = dec.records(records, int(count)); err != nil {
		return Batch{}, nil, err
	}
	return batch, b[end:], nil
}

// recordsDecoder decodes the records section of one batch.
type recordsDecoder struct {
	base         int  // the section's offset in the input, for error offsets
	decompressed bool // the section was decompressed; base is 0
	// wireBytes is the size of the section as it came in the input,
	// before decompression, which bounds what is allocated before the
	// elements it is for have decoded (see upfront).
	wireBytes int
}

// upfront is how many of n claimed elements, each at least minSize bytes,
// to allocate room for before decoding them: all n when the bytes on the
// wire could hold them, else as many as they could, the rest growing as
// elements decode. A count checked against the decompressed bytes only
// would let a small compressed batch, the records a few zeros repeated,
// claim gigabytes of Records (96 bytes each for 7 bytes of count) and
// then fail at the first one.
func (d *recordsDecoder) upfront(n, minSize int) int {
	return min(n, d.wireBytes/minSize)
}

// grown returns s with room for one more of the want elements it will
// hold, doubling its capacity when it is full: append grows a large slice
// by a quarter at a time, copying it again and again as the many small
// records of a compressed batch decode past what upfront allowed.
func grown[T any](s []T, want int) []T {
	if len(s) < cap(s) {
		return s
	}
	return slices.Grow(s, min(want, 2*len(s)+1)-len(s))
}

// records decodes exactly count records filling all of data.
func (d *recordsDecoder) records(data []byte, count int) ([]Record, error) {
	base, decompressed := d.base, d.decompressed
	records := make([]Record, 0, d.upfront(count, minRecordSize))
	rd := wire.NewReader(data)
	for i := range count {
		start := rd.Offset()
		if rd.Remaining() == 0 {
			return nil, &CorruptError{Offset: base + start, Decompressed: decompressed, Err: wire.ErrTruncated,
				What: fmt.Sprintf("the batch counts %d records, the records end after %d", count, i)}
		}
		n := rd.Varint()
		if err := rd.Err(); err != nil {
			return nil, fromWire(err, base, decompressed, fmt.Sprintf("record %d length", i))
		}
		if n < 0 || int(n) > rd.Remaining() {
			return nil, &CorruptError{Offset: base + start, Decompressed: decompressed, Err: wire.ErrMalformed,
				What: fmt.Sprintf("record %d length %d, %d bytes remain", i, n, rd.Remaining())}
		}
		bodyStart := rd.Offset()
		records = append(grown(records, count), Record{})
		if err := d.record(&records[i], rd.Span(int(n))); err != nil {
			return nil, fromWire(err, base+bodyStart, decompressed, fmt.Sprintf("record %d", i))
		}
	}
	if rd.Remaining() > 0 {
		return nil, &CorruptError{Offset: base + rd.Offset(), Decompressed: decompressed, Err: wire.ErrMalformed,
			What: fmt.Sprintf("%d bytes follow the %d records the batch counts", rd.Remaining(), count)}
	}
	return records, nil
}

// record decodes one record body (after its length prefix), which it must
// consume exactly. Errors are *wire.Error with offsets in body.
func (d *recordsDecoder) record(r *Record, body []byte) error {
	rd := wire.NewReader(body)
	r.Attributes = rd.Int8()
	r.TimestampDelta = rd.Varlong()
	r.OffsetDelta = rd.Varint()
	r.Key = readBytes(&rd, "key", true)
	r.Value = readBytes(&rd, "value", true)
	n := rd.Varint()
	switch {
	case rd.Err() != nil:
	case n < 0:
		rd.Fail(fmt.Sprintf("header count %d", n), wire.ErrMalformed)
	case int(n) > rd.Remaining()/minHeaderSize:
		rd.Fail(fmt.Sprintf("header count %d does not fit the %d bytes that remain", n, rd.Remaining()), wire.ErrMalformed)
	case n > 0:
		r.Headers = make([]Header, 0, d.upfront(int(n), minHeaderSize))
		for i := 0; i < int(n) && rd.Err() == nil; i++ {
			r.Headers = append(grown(r.Headers, int(n)), Header{})
			r.Headers[i].Key = string(readBytes(&rd, "header key", false))
			r.Headers[i].Value = readBytes(&rd, "header value", true)
		}
	}
	rd.Done("the record's fields")
	return rd.Err()
}

// readBytes reads a varint-length-prefixed byte slice: nil for length -1
// when nullable, non-nil when empty.
func readBytes(rd *wire.Reader, what string, nullable bool) []byte {
	n := rd.Varint()
	switch {
	case rd.Err() != nil:
		return nil
	case n == -1 && nullable:
		return nil
	case n < 0:
		rd.Fail(fmt.Sprintf("%s length %d", what, n), wire.ErrMalformed)
		return nil
	case int(n) > rd.Remaining():
		rd.Fail(fmt.Sprintf("%s length %d exceeds the %d bytes that remain", what, n, rd.Remaining()), wire.ErrTruncated)
		return nil
	}
	b := rd.Span(int(n))
	if b == nil {
		b = []byte{}
	}
	return b
}

// fromWire turns a wire decoding error into a CorruptError, moving its
// offset by base and prefixing what was being decoded.
func fromWire(err error, base int, decompressed bool, what string) error {
	var we *wire.Error
	if errors.As(err, &we) {
		return &CorruptError{Offset: base + we.Offset, Decompressed: decompressed, What: what + ": " + we.What, Err: we.Err}
	}
	return &CorruptError{Offset: base, Decompressed: decompressed, What: what, Err: err}
}
