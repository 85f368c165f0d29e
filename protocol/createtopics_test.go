package protocol

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func newCreateTopicsRequest() Message  { return new(CreateTopicsRequest) }
func newCreateTopicsResponse() Message { return new(CreateTopicsResponse) }

// fullCreateTopicsRequest sets every field that exists at v to a value other
// than its default: one topic with a manual assignment, one with counts.
func fullCreateTopicsRequest(v int16) *CreateTopicsRequest {
	r := &CreateTopicsRequest{
		Topics: []CreateTopicsRequestTopic{
			{
				Name: "orders", NumPartitions: -1, ReplicationFactor: -1,
				Assignments: []CreateTopicsRequestAssignment{
					{PartitionIndex: 0, BrokerIDs: []int32{1, 2, 3}},
					{PartitionIndex: 1, BrokerIDs: []int32{2, 3, 1}},
				},
				Configs: []CreateTopicsRequestConfig{
					{Name: "cleanup.policy", Value: strp("compact")},
					{Name: "retention.ms"},
				},
			},
			{Name: "audit", NumPartitions: 6, ReplicationFactor: 3},
		},
		TimeoutMs:    30000,
		ValidateOnly: true,
	}
	if v >= 5 {
		r.UnknownTags = someTags()
		r.Topics[0].UnknownTags = someTags()
		r.Topics[0].Assignments[1].UnknownTags = someTags()
		r.Topics[0].Configs[0].UnknownTags = someTags()
	}
	return r
}

// fullCreateTopicsResponse sets every field that exists at v to a value
// other than its default, and leaves the others at the decoder's defaults.
func fullCreateTopicsResponse(v int16) *CreateTopicsResponse {
	r := &CreateTopicsResponse{
		ThrottleTimeMs: 40,
		Topics: []CreateTopicsResponseTopic{
			{Name: "orders", ErrorMessage: strp(""), NumPartitions: -1, ReplicationFactor: -1},
			{Name: "audit", ErrorCode: 36, ErrorMessage: strp("Topic 'audit' already exists."), NumPartitions: -1, ReplicationFactor: -1},
		},
	}
	if v >= 5 {
		r.UnknownTags = someTags()
		t := &r.Topics[0]
		t.TopicConfigErrorCode = 29
		t.NumPartitions, t.ReplicationFactor = 12, 3
		t.Configs = []CreateTopicsResponseConfig{
			{Name: "cleanup.policy", Value: strp("compact"), ReadOnly: true, ConfigSource: 5, IsSensitive: true, UnknownTags: someTags()},
			{Name: "sasl.jaas.config", ConfigSource: -1},
		}
		t.UnknownTags = []wire.TaggedField{{Tag: 1, Data: []byte{1}}, {Tag: 9, Data: []byte{}}}
		// A null Configs (not authorized to describe) and an empty one.
		r.Topics[1].Configs = nil
		r.Topics = append(r.Topics, CreateTopicsResponseTopic{Name: "empty", NumPartitions: 1, ReplicationFactor: 1, Configs: []CreateTopicsResponseConfig{}})
	}
	if v >= 7 {
		r.Topics[0].TopicID = wire.UUID{0xde, 0xad, 0xbe, 0xef, 15: 1}
	}
	return r
}

func TestCreateTopicsRoundTrip(t *testing.T) {
	for v := int16(2); v <= 7; v++ {
		roundTrip(t, fullCreateTopicsRequest(v), newCreateTopicsRequest, v)
		roundTrip(t, fullCreateTopicsResponse(v), newCreateTopicsResponse, v)
	}
}

func TestCreateTopicsTruncated(t *testing.T) {
	for v := int16(2); v <= 7; v++ {
		checkMalformedFails(t, fullCreateTopicsRequest(v), newCreateTopicsRequest, v)
		checkMalformedFails(t, fullCreateTopicsResponse(v), newCreateTopicsResponse, v)
	}
	checkVersionRange(t, newCreateTopicsRequest)
	checkVersionRange(t, newCreateTopicsResponse)
}

// TestCreateTopicsConfigsNullVersusEmpty: from v5 a null Configs means the
// broker did not describe the topic's configuration; an empty one that
// there is none to show. Both must survive a round trip.
func TestCreateTopicsConfigsNullVersusEmpty(t *testing.T) {
	for v := int16(5); v <= 7; v++ {
		topic := CreateTopicsResponseTopic{Name: "t", NumPartitions: 1, ReplicationFactor: 1}
		null := roundTrip(t, &CreateTopicsResponse{Topics: []CreateTopicsResponseTopic{topic}}, newCreateTopicsResponse, v)
		topic.Configs = []CreateTopicsResponseConfig{}
		empty := roundTrip(t, &CreateTopicsResponse{Topics: []CreateTopicsResponseTopic{topic}}, newCreateTopicsResponse, v)
		if bytes.Equal(null, empty) {
			t.Fatalf("v%d: null and empty configs encode alike", v)
		}
	}
}

// TestCreateTopicsResponseGolden is written by hand from
// CreateTopicsResponse.json. TopicConfigErrorCode is tag 0; it is written
// only when set and sorts ahead of kept unknown tags.
func TestCreateTopicsResponseGolden(t *testing.T) {
	golden := fromHexLines(t,
		"00000000",   // throttle_time_ms
		"02",         // topics: 1
		"02 74",      // name "t"
		"0000",       // error_code
		"00",         // error_message null
		"00000003",   // num_partitions 3
		"0001",       // replication_factor 1
		"00",         // configs null
		"02",         // 2 tagged fields
		"00 02 001d", // tag 0: topic_config_error_code TOPIC_AUTHORIZATION_FAILED
		"05 01 ff",   // tag 5: kept as unknown
		"00",         // top-level tags
	)
	want := &CreateTopicsResponse{Topics: []CreateTopicsResponseTopic{{
		Name: "t", NumPartitions: 3, ReplicationFactor: 1, TopicConfigErrorCode: 29,
		UnknownTags: []wire.TaggedField{{Tag: 5, Data: []byte{0xff}}},
	}}}
	var got CreateTopicsResponse
	if err := got.ReadFrom(golden, 5); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
	if b := want.AppendTo(nil, 5); !bytes.Equal(b, golden) {
		t.Fatalf("encoded\n%s\nwant\n%s", hex.Dump(b), hex.Dump(golden))
	}

	// A tag 0 of the wrong size fails rather than being half-read: too
	// short for its int16, or with bytes left over.
	const tag0Size = 19
	short := append([]byte(nil), golden...)
	short[tag0Size] = 1
	err := new(CreateTopicsResponse).ReadFrom(short, 5)
	requireDecodeError(t, err, CreateTopics, 5, len(short), wire.ErrTruncated)
	long := append([]byte(nil), golden...)
	long[tag0Size] = 3
	err = new(CreateTopicsResponse).ReadFrom(long, 5)
	requireDecodeError(t, err, CreateTopics, 5, len(long), wire.ErrMalformed)

	// Before v5 the topic has no counts or configs; they read as defaults.
	v4 := fromHexLines(t, "00000000", "00000001", "0001 74", "0000", "ffff")
	var old CreateTopicsResponse
	if err := old.ReadFrom(v4, 4); err != nil {
		t.Fatal(err)
	}
	wantOld := CreateTopicsResponseTopic{Name: "t", NumPartitions: -1, ReplicationFactor: -1}
	if len(old.Topics) != 1 || !reflect.DeepEqual(old.Topics[0], wantOld) {
		t.Fatalf("v4 decoded as %#v", old)
	}
}

// TestCreateTopicsRequestGolden is written by hand from
// CreateTopicsRequest.json.
func TestCreateTopicsRequestGolden(t *testing.T) {
	req := &CreateTopicsRequest{
		Topics: []CreateTopicsRequestTopic{{
			Name: "t", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: []CreateTopicsRequestAssignment{{PartitionIndex: 0, BrokerIDs: []int32{1}}},
			Configs:     []CreateTopicsRequestConfig{{Name: "a"}},
		}},
		TimeoutMs: 60000,
	}
	cases := []struct {
		v    int16
		want []byte
	}{
		{4, fromHexLines(t,
			"00000001",          // topics: 1
			"0001 74",           // name "t"
			"ffffffff ffff",     // num_partitions -1, replication_factor -1
			"00000001",          // assignments: 1
			"00000000",          // partition_index 0
			"00000001 00000001", // broker_ids [1]
			"00000001",          // configs: 1
			"0001 61 ffff",      // name "a", value null
			"0000ea60",          // timeout_ms 60000
			"00",                // validate_only false
		)},
		{5, fromHexLines(t,
			"02",            // topics: 1
			"02 74",         // name "t"
			"ffffffff ffff", // num_partitions, replication_factor
			"02",            // assignments: 1
			"00000000",      // partition_index 0
			"02 00000001",   // broker_ids [1]
			"00",            // assignment tags
			"02",            // configs: 1
			"02 61 00",      // name "a", value null
			"00",            // config tags
			"00",            // topic tags
			"0000ea60",      // timeout_ms
			"00",            // validate_only
			"00",            // top-level tags
		)},
	}
	for _, c := range cases {
		if got := req.AppendTo(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.want))
		}
	}
}

func FuzzCreateTopicsRequest(f *testing.F) {
	for v := int16(2); v <= 7; v++ {
		f.Add(byte(v-2), fullCreateTopicsRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, CreateTopics, newCreateTopicsRequest, versionFrom(CreateTopics, sel), data)
	})
}

func FuzzCreateTopicsResponse(f *testing.F) {
	for v := int16(2); v <= 7; v++ {
		f.Add(byte(v-2), fullCreateTopicsResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, CreateTopics, newCreateTopicsResponse, versionFrom(CreateTopics, sel), data)
	})
}
