package protocol

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func newMetadataRequest() Message  { return new(MetadataRequest) }
func newMetadataResponse() Message { return new(MetadataResponse) }

func strp(s string) *string { return &s }

var someTopicID = wire.UUID{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10}

// fullMetadataRequest sets every field that exists at v to a value other
// than its default, and leaves the others at the defaults a decoder fills in.
func fullMetadataRequest(v int16) *MetadataRequest {
	r := &MetadataRequest{
		Topics:                 []MetadataRequestTopic{{Name: strp("orders")}, {Name: strp("")}},
		AllowAutoTopicCreation: true,
	}
	if v >= 4 {
		r.AllowAutoTopicCreation = false
	}
	if v >= 8 && v <= 10 {
		r.IncludeClusterAuthorizedOperations = true
	}
	if v >= 8 {
		r.IncludeTopicAuthorizedOperations = true
	}
	if v >= 9 {
		r.UnknownTags = someTags()
		for i := range r.Topics {
			r.Topics[i].UnknownTags = someTags()
		}
	}
	if v >= 10 {
		// Asked for by id alone, as v12 brokers allow.
		r.Topics[1] = MetadataRequestTopic{TopicID: someTopicID, UnknownTags: someTags()}
	}
	return r
}

// fullMetadataResponse sets every field that exists at v to a value other
// than its default, and leaves the others at the defaults a decoder fills in.
func fullMetadataResponse(v int16) *MetadataResponse {
	r := &MetadataResponse{
		Brokers: []MetadataResponseBroker{
			{NodeID: 1, Host: "b1.example", Port: 9092},
			{NodeID: 2, Host: "b2.example", Port: 9093},
		},
		ControllerID: -1,
		Topics: []MetadataResponseTopic{{
			Name: strp("orders"),
			Partitions: []MetadataResponsePartition{
				{PartitionIndex: 0, LeaderID: 1, LeaderEpoch: -1, ReplicaNodes: []int32{1, 2, 3}, IsrNodes: []int32{1, 2}},
				{ErrorCode: 5, PartitionIndex: 1, LeaderID: -1, LeaderEpoch: -1, ReplicaNodes: []int32{2}},
			},
			TopicAuthorizedOperations: math.MinInt32,
		}},
		ClusterAuthorizedOperations: math.MinInt32,
	}
	t := &r.Topics[0]
	if v >= 1 {
		r.Brokers[0].Rack = strp("rack-a")
		r.ControllerID = 2
		t.IsInternal = true
	}
	if v >= 2 {
		r.ClusterID = strp("cluster-xyz")
	}
	if v >= 3 {
		r.ThrottleTimeMs = 100
	}
	if v >= 5 {
		t.Partitions[0].OfflineReplicas = []int32{3}
	}
	if v >= 7 {
		t.Partitions[0].LeaderEpoch = 7
		t.Partitions[1].LeaderEpoch = 0
	}
	if v >= 8 {
		t.TopicAuthorizedOperations = 0x0ff8
	}
	if v >= 8 && v <= 10 {
		r.ClusterAuthorizedOperations = 0x1f
	}
	if v >= 9 {
		r.UnknownTags = someTags()
		t.UnknownTags = someTags()
		for i := range r.Brokers {
			r.Brokers[i].UnknownTags = someTags()
		}
		for i := range t.Partitions {
			t.Partitions[i].UnknownTags = someTags()
		}
	}
	if v >= 10 {
		t.TopicID = someTopicID
	}
	if v >= 12 {
		// A topic asked for by an id the broker does not know.
		r.Topics = append(r.Topics, MetadataResponseTopic{ErrorCode: 100, TopicID: wire.UUID{0xff}, TopicAuthorizedOperations: math.MinInt32})
	}
	if v >= 13 {
		r.ErrorCode = -1 // UNKNOWN_SERVER_ERROR
	}
	return r
}

func TestMetadataRoundTrip(t *testing.T) {
	for v := Supported(Metadata).Min; v <= Supported(Metadata).Max; v++ {
		roundTrip(t, fullMetadataRequest(v), newMetadataRequest, v)
		roundTrip(t, fullMetadataResponse(v), newMetadataResponse, v)
	}
}

// TestMetadataRequestNullVersusEmpty: from v1 a null topic array asks for
// every topic and an empty one for none, so the two must survive decoding.
func TestMetadataRequestNullVersusEmpty(t *testing.T) {
	for v := Supported(Metadata).Min; v <= Supported(Metadata).Max; v++ {
		all := roundTrip(t, &MetadataRequest{AllowAutoTopicCreation: true}, newMetadataRequest, v)
		none := roundTrip(t, &MetadataRequest{Topics: []MetadataRequestTopic{}, AllowAutoTopicCreation: true}, newMetadataRequest, v)
		if bytes.Equal(all, none) {
			t.Fatalf("v%d: null and empty topics encode alike: %x", v, all)
		}
		var r MetadataRequest
		if err := r.ReadFrom(none, v); err != nil || r.Topics == nil {
			t.Fatalf("v%d: empty topics decoded as %#v, %v", v, r.Topics, err)
		}
	}
}

// TestMetadataDefaults: a message read at a version that lacks a field holds
// the schema's default for it.
func TestMetadataDefaults(t *testing.T) {
	var req MetadataRequest
	if err := req.ReadFrom([]byte{0xff, 0xff, 0xff, 0xff}, 1); err != nil {
		t.Fatal(err)
	}
	if req.Topics != nil || !req.AllowAutoTopicCreation {
		t.Errorf("v1 request: %#v, want all topics and auto-creation allowed", req)
	}

	// Hand-written v1 bytes: no throttle time, cluster id, leader epoch,
	// offline replicas or authorized operations yet.
	v1 := fromHexLines(t,
		"00000001",                       // brokers: 1
		"00000001 0001 68 00002384 ffff", // node 1, host "h", port 9092, rack null
		"ffffffff",                       // controller_id -1
		"00000001",                       // topics: 1
		"0000 0001 74 00",                // no error, name "t", is_internal false
		"00000001",                       // partitions: 1
		"0000 00000000 00000001",         // no error, partition 0, leader 1
		"00000001 00000001",              // replica_nodes [1]
		"00000000",                       // isr_nodes []
	)
	want := &MetadataResponse{
		Brokers:      []MetadataResponseBroker{{NodeID: 1, Host: "h", Port: 9092}},
		ControllerID: -1,
		Topics: []MetadataResponseTopic{{
			Name:                      strp("t"),
			Partitions:                []MetadataResponsePartition{{LeaderID: 1, LeaderEpoch: -1, ReplicaNodes: []int32{1}}},
			TopicAuthorizedOperations: math.MinInt32,
		}},
		ClusterAuthorizedOperations: math.MinInt32,
	}
	var resp MetadataResponse
	if err := resp.ReadFrom(v1, 1); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&resp, want) {
		t.Fatalf("got %#v\nwant %#v", resp, want)
	}
	if got := want.AppendTo(nil, 1); !bytes.Equal(got, v1) {
		t.Fatalf("v1 encoding\n%s\nwant\n%s", hex.Dump(got), hex.Dump(v1))
	}
}

// TestMetadataResponseV12Golden is written by hand from MetadataResponse.json:
// a topic asked for by an unknown id comes back with a null name.
func TestMetadataResponseV12Golden(t *testing.T) {
	golden := fromHexLines(t,
		"00000000",                         // throttle_time_ms 0
		"02",                               // brokers: COMPACT_ARRAY of 1
		"00000001",                         // node_id 1
		"0a 6c6f63616c686f7374",            // host "localhost": length+1 = 10
		"00002384",                         // port 9092
		"00",                               // rack: null
		"00",                               // broker tagged fields: none
		"04 6b6331",                        // cluster_id "kc1"
		"00000001",                         // controller_id 1
		"02",                               // topics: COMPACT_ARRAY of 1
		"0064",                             // error_code 100 UNKNOWN_TOPIC_ID
		"00",                               // name: null (nullable from v12)
		"0102030405060708090a0b0c0d0e0f10", // topic_id
		"00",                               // is_internal false
		"01",                               // partitions: empty
		"80000000",                         // topic_authorized_operations: INT32 min, not requested
		"00",                               // topic tagged fields: none
		"00",                               // tagged fields: none (no cluster operations after v10)
	)
	msg := &MetadataResponse{
		Brokers:      []MetadataResponseBroker{{NodeID: 1, Host: "localhost", Port: 9092}},
		ClusterID:    strp("kc1"),
		ControllerID: 1,
		Topics: []MetadataResponseTopic{{
			ErrorCode:                 100,
			TopicID:                   someTopicID,
			TopicAuthorizedOperations: math.MinInt32,
		}},
		ClusterAuthorizedOperations: math.MinInt32,
	}
	if got := msg.AppendTo(nil, 12); !bytes.Equal(got, golden) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(golden))
	}
	var back MetadataResponse
	if err := back.ReadFrom(golden, 12); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, msg) {
		t.Fatalf("got %#v\nwant %#v", back, msg)
	}
}

// TestMetadataResponseV13Golden: v13 ends with an error code for the whole
// response (KIP-1102), after the topics; before v13 it reads as 0.
func TestMetadataResponseV13Golden(t *testing.T) {
	golden := fromHexLines(t,
		"00000000", // throttle_time_ms 0
		"01",       // brokers: empty COMPACT_ARRAY
		"00",       // cluster_id: null
		"ffffffff", // controller_id -1
		"01",       // topics: empty COMPACT_ARRAY
		"ffff",     // error_code -1 UNKNOWN_SERVER_ERROR, for the whole response
		"00",       // tagged fields: none
	)
	msg := &MetadataResponse{ControllerID: -1, ClusterAuthorizedOperations: math.MinInt32, ErrorCode: -1}
	if got := msg.AppendTo(nil, 13); !bytes.Equal(got, golden) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(golden))
	}
	var back MetadataResponse
	if err := back.ReadFrom(golden, 13); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, msg) {
		t.Fatalf("got %#v\nwant %#v", back, msg)
	}
	// The same answer at v12 has no error code: the last byte before the
	// tags is gone, and what remains reads as no error.
	v12 := append(append([]byte(nil), golden[:len(golden)-3]...), 0)
	var old MetadataResponse
	if err := old.ReadFrom(v12, 12); err != nil {
		t.Fatal(err)
	}
	if old.ErrorCode != 0 {
		t.Fatalf("v12: error code %d", old.ErrorCode)
	}
}

func TestMetadataMalformed(t *testing.T) {
	for v := Supported(Metadata).Min; v <= Supported(Metadata).Max; v++ {
		checkMalformedFails(t, fullMetadataRequest(v), newMetadataRequest, v)
		checkMalformedFails(t, fullMetadataResponse(v), newMetadataResponse, v)
	}
	checkVersionRange(t, newMetadataRequest)
	checkVersionRange(t, newMetadataResponse)

	// A partition count that fits in the bytes left, but not at the 12
	// bytes a partition takes at least, fails before anything is allocated
	// for the partitions.
	b := fromHexLines(t,
		"00000000", // throttle
		"00000000", // no brokers
		"ffff",     // cluster id null
		"ffffffff", // controller -1
		"00000001", // one topic
		"0000 0001 74 00",
		"00000005", // 5 partitions in the 12 bytes below
		"000000000000000000000000",
	)
	err := new(MetadataResponse).ReadFrom(b, 3)
	requireDecodeError(t, err, Metadata, 3, len(b), wire.ErrTruncated)
}

func FuzzMetadataRequest(f *testing.F) {
	for v := Supported(Metadata).Min; v <= Supported(Metadata).Max; v++ {
		f.Add(byte(v-1), fullMetadataRequest(v).AppendTo(nil, v))
	}
	f.Add(byte(0), (&MetadataRequest{}).AppendTo(nil, 1))
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, Metadata, newMetadataRequest, versionFrom(Metadata, sel), data)
	})
}

func FuzzMetadataResponse(f *testing.F) {
	for v := Supported(Metadata).Min; v <= Supported(Metadata).Max; v++ {
		f.Add(byte(v-1), fullMetadataResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, Metadata, newMetadataResponse, versionFrom(Metadata, sel), data)
	})
}
