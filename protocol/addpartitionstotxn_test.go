package protocol

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func newAddPartitionsToTxnRequest() Message  { return new(AddPartitionsToTxnRequest) }
func newAddPartitionsToTxnResponse() Message { return new(AddPartitionsToTxnResponse) }

// fullAddPartitionsToTxnRequest fills the shape of version v: the flat
// V3AndBelow fields up to v3, the batched Transactions from v4.
func fullAddPartitionsToTxnRequest(v int16) *AddPartitionsToTxnRequest {
	flex := v >= 3
	topics := func() []AddPartitionsToTxnRequestTopic {
		ts := []AddPartitionsToTxnRequestTopic{
			{Name: "orders", Partitions: []int32{0, 1, 7}},
			{Name: "audit", Partitions: []int32{2}},
		}
		if flex {
			ts[0].UnknownTags = someTags()
		}
		return ts
	}
	r := &AddPartitionsToTxnRequest{}
	if v <= 3 {
		r.V3AndBelowTransactionalID = "txn-1"
		r.V3AndBelowProducerID = 4242
		r.V3AndBelowProducerEpoch = 3
		r.V3AndBelowTopics = topics()
	} else {
		r.Transactions = []AddPartitionsToTxnRequestTransaction{
			{TransactionalID: "txn-1", ProducerID: 4242, ProducerEpoch: 3, VerifyOnly: true, Topics: topics(), UnknownTags: someTags()},
			{TransactionalID: "txn-2", ProducerID: 4243, ProducerEpoch: 0, Topics: topics()},
		}
	}
	if flex {
		r.UnknownTags = someTags()
	}
	return r
}

func fullAddPartitionsToTxnResponse(v int16) *AddPartitionsToTxnResponse {
	flex := v >= 3
	results := func() []AddPartitionsToTxnResponseTopic {
		ts := []AddPartitionsToTxnResponseTopic{
			{Name: "orders", ResultsByPartition: []AddPartitionsToTxnResponsePartition{
				{PartitionIndex: 0},
				{PartitionIndex: 1, PartitionErrorCode: 51},
			}},
			{Name: "audit", ResultsByPartition: []AddPartitionsToTxnResponsePartition{{PartitionIndex: 2, PartitionErrorCode: 29}}},
		}
		if flex {
			ts[0].UnknownTags = someTags()
			ts[0].ResultsByPartition[1].UnknownTags = someTags()
		}
		return ts
	}
	r := &AddPartitionsToTxnResponse{ThrottleTimeMs: 30}
	if v <= 3 {
		r.ResultsByTopicV3AndBelow = results()
	} else {
		r.ErrorCode = 120
		r.ResultsByTransaction = []AddPartitionsToTxnResponseTransaction{
			{TransactionalID: "txn-1", TopicResults: results(), UnknownTags: someTags()},
			{TransactionalID: "txn-2"},
		}
	}
	if flex {
		r.UnknownTags = someTags()
	}
	return r
}

func TestAddPartitionsToTxnRoundTrip(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		roundTrip(t, fullAddPartitionsToTxnRequest(v), newAddPartitionsToTxnRequest, v)
		roundTrip(t, fullAddPartitionsToTxnResponse(v), newAddPartitionsToTxnResponse, v)
	}
}

func TestAddPartitionsToTxnTruncated(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		checkMalformedFails(t, fullAddPartitionsToTxnRequest(v), newAddPartitionsToTxnRequest, v)
		checkMalformedFails(t, fullAddPartitionsToTxnResponse(v), newAddPartitionsToTxnResponse, v)
	}
	checkVersionRange(t, newAddPartitionsToTxnRequest)
	checkVersionRange(t, newAddPartitionsToTxnResponse)
}

// TestAddPartitionsToTxnShapes: each version writes only its own shape, so a
// request filled in both shapes encodes at v3 exactly as its flat half does.
func TestAddPartitionsToTxnShapes(t *testing.T) {
	both := fullAddPartitionsToTxnRequest(3)
	both.Transactions = fullAddPartitionsToTxnRequest(4).Transactions
	flat := fullAddPartitionsToTxnRequest(3)
	if !bytes.Equal(both.AppendTo(nil, 3), flat.AppendTo(nil, 3)) {
		t.Fatal("v3 encoding includes the v4+ Transactions")
	}
	batched := fullAddPartitionsToTxnRequest(4)
	batched.UnknownTags = both.UnknownTags
	if !bytes.Equal(both.AppendTo(nil, 4), batched.AppendTo(nil, 4)) {
		t.Fatal("v4 encoding includes the v0-v3 fields")
	}
}

// TestAddPartitionsToTxnGolden is written by hand from
// AddPartitionsToTxnRequest.json and AddPartitionsToTxnResponse.json.
func TestAddPartitionsToTxnGolden(t *testing.T) {
	req := &AddPartitionsToTxnRequest{
		V3AndBelowTransactionalID: "t",
		V3AndBelowProducerID:      9,
		V3AndBelowProducerEpoch:   1,
		V3AndBelowTopics:          []AddPartitionsToTxnRequestTopic{{Name: "o", Partitions: []int32{0, 3}}},
	}
	cases := []struct {
		v    int16
		want []byte
	}{
		{2, fromHexLines(t,
			"0001 74",           // transactional_id "t"
			"0000000000000009",  // producer_id 9
			"0001",              // producer_epoch 1
			"00000001",          // topics: 1
			"0001 6f",           // name "o"
			"00000002",          // partitions: 2
			"00000000 00000003", // 0, 3
		)},
		{3, fromHexLines(t,
			"02 74",             // compact transactional_id "t"
			"0000000000000009",  // producer_id
			"0001",              // producer_epoch
			"02",                // topics: 1
			"02 6f",             // name "o"
			"03",                // partitions: 2
			"00000000 00000003", // 0, 3
			"00",                // topic tags
			"00",                // top-level tags
		)},
	}
	for _, c := range cases {
		if got := req.AppendTo(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.want))
		}
	}

	v4 := fromHexLines(t,
		"00000000",       // throttle_time_ms
		"0000",           // error_code
		"02",             // results_by_transaction: 1
		"02 74",          // transactional_id "t"
		"02",             // topic_results: 1
		"02 6f",          // name "o"
		"02",             // results_by_partition: 1
		"00000003 0033",  // partition 3, CONCURRENT_TRANSACTIONS
		"00", "00", "00", // partition, topic and transaction tags
		"00", // top-level tags
	)
	want := &AddPartitionsToTxnResponse{ResultsByTransaction: []AddPartitionsToTxnResponseTransaction{{
		TransactionalID: "t",
		TopicResults: []AddPartitionsToTxnResponseTopic{{
			Name:               "o",
			ResultsByPartition: []AddPartitionsToTxnResponsePartition{{PartitionIndex: 3, PartitionErrorCode: 51}},
		}},
	}}}
	var got AddPartitionsToTxnResponse
	if err := got.ReadFrom(v4, 4); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func FuzzAddPartitionsToTxnRequest(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullAddPartitionsToTxnRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, AddPartitionsToTxn, newAddPartitionsToTxnRequest, versionFrom(AddPartitionsToTxn, sel), data)
	})
}

func FuzzAddPartitionsToTxnResponse(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullAddPartitionsToTxnResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, AddPartitionsToTxn, newAddPartitionsToTxnResponse, versionFrom(AddPartitionsToTxn, sel), data)
	})
}
