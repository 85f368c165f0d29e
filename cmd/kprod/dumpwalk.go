package main

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/protocol"
)

// The walkers below read a ProduceRequest as it goes on the wire and annotate
// every field. They are written from the schemas, not from our encoder:
// RequestHeader.json and ProduceRequest.json (Apache Kafka's message schemas,
// as for package protocol) for the request, and the RecordBatch and Record
// layouts of Kafka's documentation (Implementation, 5.3) for the records.
// Field paths use the schemas' names. They decode with their own cursor rather
// than protocol/wire, so that a dump is a second reading of our bytes, not our
// encoder's view of itself.

// castagnoli is the CRC-32C table of the RecordBatch checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// walkRequest annotates a whole request frame: the size prefix, the request
// header and the ProduceRequest body with its record batches.
func walkRequest(frame []byte) ([]annotation, error) {
	var out []annotation
	c := newCursor(frame, 0, "", &out)
	c.section("Size: int32 count of the bytes that follow (the request header and body)")
	size := c.int32("Size", func(v int32) string { return "bytes follow" })
	if c.err == nil && int(size) != c.remaining() {
		c.err = fmt.Errorf("size field says %d bytes follow, the frame has %d", size, c.remaining())
	}
	api, version := walkRequestHeader(c)
	if c.err != nil {
		return out, c.err
	}
	if protocol.APIKey(api) != protocol.Produce {
		return out, fmt.Errorf("request is %s, not Produce", protocol.APIKey(api))
	}
	walkProduceRequest(c, version)
	if c.err == nil && c.remaining() != 0 {
		c.err = fmt.Errorf("%d %s left after the request", c.remaining(), countedNoun(int64(c.remaining()), "byte"))
	}
	return out, c.err
}

// walkRequestHeader annotates RequestHeader v1, or v2 for flexible request
// versions (which adds a tagged-field section). Header v0, without
// ClientId, served only ControlledShutdown v0.
func walkRequestHeader(c *cursor) (api, version int16) {
	c.prefix = "RequestHeader."
	defer func() { c.prefix = "" }()
	// The header's version follows from the request's API and version, its
	// first two fields: peek at them to title the section.
	flexible := false
	if c.remaining() >= 4 {
		k := protocol.APIKey(int16(binary.BigEndian.Uint16(c.b[c.off:])))
		v := int16(binary.BigEndian.Uint16(c.b[c.off+2:]))
		flexible = protocol.IsFlexible(k, v)
		hv := 1
		if flexible {
			hv = 2
		}
		c.section(fmt.Sprintf("RequestHeader v%d (%s v%d is %s)", hv, k, v, flexibility(flexible)))
	}
	api = c.int16("RequestApiKey", func(v int16) string { return "(" + protocol.APIKey(v).String() + ")" })
	version = c.int16("RequestApiVersion", nil)
	c.int32("CorrelationId", func(int32) string { return "(echoed in the response)" })
	// ClientId keeps the int16 length even in header v2 ("flexibleVersions":
	// "none"), so a broker can read it before it knows the request version.
	nullableString(c, "ClientId", false)
	if flexible {
		taggedFields(c, "TaggedFields")
	}
	return api, version
}

func flexibility(flexible bool) string {
	if flexible {
		return "flexible: compact strings and arrays, tagged fields"
	}
	return "not flexible: int16 string and int32 array lengths"
}

// walkProduceRequest annotates the ProduceRequest body at version v (3+,
// the versions that carry RecordBatch v2).
func walkProduceRequest(c *cursor, v int16) {
	flex := protocol.IsFlexible(protocol.Produce, v)
	c.section(fmt.Sprintf("ProduceRequest v%d body (%s)", v, flexibility(flex)))
	c.prefix = ""
	if v >= 3 {
		nullableString(c, "TransactionalId", flex)
	}
	c.int16("Acks", func(a int16) string {
		switch a {
		case -1:
			return "(all in-sync replicas)"
		case 0:
			return "(no acknowledgement)"
		case 1:
			return "(the leader only)"
		}
		return "(invalid)"
	})
	c.int32("TimeoutMs", func(int32) string { return "ms (how long the broker may wait for replication)" })
	topics := arrayLen(c, "TopicData", flex)
	for i := 0; i < topics && c.err == nil; i++ {
		tp := fmt.Sprintf("TopicData[%d].", i)
		if v >= 13 {
			// KIP-516: the topic's id from Metadata v10+ replaces its name.
			c.take(16, tp+"TopicId", func(b []byte) string { return topicIDExplain(b) })
		} else {
			str(c, tp+"Name", flex)
		}
		parts := arrayLen(c, tp+"PartitionData", flex)
		for j := 0; j < parts && c.err == nil; j++ {
			pp := fmt.Sprintf("%sPartitionData[%d].", tp, j)
			c.int32(pp+"Index", func(int32) string { return "(partition)" })
			n := bytesLen(c, pp+"Records", flex)
			if n > 0 {
				walkRecordBatches(c, n, pp+"Records")
				c.section(fmt.Sprintf("ProduceRequest v%d body, continued", v))
			}
			if flex {
				taggedFields(c, pp+"TaggedFields")
			}
		}
		if flex {
			taggedFields(c, tp+"TaggedFields")
		}
	}
	if flex {
		taggedFields(c, "TaggedFields")
	}
}

// Field helpers for the protocol's composite types. In flexible versions
// lengths are unsigned varints holding length+1 (0 meaning null); before,
// int16 for strings and int32 for bytes and arrays, -1 meaning null.

func nullableString(c *cursor, path string, flex bool) {
	n := -1
	if flex {
		n = int(c.uvarint(path+".length", compactExplain)) - 1
	} else {
		n = int(c.int16(path+".length", nullExplain16))
	}
	if n >= 0 {
		c.data(n, path)
	}
}

func str(c *cursor, path string, flex bool) {
	if flex {
		n := int(c.uvarint(path+".length", compactExplain)) - 1
		c.data(max(n, 0), path)
		return
	}
	c.data(int(c.int16(path+".length", func(n int16) string { return countedNoun(int64(n), "byte") })), path)
}

func arrayLen(c *cursor, path string, flex bool) int {
	if flex {
		return int(c.uvarint(path+".length", compactExplain)) - 1
	}
	return int(c.int32(path+".length", func(v int32) string { return "elements follow" }))
}

func bytesLen(c *cursor, path string, flex bool) int {
	if flex {
		return int(c.uvarint(path+".length", compactExplain)) - 1
	}
	return int(c.int32(path+".length", nullExplain32))
}

func topicIDExplain(b []byte) string {
	if string(b) == string(make([]byte, 16)) {
		return "= " + formatTopicID(b) + " (the zero id: no topic; a broker answers UNKNOWN_TOPIC_ID)"
	}
	return "= " + formatTopicID(b) + " (UUID, as Kafka prints it)"
}

func compactExplain(v uint64) string {
	if v == 0 {
		return "= null (compact lengths are length+1)"
	}
	return fmt.Sprintf("= length %d (compact lengths are length+1)", v-1)
}

func nullExplain16(v int16) string {
	if v < 0 {
		return "= null"
	}
	return countedNoun(int64(v), "byte")
}

func nullExplain32(v int32) string {
	if v < 0 {
		return "= null"
	}
	return countedNoun(int64(v), "byte")
}

// sizeOf describes bytes that the dump shows but does not decode.
func sizeOf(b []byte) string {
	return fmt.Sprintf("(%d %s)", len(b), countedNoun(int64(len(b)), "byte"))
}

// taggedFields annotates a tagged-field section (KIP-482): a count, then
// each field's tag, size and bytes.
func taggedFields(c *cursor, path string) {
	n := c.uvarint(path, func(v uint64) string {
		if v == 0 {
			return "tagged fields: none"
		}
		return "tagged fields follow"
	})
	for i := uint64(0); i < n && c.err == nil; i++ {
		p := fmt.Sprintf("%s[%d].", path, i)
		c.uvarint(p+"tag", nil)
		size := c.uvarint(p+"size", nil)
		c.take(int(size), p+"data", sizeOf)
	}
}

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
