package protocol

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// Produce v13 names topics by id (KIP-516). These tests pin that, byte for
// byte, against ProduceRequest.json and ProduceResponse.json.

// eventsID is a topic id as Metadata would give it for "events".
var eventsID = wire.UUID{0x6a, 0x1f, 0x0c, 0x3e, 0x52, 0x9d, 0x4b, 0x07, 0x8e, 0x21, 0xa4, 0x5c, 0xd0, 0x93, 0x7b, 0x11}

// nameOrID leaves each topic as the version names it: by name up to v12,
// by an id derived from the name from v13 (KIP-516), the other field zero.
func nameOrID[T any](v int16, topics []T, fields func(*T) (*string, *wire.UUID)) {
	if v < ProduceTopicIDVersion {
		return
	}
	for i := range topics {
		name, id := fields(&topics[i])
		copy(id[:], "id:"+*name)
		id[15] = byte(i + 1) // never the zero id, even for an empty name
		*name = ""
	}
}

// TestProduceRequestV13Golden is TestProduceRequestV9Golden's request at
// v13: the topic's 16-byte id takes the place of its compact name.
func TestProduceRequestV13Golden(t *testing.T) {
	want := fromHexLines(t,
		"0000",                              // request_api_key 0 (Produce)
		"000d",                              // request_api_version 13
		"00000003",                          // correlation_id 3
		"0005 6b70726f64",                   // client_id "kprod"
		"00",                                // header tagged fields: none
		"00",                                // transactional_id: null (COMPACT_NULLABLE_STRING 0)
		"ffff",                              // acks -1
		"00007530",                          // timeout_ms 30000
		"02",                                // topic_data: COMPACT_ARRAY of 1
		"6a1f0c3e529d4b07 8e21a45cd0937b11", // topic_id: UUID, 16 bytes, no length
		"02",                                // partition_data: COMPACT_ARRAY of 1
		"00000000",                          // index 0
		"4a",                                // records: COMPACT_RECORDS, length 73+1
		knownBatch,
		"00", // partition tagged fields: none
		"00", // topic tagged fields: none
		"00", // request tagged fields: none
	)
	req := &ProduceRequest{Acks: -1, TimeoutMs: 30000, Topics: []ProduceRequestTopic{
		{TopicID: eventsID, Partitions: []ProduceRequestPartition{{Index: 0, Records: knownBatchBytes(t)}}},
	}}
	checkRequestGolden(t, req, 13, 3, want)
}

// TestProduceResponseV13Golden: the answer is keyed by topic id too, and
// UNKNOWN_TOPIC_ID (100) is how a broker refuses an id it does not host.
func TestProduceResponseV13Golden(t *testing.T) {
	golden := fromHexLines(t,
		"00000007",                          // correlation_id 7
		"00",                                // response header v1 tagged fields: none
		"03",                                // responses: COMPACT_ARRAY of 2
		"6a1f0c3e529d4b07 8e21a45cd0937b11", // topic_id
		"02",                                // partition_responses: COMPACT_ARRAY of 1
		"00000000",                          // index 0
		"0000",                              // error_code 0
		"000000000000002a",                  // base_offset 42
		"ffffffffffffffff",                  // log_append_time_ms -1
		"0000000000000000",                  // log_start_offset 0
		"01",                                // record_errors: empty
		"00",                                // error_message: null
		"00",                                // partition tagged fields: none
		"00",                                // topic tagged fields: none
		"00000000000000000000000000000063",  // topic_id of a topic the broker does not host
		"02",                                // partition_responses: COMPACT_ARRAY of 1
		"00000001",                          // index 1
		"0064",                              // error_code 100 UNKNOWN_TOPIC_ID
		"ffffffffffffffff",                  // base_offset -1
		"ffffffffffffffff",                  // log_append_time_ms -1
		"ffffffffffffffff",                  // log_start_offset -1
		"01",                                // record_errors: empty
		"00",                                // error_message: null
		"00",                                // partition tagged fields: none
		"00",                                // topic tagged fields: none
		"00000000",                          // throttle_time_ms 0
		"00",                                // tagged fields: none
	)
	msg := &ProduceResponse{Topics: []ProduceResponseTopic{
		{TopicID: eventsID, Partitions: []ProduceResponsePartition{{BaseOffset: 42, LogAppendTimeMs: -1}}},
		{TopicID: wire.UUID{15: 0x63}, Partitions: []ProduceResponsePartition{
			{Index: 1, ErrorCode: 100, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1}}},
	}}
	checkProduceResponseGolden(t, msg, golden, 13, 7)
}

// TestProduceTopicNameOrID: a topic holding both its name and its id is
// sent by name up to v12 and by id from v13, never both; the field a
// version lacks reads back as zero.
func TestProduceTopicNameOrID(t *testing.T) {
	both := func() *ProduceRequest {
		return &ProduceRequest{Acks: 1, TimeoutMs: 1, Topics: []ProduceRequestTopic{
			{Name: "events", TopicID: eventsID, Partitions: []ProduceRequestPartition{{Index: 2}}},
		}}
	}
	for _, c := range []struct {
		v    int16
		want ProduceRequestTopic
	}{
		{12, ProduceRequestTopic{Name: "events"}},
		{13, ProduceRequestTopic{TopicID: eventsID}},
	} {
		b := both().AppendTo(nil, c.v)
		var back ProduceRequest
		if err := back.ReadFrom(b, c.v); err != nil {
			t.Fatalf("v%d: %v\n%s", c.v, err, hex.Dump(b))
		}
		got := back.Topics[0]
		if got.Name != c.want.Name || got.TopicID != c.want.TopicID {
			t.Errorf("v%d: read back name %q id %x, want name %q id %x", c.v, got.Name, got.TopicID, c.want.Name, c.want.TopicID)
		}
		if c.v >= ProduceTopicIDVersion && bytes.Contains(b, []byte("events")) {
			t.Errorf("v%d carries the topic name:\n%s", c.v, hex.Dump(b))
		}
		if c.v < ProduceTopicIDVersion && bytes.Contains(b, eventsID[:]) {
			t.Errorf("v%d carries the topic id:\n%s", c.v, hex.Dump(b))
		}
	}

	resp := &ProduceResponse{Topics: []ProduceResponseTopic{{Name: "events", TopicID: eventsID}}}
	for v, want := range map[int16]ProduceResponseTopic{12: {Name: "events"}, 13: {TopicID: eventsID}} {
		var back ProduceResponse
		if err := back.ReadFrom(resp.AppendTo(nil, v), v); err != nil {
			t.Fatalf("response v%d: %v", v, err)
		}
		if got := back.Topics[0]; got.Name != want.Name || got.TopicID != want.TopicID {
			t.Errorf("response v%d: read back name %q id %x, want name %q id %x", v, got.Name, got.TopicID, want.Name, want.TopicID)
		}
	}
}
