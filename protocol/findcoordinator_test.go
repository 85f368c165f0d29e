package protocol

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func newFindCoordinatorRequest() Message  { return new(FindCoordinatorRequest) }
func newFindCoordinatorResponse() Message { return new(FindCoordinatorResponse) }

// fullFindCoordinatorRequest sets every field that exists at v to a value
// other than its default, and leaves the others zero.
func fullFindCoordinatorRequest(v int16) *FindCoordinatorRequest {
	r := &FindCoordinatorRequest{}
	if v <= 3 {
		r.CoordinatorKey = "txn-1"
	}
	if v >= 1 {
		r.KeyType = CoordinatorKeyTransaction
	}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	if v >= 4 {
		r.CoordinatorKeys = []string{"txn-1", "", "txn-2"}
	}
	return r
}

func fullFindCoordinatorResponse(v int16) *FindCoordinatorResponse {
	r := &FindCoordinatorResponse{}
	if v >= 1 {
		r.ThrottleTimeMs = 25
	}
	if v <= 3 {
		r.ErrorCode, r.NodeID, r.Host, r.Port = 15, 3, "b3.example", 9094
		if v >= 1 {
			r.ErrorMessage = strp("coordinator not available")
		}
	}
	if v >= 3 {
		r.UnknownTags = someTags()
	}
	if v >= 4 {
		r.Coordinators = []FindCoordinatorResponseCoordinator{
			{Key: "txn-1", NodeID: 1, Host: "b1.example", Port: 9092, UnknownTags: someTags()},
			{Key: "txn-2", NodeID: -1, Host: "", Port: -1, ErrorCode: 15, ErrorMessage: strp("loading")},
		}
	}
	return r
}

func TestFindCoordinatorRoundTrip(t *testing.T) {
	for v := int16(0); v <= 6; v++ {
		roundTrip(t, fullFindCoordinatorRequest(v), newFindCoordinatorRequest, v)
		roundTrip(t, fullFindCoordinatorResponse(v), newFindCoordinatorResponse, v)
	}
}

func TestFindCoordinatorTruncated(t *testing.T) {
	for v := int16(0); v <= 6; v++ {
		checkMalformedFails(t, fullFindCoordinatorRequest(v), newFindCoordinatorRequest, v)
		checkMalformedFails(t, fullFindCoordinatorResponse(v), newFindCoordinatorResponse, v)
	}
	checkVersionRange(t, newFindCoordinatorRequest)
	checkVersionRange(t, newFindCoordinatorResponse)
}

// TestFindCoordinatorErrorMessageNull: v1-v3 distinguish a null error
// message from an empty one.
func TestFindCoordinatorErrorMessageNull(t *testing.T) {
	for v := int16(1); v <= 3; v++ {
		null := roundTrip(t, &FindCoordinatorResponse{Host: "h"}, newFindCoordinatorResponse, v)
		empty := roundTrip(t, &FindCoordinatorResponse{Host: "h", ErrorMessage: strp("")}, newFindCoordinatorResponse, v)
		if bytes.Equal(null, empty) {
			t.Fatalf("v%d: null and empty error messages encode alike", v)
		}
	}
}

// TestFindCoordinatorGolden is written by hand from the schemas: v0-v3 name
// one key, v4 a batch; only the fields of the version are written.
func TestFindCoordinatorGolden(t *testing.T) {
	both := &FindCoordinatorRequest{CoordinatorKey: "g", KeyType: CoordinatorKeyTransaction, CoordinatorKeys: []string{"a", "b"}}
	cases := []struct {
		v    int16
		want []byte
	}{
		{0, fromHexLines(t, "0001 67")},                  // key "g"
		{1, fromHexLines(t, "0001 67", "01")},            // key "g", key_type 1
		{3, fromHexLines(t, "02 67", "01", "00")},        // compact key, key_type, no tags
		{4, fromHexLines(t, "01", "03 0261 0262", "00")}, // key_type, coordinator_keys ["a","b"], no tags
	}
	for _, c := range cases {
		if got := both.AppendTo(nil, c.v); !bytes.Equal(got, c.want) {
			t.Errorf("v%d:\n%s\nwant\n%s", c.v, hex.Dump(got), hex.Dump(c.want))
		}
	}

	resp := fromHexLines(t,
		"00000000", // throttle_time_ms
		"02",       // coordinators: 1
		"02 61",    // key "a"
		"00000002", // node_id 2
		"02 68",    // host "h"
		"00002384", // port 9092
		"0000",     // error_code
		"00",       // error_message null
		"00",       // coordinator tags
		"00",       // top-level tags
	)
	var r FindCoordinatorResponse
	if err := r.ReadFrom(resp, 4); err != nil {
		t.Fatal(err)
	}
	if len(r.Coordinators) != 1 || r.Coordinators[0].Key != "a" || r.Coordinators[0].NodeID != 2 ||
		r.Coordinators[0].Host != "h" || r.Coordinators[0].Port != 9092 || r.Coordinators[0].ErrorMessage != nil {
		t.Fatalf("decoded %#v", r)
	}
}

func FuzzFindCoordinatorRequest(f *testing.F) {
	for v := int16(0); v <= 6; v++ {
		f.Add(byte(v), fullFindCoordinatorRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, FindCoordinator, newFindCoordinatorRequest, versionFrom(FindCoordinator, sel), data)
	})
}

func FuzzFindCoordinatorResponse(f *testing.F) {
	for v := int16(0); v <= 6; v++ {
		f.Add(byte(v), fullFindCoordinatorResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, FindCoordinator, newFindCoordinatorResponse, versionFrom(FindCoordinator, sel), data)
	})
}
