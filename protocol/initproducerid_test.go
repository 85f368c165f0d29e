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
	if v >= 6 {
		r.Enable2Pc, r.KeepPreparedTxn = true, true
	}
	return r
}

func fullInitProducerIdResponse(v int16) *InitProducerIdResponse {
	r := &InitProducerIdResponse{ThrottleTimeMs: 10, ErrorCode: 47, ProducerID: 4243, ProducerEpoch: 8,
		OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	if v >= 2 {
		r.UnknownTags = someTags()
	}
	if v >= 6 {
		r.OngoingTxnProducerID, r.OngoingTxnProducerEpoch = 4000, 3
	}
	return r
}

// initProducerIdVersions is every version this package implements.
func initProducerIdVersions() []int16 {
	var vs []int16
	for v := Supported(InitProducerId).Min; v <= Supported(InitProducerId).Max; v++ {
		vs = append(vs, v)
	}
	return vs
}

func TestInitProducerIdRoundTrip(t *testing.T) {
	for _, v := range initProducerIdVersions() {
		roundTrip(t, fullInitProducerIdRequest(v), newInitProducerIdRequest, v)
		roundTrip(t, fullInitProducerIdResponse(v), newInitProducerIdResponse, v)
		// An idempotent producer has no transactional id: null, not "".
		roundTrip(t, &InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}, newInitProducerIdRequest, v)
		roundTrip(t, &InitProducerIdRequest{TransactionalID: strp(""), ProducerID: -1, ProducerEpoch: -1}, newInitProducerIdRequest, v)
	}
}

func TestInitProducerIdTruncated(t *testing.T) {
	for _, v := range initProducerIdVersions() {
		checkMalformedFails(t, fullInitProducerIdRequest(v), newInitProducerIdRequest, v)
		checkMalformedFails(t, fullInitProducerIdResponse(v), newInitProducerIdResponse, v)
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
		// v6 (KIP-939, unstable in the schemas, so never negotiated), as
		// the encoder writes it: the two 2PC flags at their defaults,
		// false.
		{6, &InitProducerIdRequest{TransactionTimeoutMs: 60000, ProducerID: -1, ProducerEpoch: -1}, fromHexLines(t,
			"00",               // compact transactional_id null
			"0000ea60",         // transaction_timeout_ms 60000
			"ffffffffffffffff", // producer_id -1
			"ffff",             // producer_epoch -1
			"00",               // enable_2pc false
			"00",               // keep_prepared_txn false
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

// TestInitProducerIdResponseV6Golden is written by hand from
// InitProducerIdResponse.json: v6 appends the ongoing transaction's
// producer id and epoch (KIP-939), and before v6 they read as -1. The
// throttle time and the error code differ from 0 and from each other, so
// that the two read in each other's place would show.
func TestInitProducerIdResponseV6Golden(t *testing.T) {
	golden := fromHexLines(t,
		"00000064",         // throttle_time_ms 100
		"0033",             // error_code 51, CONCURRENT_TRANSACTIONS
		"0000000000001000", // producer_id 4096
		"0003",             // producer_epoch 3
		"ffffffffffffffff", // ongoing_txn_producer_id -1: none
		"ffff",             // ongoing_txn_producer_epoch -1
		"00",               // no tagged fields
	)
	want := &InitProducerIdResponse{ThrottleTimeMs: 100, ErrorCode: 51, ProducerID: 4096, ProducerEpoch: 3, OngoingTxnProducerID: -1, OngoingTxnProducerEpoch: -1}
	if got := want.AppendTo(nil, 6); !bytes.Equal(got, golden) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(golden))
	}
	var back InitProducerIdResponse
	if err := back.ReadFrom(golden, 6); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, want) {
		t.Fatalf("got %#v, want %#v", back, want)
	}
	// The same answer at v5 ends after the epoch; the v6 fields keep
	// their defaults.
	var v5 InitProducerIdResponse
	if err := v5.ReadFrom(fromHexLines(t, "00000064 0033 0000000000001000 0003 00"), 5); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&v5, want) {
		t.Fatalf("v5: got %#v, want %#v", v5, want)
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
	for _, v := range initProducerIdVersions() {
		f.Add(byte(v), fullInitProducerIdRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, InitProducerId, newInitProducerIdRequest, versionFrom(InitProducerId, sel), data)
	})
}

func FuzzInitProducerIdResponse(f *testing.F) {
	for _, v := range initProducerIdVersions() {
		f.Add(byte(v), fullInitProducerIdResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, InitProducerId, newInitProducerIdResponse, versionFrom(InitProducerId, sel), data)
	})
}
