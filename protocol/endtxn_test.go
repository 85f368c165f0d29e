package protocol

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func newEndTxnRequest() Message  { return new(EndTxnRequest) }
func newEndTxnResponse() Message { return new(EndTxnResponse) }

func fullEndTxnRequest(v int16) *EndTxnRequest {
	r := &EndTxnRequest{TransactionalID: "txn-1", ProducerID: 4242, ProducerEpoch: 3, Committed: true}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	return r
}

func fullEndTxnResponse(v int16) *EndTxnResponse {
	r := &EndTxnResponse{ThrottleTimeMs: 5, ErrorCode: 48, ProducerID: -1, ProducerEpoch: -1}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	if v >= 5 {
		r.ProducerID, r.ProducerEpoch = 4242, 4
	}
	return r
}

func TestEndTxnRoundTrip(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		roundTrip(t, fullEndTxnRequest(v), newEndTxnRequest, v)
		roundTrip(t, fullEndTxnResponse(v), newEndTxnResponse, v)
		// An abort.
		roundTrip(t, &EndTxnRequest{TransactionalID: "t", ProducerID: 1}, newEndTxnRequest, v)
	}
}

func TestEndTxnTruncated(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		checkMalformedFails(t, fullEndTxnRequest(v), newEndTxnRequest, v)
		checkMalformedFails(t, fullEndTxnResponse(v), newEndTxnResponse, v)
	}
	checkVersionRange(t, newEndTxnRequest)
	checkVersionRange(t, newEndTxnResponse)
}

// TestEndTxnGolden is written by hand from EndTxnRequest.json and
// EndTxnResponse.json.
func TestEndTxnGolden(t *testing.T) {
	req := &EndTxnRequest{TransactionalID: "t", ProducerID: 2, ProducerEpoch: 1, Committed: true}
	want := fromHexLines(t,
		"02 74",            // compact transactional_id "t"
		"0000000000000002", // producer_id
		"0001",             // producer_epoch
		"01",               // committed
		"00",               // no tags
	)
	if got := req.AppendTo(nil, 3); !bytes.Equal(got, want) {
		t.Errorf("request v3:\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}

	// Before v5 the response has no producer id or epoch; they read as -1.
	var r EndTxnResponse
	if err := r.ReadFrom(fromHexLines(t, "00000000 0000"), 2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, EndTxnResponse{ProducerID: -1, ProducerEpoch: -1}) {
		t.Fatalf("v2 response decoded as %#v", r)
	}
	// The throttle time and the error code differ from 0 and from each
	// other, so that the two read in each other's place would show.
	v5 := fromHexLines(t,
		"00000064",         // throttle_time_ms 100
		"0033",             // error_code 51, CONCURRENT_TRANSACTIONS
		"0000000000000002", // producer_id 2
		"0005",             // producer_epoch 5
		"00",               // no tags
	)
	if err := r.ReadFrom(v5, 5); err != nil {
		t.Fatal(err)
	}
	want5 := EndTxnResponse{ThrottleTimeMs: 100, ErrorCode: 51, ProducerID: 2, ProducerEpoch: 5}
	if !reflect.DeepEqual(r, want5) {
		t.Fatalf("v5 response decoded as %#v, want %#v", r, want5)
	}
	if got := want5.AppendTo(nil, 5); !bytes.Equal(got, v5) {
		t.Errorf("response v5:\n%s\nwant\n%s", hex.Dump(got), hex.Dump(v5))
	}
}

func FuzzEndTxnRequest(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullEndTxnRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, EndTxn, newEndTxnRequest, versionFrom(EndTxn, sel), data)
	})
}

func FuzzEndTxnResponse(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullEndTxnResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, EndTxn, newEndTxnResponse, versionFrom(EndTxn, sel), data)
	})
}
