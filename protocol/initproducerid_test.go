package protocol

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
)

func newInitProducerIdRequest() Message  { return new(InitProducerIdRequest) }
func newInitProducerIdResponse() Message { return new(InitProducerIdResponse) }

// fullInitProducerIdRequest sets every field that exists at v to a value
// other than its default, and leaves the others at the decoder's defaults.
func fullInitProducerIdRequest(v int16) *InitProducerIdRequest {
	r := &InitProducerIdRequest{TransactionalID: strp("txn-1"), TransactionTimeoutMs: 60000, ProducerID: -1, ProducerEpoch: -1}
	if v >= 2 {
		r.UnknownTags = someTags()
	}
	if v >= 3 {
		r.ProducerID, r.ProducerEpoch = 4242, 7
	}
	return r
}

func fullInitProducerIdResponse(v int16) *InitProducerIdResponse {
	r := &InitProducerIdResponse{ThrottleTimeMs: 10, ErrorCode: 47, ProducerID: 4243, ProducerEpoch: 8}
	if v >= 2 {
		r.UnknownTags = someTags()
	}
	return r
}

func TestInitProducerIdRoundTrip(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		roundTrip(t, fullInitProducerIdRequest(v), newInitProducerIdRequest, v)
		roundTrip(t, fullInitProducerIdResponse(v), newInitProducerIdResponse, v)
		// An idempotent producer has no transactional id: null, not "".
		roundTrip(t, &InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}, newInitProducerIdRequest, v)
		roundTrip(t, &InitProducerIdRequest{TransactionalID: strp(""), ProducerID: -1, ProducerEpoch: -1}, newInitProducerIdRequest, v)
	}
}

func TestInitProducerIdTruncated(t *testing.T) {
	for v := int16(0); v <= 5; v++ {
		checkEveryPrefixFails(t, fullInitProducerIdRequest(v), newInitProducerIdRequest, v)
		checkEveryPrefixFails(t, fullInitProducerIdResponse(v), newInitProducerIdResponse, v)
	}
	checkVersionRange(t, newInitProducerIdRequest)
	checkVersionRange(t, newInitProducerIdResponse)
}

// TestInitProducerIdGolden is written by hand from InitProducerIdRequest.json.
func TestInitProducerIdGolden(t *testing.T) {
	cases := []struct {
		v    int16
		msg  *InitProducerIdRequest
		want []byte
	}{
		{0, &InitProducerIdRequest{TransactionTimeoutMs: 1000, ProducerID: -1, ProducerEpoch: -1}, fromHexLines(t,
			"ffff",     // transactional_id null
			"000003e8", // transaction_timeout_ms 1000
		)},
		{4, &InitProducerIdRequest{TransactionalID: strp("t"), TransactionTimeoutMs: 1000, ProducerID: 5, ProducerEpoch: 2}, fromHexLines(t,
			"02 74",            // compact transactional_id "t"
			"000003e8",         // transaction_timeout_ms
			"0000000000000005", // producer_id 5
			"0002",             // producer_epoch 2
			"00",               // no tagged fields
		)},
	}
	for _, c := range cases {
		got := c.msg.AppendTo(nil, c.v)
		if !bytes.Equal(got, c.want) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.want))
		}
	}
}

// TestInitProducerIdDefaults: before v3 the request has no producer id or
// epoch, and decoding fills in the schema's -1 rather than Go's 0, which is
// a valid producer id.
func TestInitProducerIdDefaults(t *testing.T) {
	var r InitProducerIdRequest
	if err := r.ReadFrom(fromHexLines(t, "ffff 000003e8"), 1); err != nil {
		t.Fatal(err)
	}
	want := InitProducerIdRequest{TransactionTimeoutMs: 1000, ProducerID: -1, ProducerEpoch: -1}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %#v, want %#v", r, want)
	}
}

func FuzzInitProducerIdRequest(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullInitProducerIdRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, InitProducerId, newInitProducerIdRequest, versionFrom(InitProducerId, sel), data)
	})
}

func FuzzInitProducerIdResponse(f *testing.F) {
	for v := int16(0); v <= 5; v++ {
		f.Add(byte(v), fullInitProducerIdResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, InitProducerId, newInitProducerIdResponse, versionFrom(InitProducerId, sel), data)
	})
}
