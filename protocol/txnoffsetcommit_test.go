package protocol

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func newTxnOffsetCommitRequest() Message  { return new(TxnOffsetCommitRequest) }
func newTxnOffsetCommitResponse() Message { return new(TxnOffsetCommitResponse) }

// fullTxnOffsetCommitRequest sets every field that exists at v to a value
// other than its default, and leaves the others at the decoder's defaults.
func fullTxnOffsetCommitRequest(v int16) *TxnOffsetCommitRequest {
	r := &TxnOffsetCommitRequest{
		TransactionalID: "txn-1",
		GroupID:         "consumers",
		ProducerID:      4242,
		ProducerEpoch:   3,
		GenerationID:    -1,
		Topics: []TxnOffsetCommitRequestTopic{
			{Name: "orders", Partitions: []TxnOffsetCommitRequestPartition{
				{PartitionIndex: 0, CommittedOffset: 100, CommittedLeaderEpoch: -1, CommittedMetadata: strp("meta")},
				{PartitionIndex: 5, CommittedOffset: 1 << 40, CommittedLeaderEpoch: -1},
			}},
			{Name: "audit", Partitions: []TxnOffsetCommitRequestPartition{
				{PartitionIndex: 1, CommittedOffset: 0, CommittedLeaderEpoch: -1, CommittedMetadata: strp("")},
			}},
		},
	}
	if v >= 2 {
		r.Topics[0].Partitions[0].CommittedLeaderEpoch = 9
		r.Topics[0].Partitions[1].CommittedLeaderEpoch = 0
		r.Topics[1].Partitions[0].CommittedLeaderEpoch = 10
	}
	if v >= 3 {
		r.GenerationID = 17
		r.MemberID = "member-1"
		r.GroupInstanceID = strp("instance-1")
		r.UnknownTags = someTags()
		r.Topics[0].UnknownTags = someTags()
		r.Topics[0].Partitions[1].UnknownTags = someTags()
	}
	return r
}

func fullTxnOffsetCommitResponse(v int16) *TxnOffsetCommitResponse {
	r := &TxnOffsetCommitResponse{
		ThrottleTimeMs: 3,
		Topics: []TxnOffsetCommitResponseTopic{
			{Name: "orders", Partitions: []TxnOffsetCommitResponsePartition{{PartitionIndex: 0}, {PartitionIndex: 5, ErrorCode: 22}}},
			{Name: "audit"},
		},
	}
	if v >= 3 {
		r.UnknownTags = someTags()
		r.Topics[0].UnknownTags = someTags()
		r.Topics[0].Partitions[1].UnknownTags = someTags()
	}
	return r
}

func TestTxnOffsetCommitRoundTrip(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		roundTrip(t, fullTxnOffsetCommitRequest(v), newTxnOffsetCommitRequest, v)
		roundTrip(t, fullTxnOffsetCommitResponse(v), newTxnOffsetCommitResponse, v)
	}
}

func TestTxnOffsetCommitTruncated(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		checkMalformedFails(t, fullTxnOffsetCommitRequest(v), newTxnOffsetCommitRequest, v)
		checkMalformedFails(t, fullTxnOffsetCommitResponse(v), newTxnOffsetCommitResponse, v)
	}
	checkVersionRange(t, newTxnOffsetCommitRequest)
	checkVersionRange(t, newTxnOffsetCommitResponse)
}

// TestTxnOffsetCommitNulls: committed metadata and (v3+) the group instance
// id are nullable, and null must not turn into "".
func TestTxnOffsetCommitNulls(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		base := func() *TxnOffsetCommitRequest {
			return &TxnOffsetCommitRequest{GenerationID: -1, Topics: []TxnOffsetCommitRequestTopic{{
				Name: "t", Partitions: []TxnOffsetCommitRequestPartition{{CommittedLeaderEpoch: -1}},
			}}}
		}
		null := roundTrip(t, base(), newTxnOffsetCommitRequest, v)
		empty := base()
		empty.Topics[0].Partitions[0].CommittedMetadata = strp("")
		if bytes.Equal(null, roundTrip(t, empty, newTxnOffsetCommitRequest, v)) {
			t.Fatalf("v%d: null and empty metadata encode alike", v)
		}
		if v >= 3 {
			empty := base()
			empty.GroupInstanceID = strp("")
			if bytes.Equal(null, roundTrip(t, empty, newTxnOffsetCommitRequest, v)) {
				t.Fatalf("v%d: null and empty group instance ids encode alike", v)
			}
		}
	}
}

// TestTxnOffsetCommitGolden is written by hand from Apache Kafka's
// TxnOffsetCommitRequest.json: v0 has no leader epoch or membership, v3 has
// both and is flexible; decoding v0 fills in the schema's defaults.
func TestTxnOffsetCommitGolden(t *testing.T) {
	v0 := fromHexLines(t,
		"0001 74",          // transactional_id "t"
		"0001 67",          // group_id "g"
		"0000000000000002", // producer_id
		"0001",             // producer_epoch
		"00000001",         // topics: 1
		"0001 6f",          // name "o"
		"00000001",         // partitions: 1
		"00000003",         // partition_index 3
		"000000000000000a", // committed_offset 10
		"ffff",             // committed_metadata null
	)
	want := &TxnOffsetCommitRequest{
		TransactionalID: "t", GroupID: "g", ProducerID: 2, ProducerEpoch: 1, GenerationID: -1,
		Topics: []TxnOffsetCommitRequestTopic{{Name: "o", Partitions: []TxnOffsetCommitRequestPartition{
			{PartitionIndex: 3, CommittedOffset: 10, CommittedLeaderEpoch: -1},
		}}},
	}
	var got TxnOffsetCommitRequest
	if err := got.ReadFrom(v0, 0); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("v0 decoded as %#v\nwant %#v", got, want)
	}

	want.GenerationID, want.MemberID = 4, "m"
	want.Topics[0].Partitions[0].CommittedLeaderEpoch = 6
	v3 := fromHexLines(t,
		"02 74",            // transactional_id "t"
		"02 67",            // group_id "g"
		"0000000000000002", // producer_id
		"0001",             // producer_epoch
		"00000004",         // generation_id 4
		"02 6d",            // member_id "m"
		"00",               // group_instance_id null
		"02",               // topics: 1
		"02 6f",            // name "o"
		"02",               // partitions: 1
		"00000003",         // partition_index 3
		"000000000000000a", // committed_offset 10
		"00000006",         // committed_leader_epoch 6
		"00",               // committed_metadata null
		"00", "00", "00",   // partition, topic and top-level tags
	)
	if b := want.AppendTo(nil, 3); !bytes.Equal(b, v3) {
		t.Fatalf("v3:\n%s\nwant\n%s", hex.Dump(b), hex.Dump(v3))
	}
}

// TestTxnOffsetCommitResponseGolden is written by hand from
// TxnOffsetCommitResponse.json, at v2 and at v3, the first flexible
// version. Every number differs from the others, so that two read in each
// other's place would show.
func TestTxnOffsetCommitResponseGolden(t *testing.T) {
	want := &TxnOffsetCommitResponse{ThrottleTimeMs: 100, Topics: []TxnOffsetCommitResponseTopic{
		{Name: "o", Partitions: []TxnOffsetCommitResponsePartition{{PartitionIndex: 3, ErrorCode: 22}}},
	}}
	for _, c := range []struct {
		v      int16
		golden []byte
	}{
		{2, fromHexLines(t,
			"00000064", // throttle_time_ms 100
			"00000001", // topics: 1
			"0001 6f",  // name "o"
			"00000001", // partitions: 1
			"00000003", // partition_index 3
			"0016",     // error_code 22, ILLEGAL_GENERATION
		)},
		{3, fromHexLines(t,
			"00000064",       // throttle_time_ms 100
			"02",             // topics: 1
			"02 6f",          // name "o"
			"02",             // partitions: 1
			"00000003",       // partition_index 3
			"0016",           // error_code 22
			"00", "00", "00", // partition, topic and top-level tags
		)},
	} {
		if got := want.AppendTo(nil, c.v); !bytes.Equal(got, c.golden) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.golden))
		}
		var back TxnOffsetCommitResponse
		if err := back.ReadFrom(c.golden, c.v); err != nil {
			t.Fatalf("v%d: %v", c.v, err)
		}
		if !reflect.DeepEqual(&back, want) {
			t.Errorf("v%d decoded as %#v\nwant %#v", c.v, back, want)
		}
	}
}

func FuzzTxnOffsetCommitRequest(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullTxnOffsetCommitRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, TxnOffsetCommit, newTxnOffsetCommitRequest, versionFrom(TxnOffsetCommit, sel), data)
	})
}

func FuzzTxnOffsetCommitResponse(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullTxnOffsetCommitResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, TxnOffsetCommit, newTxnOffsetCommitResponse, versionFrom(TxnOffsetCommit, sel), data)
	})
}
