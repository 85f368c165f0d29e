package main

import (
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/gokafka/producer/compression"
)

// The walkers of the record batches in a ProduceRequest's Records fields,
// as dumpwalk.go's read the request around them: from the RecordBatch and
// Record layouts of Kafka's documentation (Implementation, 5.3), with
// their own cursor.

// castagnoli is the CRC-32C table of the RecordBatch checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walkRecordBatches annotates the n bytes of a Records field: one or more
// RecordBatch v2.
func walkRecordBatches(c *cursor, n int, path string) {
	// The batches check their lengths against end: past the frame's, a
	// batch's CRC was computed over bytes after it, or panicked.
	if n > c.remaining() {
		c.err = fmt.Errorf("%s at offset %d: length %d, %d %s left",
			path, c.base+c.off, n, c.remaining(), countedNoun(int64(c.remaining()), "byte"))
		return
	}
	end := c.off + n
	for i := 0; c.off < end && c.err == nil; i++ {
		walkRecordBatch(c, path, i, end)
	}
	c.prefix = ""
}

// walkRecordBatch annotates one RecordBatch (Kafka's documentation,
// Implementation 5.3.1): its length, checked against what is left of the
// records (end); its magic, past which only v2 is read; its CRC, checked;
// the rest of its header; then its records, decompressed if they are.
func walkRecordBatch(c *cursor, path string, index, end int) {
	c.prefix = fmt.Sprintf("batch[%d].", index)
	c.section(fmt.Sprintf("RecordBatch %d in %s (RecordBatch v2, magic 2)", index, path))
	batchEnd, ok := walkBatchLength(c, index, end)
	if !ok || !walkMagic(c, batchEnd) {
		return
	}
	walkCRC(c, batchEnd)
	h := walkBatchHeader(c)
	if c.err != nil {
		return
	}
	if h.codec == compression.None {
		walkRecords(c, h.count, h.baseTimestamp, batchEnd)
		return
	}
	walkCompressedRecords(c, index, h, batchEnd)
}

// batchAfterLength is the fewest bytes a batch has after its batchLength:
// its header from partitionLeaderEpoch to recordsCount.
const batchAfterLength = 49

// walkBatchLength annotates baseOffset and batchLength, and checks that
// the batch holds at least its header and fits in what is left of the
// records (end). It returns where the batch ends, or false with c.err set.
func walkBatchLength(c *cursor, index, end int) (batchEnd int, ok bool) {
	c.int64("baseOffset", func(int64) string { return "(the broker assigns offsets; producers send 0)" })
	length := int(c.int32("batchLength", func(int32) string { return "bytes follow in this batch" }))
	if c.err != nil {
		return 0, false
	}
	// Compared as a length: c.off+length wraps negative, and passes, in
	// an int of 32 bits.
	if length < batchAfterLength || length > end-c.off {
		c.err = fmt.Errorf("batch %d: batchLength %d does not fit", index, length)
		return 0, false
	}
	return c.off + length, true
}

// walkMagic annotates partitionLeaderEpoch and magic, and reports whether
// the batch is v2, the only kind read further: another's rest, up to
// batchEnd, is annotated as one field.
func walkMagic(c *cursor, batchEnd int) bool {
	c.int32("partitionLeaderEpoch", func(int32) string { return "(set by the broker; outside the CRC)" })
	magic := c.int8("magic", func(m int8) string {
		if m == 2 {
			return "(RecordBatch v2)"
		}
		return "(not v2: not decoded further)"
	})
	if c.err != nil {
		return false
	}
	if magic != 2 {
		c.take(batchEnd-c.off, "rest", sizeOf)
		return false
	}
	return true
}

// walkCRC annotates crc, which it checks against the CRC-32C of the batch
// from attributes, just after it, to batchEnd.
func walkCRC(c *cursor, batchEnd int) {
	computed := crc32.Checksum(c.b[c.off+4:batchEnd], castagnoli)
	c.uint32("crc", func(v uint32) string {
		if v == computed {
			return fmt.Sprintf("= 0x%08x: CRC-32C of attributes..end, verifies", v)
		}
		return fmt.Sprintf("= 0x%08x: CRC-32C of attributes..end, MISMATCH: computed 0x%08x", v, computed)
	})
}

// batchHeader is what a batch's header says of how to read its records.
type batchHeader struct {
	codec         compression.Codec
	baseTimestamp int64
	count         int
}

// walkBatchHeader annotates the header from attributes to recordsCount.
func walkBatchHeader(c *cursor) batchHeader {
	attrs := c.int16("attributes", attributesExplain)
	c.int32("lastOffsetDelta", func(int32) string { return "(offset delta of the last record)" })
	base := c.int64("baseTimestamp", timeExplain)
	c.int64("maxTimestamp", timeExplain)
	c.int64("producerId", func(v int64) string {
		if v == -1 {
			return "(none: not idempotent)"
		}
		return ""
	})
	c.int16("producerEpoch", func(v int16) string {
		if v == -1 {
			return "(none)"
		}
		return ""
	})
	c.int32("baseSequence", func(v int32) string {
		if v == -1 {
			return "(none)"
		}
		return ""
	})
	count := int(c.int32("recordsCount", func(int32) string { return "records follow" }))
	return batchHeader{codec: compression.Codec(attrs & 0x7), baseTimestamp: base, count: count}
}

// walkCompressedRecords annotates the rest of a compressed batch, up to
// batchEnd, as one blob, then the records its decompressed bytes are.
func walkCompressedRecords(c *cursor, index int, h batchHeader, batchEnd int) {
	blob := c.take(batchEnd-c.off, "records", func(b []byte) string {
		return fmt.Sprintf("(%d bytes, %v-compressed records)", len(b), h.codec)
	})
	if c.err != nil {
		return
	}
	plain, err := compression.Decompress(nil, h.codec, blob)
	if err != nil {
		c.err = fmt.Errorf("batch %d: decompressing %v: %w", index, h.codec, err)
		return
	}
	dc := newCursor(plain, 0, fmt.Sprintf("decompressed records of batch %d (%d bytes)", index, len(plain)), c.out)
	dc.prefix = c.prefix
	walkRecords(dc, h.count, h.baseTimestamp, len(plain))
	if dc.err != nil {
		c.err = dc.err
	}
}

func attributesExplain(v int16) string {
	var parts []string
	parts = append(parts, fmt.Sprintf("compression=%v", compression.Codec(v&0x7)))
	if v&0x8 != 0 {
		parts = append(parts, "timestampType=LogAppendTime")
	} else {
		parts = append(parts, "timestampType=CreateTime")
	}
	parts = append(parts, fmt.Sprintf("transactional=%t", v&0x10 != 0))
	parts = append(parts, fmt.Sprintf("control=%t", v&0x20 != 0))
	parts = append(parts, fmt.Sprintf("deleteHorizon=%t", v&0x40 != 0))
	return fmt.Sprintf("= 0b%016b: %s", uint16(v), strings.Join(parts, ", "))
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func timeExplain(ms int64) string {
	if ms < 0 {
		return "(none)"
	}
	return "ms = " + time.UnixMilli(ms).UTC().Format(timeLayout)
}

// walkRecords annotates count records (Kafka's documentation, Implementation
// 5.3.2): every integer in them is a zigzag varint.
func walkRecords(c *cursor, count int, baseTimestamp int64, end int) {
	batchPrefix := c.prefix
	defer func() { c.prefix = batchPrefix }()
	for i := 0; i < count && c.err == nil; i++ {
		c.prefix = fmt.Sprintf("%srecords[%d].", batchPrefix, i)
		length := int(c.varint("length", 5, func(int64) string { return "bytes follow in this record" }))
		if c.err != nil {
			return
		}
		// Compared as a length: c.off+length wraps negative, and passes,
		// where an int has 32 bits.
		if length < 0 || length > end-c.off {
			c.err = fmt.Errorf("%slength %d does not fit", c.prefix, length)
			return
		}
		recEnd := c.off + length
		c.int8("attributes", func(int8) string { return "(unused)" })
		c.varint("timestampDelta", 10, func(d int64) string {
			return "ms after baseTimestamp: " + time.UnixMilli(baseTimestamp+d).UTC().Format(timeLayout)
		})
		c.varint("offsetDelta", 5, func(int64) string { return "(offset = baseOffset + this)" })
		varBytes(c, "key")
		varBytes(c, "value")
		headers := int(c.varint("headersCount", 5, func(int64) string { return "headers" }))
		for h := 0; h < headers && c.err == nil; h++ {
			hp := fmt.Sprintf("headers[%d].", h)
			varBytes(c, hp+"headerKey")
			varBytes(c, hp+"headerValue")
		}
		if c.err == nil && c.off != recEnd {
			c.err = fmt.Errorf("%s: the fields end at offset %d, the length says %d", strings.TrimSuffix(c.prefix, "."), c.base+c.off, c.base+recEnd)
		}
	}
	if c.err == nil && c.off != end {
		c.err = fmt.Errorf("%d %s after the last record", end-c.off, countedNoun(int64(end-c.off), "byte"))
	}
}

// varBytes is a record's length-prefixed field: a zigzag varint length (-1
// for null), then the bytes.
func varBytes(c *cursor, path string) {
	n := c.varint(path+"Length", 5, func(n int64) string {
		if n < 0 {
			return "= null"
		}
		return countedNoun(n, "byte")
	})
	if n >= 0 {
		c.data(int(n), path)
	}
}
