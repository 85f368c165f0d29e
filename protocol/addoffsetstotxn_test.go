package protocol

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func newAddOffsetsToTxnRequest() Message  { return new(AddOffsetsToTxnRequest) }
func newAddOffsetsToTxnResponse() Message { return new(AddOffsetsToTxnResponse) }

func fullAddOffsetsToTxnRequest(v int16) *AddOffsetsToTxnRequest {
	r := &AddOffsetsToTxnRequest{TransactionalID: "txn-1", ProducerID: 4242, ProducerEpoch: 3, GroupID: "consumers"}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	return r
}

func fullAddOffsetsToTxnResponse(v int16) *AddOffsetsToTxnResponse {
	r := &AddOffsetsToTxnResponse{ThrottleTimeMs: 12, ErrorCode: 30}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	return r
}

func TestAddOffsetsToTxnRoundTrip(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		roundTrip(t, fullAddOffsetsToTxnRequest(v), newAddOffsetsToTxnRequest, v)
		roundTrip(t, fullAddOffsetsToTxnResponse(v), newAddOffsetsToTxnResponse, v)
	}
}

func TestAddOffsetsToTxnTruncated(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		checkMalformedFails(t, fullAddOffsetsToTxnRequest(v), newAddOffsetsToTxnRequest, v)
		checkMalformedFails(t, fullAddOffsetsToTxnResponse(v), newAddOffsetsToTxnResponse, v)
	}
	checkVersionRange(t, newAddOffsetsToTxnRequest)
	checkVersionRange(t, newAddOffsetsToTxnResponse)
}

// TestAddOffsetsToTxnGolden is written by hand from Apache Kafka's
// AddOffsetsToTxnRequest.json.
func TestAddOffsetsToTxnGolden(t *testing.T) {
	req := &AddOffsetsToTxnRequest{TransactionalID: "t", ProducerID: 7, ProducerEpoch: 1, GroupID: "g"}
	cases := []struct {
		v    int16
		want []byte
	}{
		{2, fromHexLines(t, "0001 74", "0000000000000007", "0001", "0001 67")},
		{3, fromHexLines(t, "02 74", "0000000000000007", "0001", "02 67", "00")},
	}
	for _, c := range cases {
		if got := req.AppendTo(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.want))
		}
	}
}

func FuzzAddOffsetsToTxnRequest(f *testing.F) {
	for v := int16(0); v <= 4; v++ {
		f.Add(byte(v), fullAddOffsetsToTxnRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, AddOffsetsToTxn, newAddOffsetsToTxnRequest, versionFrom(AddOffsetsToTxn, sel), data)
	})
}

func FuzzAddOffsetsToTxnResponse(f *testing.F) {
	for v := int16(0); v <= 4; v++ {
		f.Add(byte(v), fullAddOffsetsToTxnResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, AddOffsetsToTxn, newAddOffsetsToTxnResponse, versionFrom(AddOffsetsToTxn, sel), data)
	})
}
