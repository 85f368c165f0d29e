package main

import (
	"encoding/binary"
	"fmt"

	"github.com/gokafka/producer/protocol"
)

// The walkers below, and dumprecords.go's, read a ProduceRequest as it goes
// on the wire and annotate every field. They are written from the schemas,
// not from our encoder: RequestHeader.json and ProduceRequest.json (Apache
// Kafka's message schemas, as for package protocol) for the request, and
// the RecordBatch and Record layouts of Kafka's documentation
// (Implementation, 5.3) for the records. Field paths use the schemas'
// names. They decode with their own cursor rather than protocol/wire, so
// that a dump is a second reading of our bytes, not our encoder's view of
// itself.

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
