package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func newApiVersionsRequest() Message  { return new(ApiVersionsRequest) }
func newApiVersionsResponse() Message { return new(ApiVersionsResponse) }

// fullApiVersionsRequest sets every field that exists at v.
func fullApiVersionsRequest(v int16) *ApiVersionsRequest {
	r := &ApiVersionsRequest{}
	if v >= 3 {
		r.ClientSoftwareName = "gokafka"
		r.ClientSoftwareVersion = "0.1.0"
		r.UnknownTags = someTags()
	}
	return r
}

// fullApiVersionsResponse sets every field that exists at v to a value other
// than its default, and leaves the others at the defaults a decoder fills in.
func fullApiVersionsResponse(v int16) *ApiVersionsResponse {
	r := &ApiVersionsResponse{
		ErrorCode: 35,
		ApiKeys: []ApiVersionsResponseKey{
			{ApiKey: 0, MinVersion: 3, MaxVersion: 12},
			{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
		},
		FinalizedFeaturesEpoch: -1,
	}
	if v >= 1 {
		r.ThrottleTimeMs = 250
	}
	if v >= 3 {
		for i := range r.ApiKeys {
			r.ApiKeys[i].UnknownTags = someTags()
		}
		r.SupportedFeatures = []ApiVersionsResponseFeature{
			{Name: "metadata.version", MinVersion: 1, MaxVersion: 25, UnknownTags: someTags()},
			{Name: "transaction.version", MinVersion: 0, MaxVersion: 2},
		}
		r.FinalizedFeaturesEpoch = 42
		r.FinalizedFeatures = []ApiVersionsResponseFinalizedFeature{
			{Name: "metadata.version", MaxVersionLevel: 25, MinVersionLevel: 1, UnknownTags: someTags()},
		}
		r.ZkMigrationReady = true
		// Tags on both sides of the known ones, to check the merge order.
		r.UnknownTags = []wire.TaggedField{{Tag: 4, Data: []byte{1}}, {Tag: 90, Data: []byte{}}}
	}
	return r
}

func TestApiVersionsRoundTrip(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		roundTrip(t, fullApiVersionsRequest(v), newApiVersionsRequest, v)
		roundTrip(t, fullApiVersionsResponse(v), newApiVersionsResponse, v)
	}
}

func TestApiVersionsRequestBodyEmptyBeforeV3(t *testing.T) {
	for v := int16(0); v <= 2; v++ {
		if b := fullApiVersionsRequest(3).AppendTo(nil, v); len(b) != 0 {
			t.Errorf("v%d: body %x, want none", v, b)
		}
	}
}

// TestApiVersionsResponseDefaults: a response carrying no feature tags, or
// read at a version without them, reads as the schema's defaults.
func TestApiVersionsResponseDefaults(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		var r ApiVersionsResponse
		b := (&ApiVersionsResponse{FinalizedFeaturesEpoch: -1}).AppendTo(nil, v)
		if err := r.ReadFrom(b, v); err != nil {
			t.Fatal(err)
		}
		want := ApiVersionsResponse{FinalizedFeaturesEpoch: -1}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("v%d: got %#v, want %#v", v, r, want)
		}
		// Error code, api keys length (INT32, then a one-byte compact one
		// from v3), throttle time from v1, an empty tag section from v3: the
		// tags at their defaults cost nothing.
		wantLen := map[int16]int{0: 6, 1: 10, 2: 10, 3: 8, 4: 8}[v]
		if len(b) != wantLen {
			t.Errorf("v%d: %d bytes %x, want %d", v, len(b), b, wantLen)
		}
	}
}

// TestApiVersionsRequestGolden is written by hand from RequestHeader.json and
// ApiVersionsRequest.json: header v2 (flexible) but with the client id still
// an INT16-length string, then compact strings.
func TestApiVersionsRequestGolden(t *testing.T) {
	want := fromHexLines(t,
		"0012",              // request_api_key 18 (ApiVersions)
		"0003",              // request_api_version 3
		"00000007",          // correlation_id 7
		"0005 6b70726f64",   // client_id "kprod", NULLABLE_STRING: INT16 length 5
		"00",                // header tagged fields: none
		"08 676f6b61666b61", // ClientSoftwareName "gokafka": COMPACT_STRING, length+1 = 8
		"06 302e312e30",     // ClientSoftwareVersion "0.1.0": length+1 = 6
		"00",                // body tagged fields: none
	)
	clientID := "kprod"
	req := &ApiVersionsRequest{ClientSoftwareName: "gokafka", ClientSoftwareVersion: "0.1.0"}
	got := AppendRequestHeader(nil, ApiVersions, 3, 7, &clientID)
	got = req.AppendTo(got, 3)
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(got), hex.Dump(want))
	}

	api, v, corr, id, body, err := ReadRequestHeader(want)
	if err != nil || api != ApiVersions || v != 3 || corr != 7 || id == nil || *id != "kprod" {
		t.Fatalf("header: %s v%d corr %d id %v: %v", api, v, corr, id, err)
	}
	var back ApiVersionsRequest
	if err := back.ReadFrom(body, v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, req) {
		t.Fatalf("got %#v, want %#v", back, req)
	}
}

// TestApiVersionsResponseV0Golden is a broker's answer to a version it does
// not speak: v0 body, UNSUPPORTED_VERSION, and its own ApiVersions range.
func TestApiVersionsResponseV0Golden(t *testing.T) {
	b := fromHexLines(t,
		"0023",           // error_code 35 UNSUPPORTED_VERSION
		"00000001",       // api_keys: ARRAY of 1
		"0012 0000 0002", // ApiVersions v0-v2
	)
	var r ApiVersionsResponse
	if err := r.ReadFrom(b, 0); err != nil {
		t.Fatal(err)
	}
	want := ApiVersionsResponse{
		ErrorCode:              35,
		ApiKeys:                []ApiVersionsResponseKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 2}},
		FinalizedFeaturesEpoch: -1,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %#v, want %#v", r, want)
	}
}

// TestApiVersionsResponseV3Golden is written by hand from
// ApiVersionsResponse.json: the feature tags a broker of Kafka 3.x and later
// sends, whose finalized transaction.version decides which transaction
// protocol the producer speaks. Each pair of levels differs, so a decoder
// that reads one in the other's place, and an encoder that writes it there,
// fail here, where a round trip through both would not see it.
func TestApiVersionsResponseV3Golden(t *testing.T) {
	golden := fromHexLines(t,
		"0000",           // error_code 0
		"02",             // api_keys: COMPACT_ARRAY of 1
		"0012 0000 0004", //   ApiVersions v0-v4
		"00",             //   its tagged fields: none
		"0000000a",       // throttle_time_ms 10
		"03",             // tagged fields: 3
		"00 1a",          //   tag 0 supported_features, 26 bytes:
		"02",             //     COMPACT_ARRAY of 1
		"14 7472616e73616374696f6e2e76657273696f6e", // name "transaction.version"
		"0000",             //     min_version 0
		"0002",             //     max_version 2
		"00",               //     its tagged fields: none
		"01 08",            //   tag 1 finalized_features_epoch, 8 bytes:
		"000000000000002a", //     42
		"02 1a",            //   tag 2 finalized_features, 26 bytes:
		"02",               //     COMPACT_ARRAY of 1
		"14 7472616e73616374696f6e2e76657273696f6e", // name "transaction.version"
		"0002", //     max_version_level 2, before the min
		"0001", //     min_version_level 1
		"00",   //     its tagged fields: none
	)
	want := &ApiVersionsResponse{
		ApiKeys:                []ApiVersionsResponseKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 4}},
		ThrottleTimeMs:         10,
		SupportedFeatures:      []ApiVersionsResponseFeature{{Name: "transaction.version", MinVersion: 0, MaxVersion: 2}},
		FinalizedFeaturesEpoch: 42,
		FinalizedFeatures: []ApiVersionsResponseFinalizedFeature{
			{Name: "transaction.version", MaxVersionLevel: 2, MinVersionLevel: 1},
		},
	}
	var got ApiVersionsResponse
	if err := got.ReadFrom(golden, 3); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if b := want.AppendTo(nil, 3); !bytes.Equal(b, golden) {
		t.Fatalf("got\n%swant\n%s", hex.Dump(b), hex.Dump(golden))
	}
}

func TestApiVersionsMalformed(t *testing.T) {
	for v := int16(0); v <= 4; v++ {
		if v >= 3 {
			checkMalformedFails(t, fullApiVersionsRequest(v), newApiVersionsRequest, v)
		}
		checkMalformedFails(t, fullApiVersionsResponse(v), newApiVersionsResponse, v)
	}
	checkVersionRange(t, newApiVersionsRequest)
	checkVersionRange(t, newApiVersionsResponse)

	cases := []struct {
		name string
		v    int16
		hex  string
	}{
		{"null api keys", 3, "0000 00 00000000 00"},
		{"null api keys classic", 1, "0000 ffffffff 00000000"},
		{"count beyond input", 2, "0000 7fffffff 00000000"},
		{"tags out of order", 3, "0000 01 00000000 02 0301aa 0101bb"},
		{"known tag with bytes left over", 3, "0000 01 00000000 01 03020102"},
		{"short epoch tag", 3, "0000 01 00000000 01 0104 00000001"},
	}
	for _, c := range cases {
		b := fromHexLines(t, c.hex)
		err := new(ApiVersionsResponse).ReadFrom(b, c.v)
		if err == nil {
			t.Errorf("%s: decoded", c.name)
			continue
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.API != ApiVersions || de.Version != c.v {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func FuzzApiVersionsRequest(f *testing.F) {
	for v := int16(0); v <= 4; v++ {
		f.Add(byte(v), fullApiVersionsRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, ApiVersions, newApiVersionsRequest, versionFrom(ApiVersions, sel), data)
	})
}

func FuzzApiVersionsResponse(f *testing.F) {
	for v := int16(0); v <= 4; v++ {
		f.Add(byte(v), fullApiVersionsResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, ApiVersions, newApiVersionsResponse, versionFrom(ApiVersions, sel), data)
	})
}
