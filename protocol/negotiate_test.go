package protocol

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func TestNegotiate(t *testing.T) {
	cases := []struct {
		name   string
		api    APIKey
		broker VersionRange
		want   int16 // -1: no common version
	}{
		{"broker newer than us", Produce, VersionRange{0, 14}, 13},
		{"broker older than us", Produce, VersionRange{0, 9}, 9},
		{"broker inside our range", Metadata, VersionRange{4, 7}, 7},
		{"single common version", Produce, VersionRange{0, 3}, 3},
		{"broker too old", Produce, VersionRange{0, 2}, -1},
		{"broker too new", ApiVersions, VersionRange{5, 9}, -1},
		{"empty broker range", Produce, VersionRange{5, 4}, -1},
		{"API we do not implement", APIKey(1000), VersionRange{0, 3}, -1},
		// InitProducerId v6 (KIP-939) is unstable in the schemas: a broker
		// listing it (unstable.api.versions.enable) is sent v5.
		{"broker lists an unstable version", InitProducerId, VersionRange{0, 6}, 5},
		{"broker speaks only the unstable version", InitProducerId, VersionRange{6, 6}, -1},
	}
	for _, c := range cases {
		got, err := Negotiate(c.api, c.broker)
		if c.want >= 0 {
			if err != nil || got != c.want {
				t.Errorf("%s: got v%d, %v; want v%d", c.name, got, err, c.want)
			}
			continue
		}
		var ve *VersionError
		if !errors.As(err, &ve) || ve.API != c.api || ve.Ours != Negotiable(c.api) || ve.Theirs != c.broker {
			t.Errorf("%s: got v%d, %#v", c.name, got, err)
			continue
		}
		if !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s: %v does not wrap ErrUnsupportedVersion", c.name, err)
		}
	}
}

// A caller that may send only some versions gets the highest of them both
// sides speak; with none, the error gives our range narrowed to what the
// caller allows, so that it says why a broker that speaks the API was not
// asked: its oldest version is above the caller's newest, or its newest
// below the caller's oldest.
func TestNegotiateWithinAnswersOnlyInTheAllowedRange(t *testing.T) {
	cases := []struct {
		name    string
		allowed VersionRange
		broker  VersionRange
		want    int16 // -1: no common version
		message string
	}{
		{"capped", VersionRange{0, 4}, VersionRange{0, 5}, 4, ""},
		{"the broker's newest under the cap", VersionRange{0, 4}, VersionRange{0, 3}, 3, ""},
		{"the broker's oldest above the cap", VersionRange{0, 2}, VersionRange{3, 5},
			-1, "no common version of TxnOffsetCommit: we speak v0-v2, the broker v3-v5"},
		{"the broker's newest below the floor", VersionRange{3, 4}, VersionRange{0, 2},
			-1, "no common version of TxnOffsetCommit: we speak v3-v4, the broker v0-v2"},
		{"every version", AllVersions, VersionRange{0, 5}, 5, ""},
	}
	for _, c := range cases {
		got, err := NegotiateWithin(TxnOffsetCommit, c.allowed, c.broker)
		if c.want >= 0 {
			if err != nil || got != c.want {
				t.Errorf("%s: got v%d, %v; want v%d", c.name, got, err, c.want)
			}
			continue
		}
		if !errors.Is(err, ErrUnsupportedVersion) || err.Error() != c.message {
			t.Errorf("%s: got v%d, %v; want %q", c.name, got, err, c.message)
		}
	}
	if _, err := (BrokerVersions{TxnOffsetCommit: {3, 5}}).Within(TxnOffsetCommit, VersionRange{0, 2}); err == nil {
		t.Error("BrokerVersions.Within: a version below the broker's oldest")
	}
}

func TestVersionErrorMessage(t *testing.T) {
	_, err := Negotiate(Produce, VersionRange{0, 2})
	want := "no common version of Produce: we speak v3-v13, the broker v0-v2"
	if err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	_, err = BrokerVersions{}.For(Metadata)
	if err == nil || !strings.Contains(err.Error(), "Metadata") || !strings.Contains(err.Error(), "the broker no version") {
		t.Errorf("unlisted API: %v", err)
	}
}

func TestBrokerVersions(t *testing.T) {
	resp := &ApiVersionsResponse{ApiKeys: []ApiVersionsResponseKey{
		{ApiKey: int16(Produce), MinVersion: 0, MaxVersion: 11},
		{ApiKey: int16(Metadata), MinVersion: 0, MaxVersion: 14},
		{ApiKey: int16(ApiVersions), MinVersion: 0, MaxVersion: 4},
		{ApiKey: 68, MinVersion: 0, MaxVersion: 1}, // an API we do not implement
	}}
	bv := NewBrokerVersions(resp)
	want := BrokerVersions{Produce: {0, 11}, Metadata: {0, 14}, ApiVersions: {0, 4}, APIKey(68): {0, 1}}
	if !reflect.DeepEqual(bv, want) {
		t.Fatalf("got %v, want %v", bv, want)
	}
	for api, v := range map[APIKey]int16{Produce: 11, Metadata: 13, ApiVersions: 4} {
		if got, err := bv.For(api); err != nil || got != v {
			t.Errorf("%s: got v%d, %v; want v%d", api, got, err, v)
		}
	}
	var ve *VersionError
	if _, err := bv.For(InitProducerId); !errors.As(err, &ve) || ve.Theirs.Min <= ve.Theirs.Max {
		t.Errorf("unlisted API: %#v", err)
	}
	if _, err := BrokerVersions(nil).For(Produce); err == nil {
		t.Error("nil BrokerVersions gave a version")
	}
}

func TestApiVersionsRetryVersion(t *testing.T) {
	cases := []struct {
		name string
		keys []ApiVersionsResponseKey
		want int16
	}{
		{"broker lists its range", []ApiVersionsResponseKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 2}}, 2},
		{"among other APIs", []ApiVersionsResponseKey{{ApiKey: 0, MaxVersion: 9}, {ApiKey: 18, MaxVersion: 3}}, 3},
		{"broker range above ours", []ApiVersionsResponseKey{{ApiKey: 18, MinVersion: 0, MaxVersion: 9}}, 4},
		{"no common version", []ApiVersionsResponseKey{{ApiKey: 18, MinVersion: 7, MaxVersion: 9}}, 0},
		{"range missing (broker before 2.4)", nil, 0},
	}
	for _, c := range cases {
		resp := &ApiVersionsResponse{ErrorCode: 35, ApiKeys: c.keys}
		if got := ApiVersionsRetryVersion(resp); got != c.want {
			t.Errorf("%s: got v%d, want v%d", c.name, got, c.want)
		}
	}
}

// TestReadApiVersionsResponseFallback plays a broker that speaks only
// ApiVersions v0-v2 and is asked at v4: it answers in v0.
func TestReadApiVersionsResponseFallback(t *testing.T) {
	v0 := fromHexLines(t,
		"0023",           // error_code 35 UNSUPPORTED_VERSION
		"00000001",       // api_keys: 1
		"0012 0000 0002", // ApiVersions v0-v2
	)
	resp, err := ReadApiVersionsResponse(v0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 35 || ApiVersionsRetryVersion(resp) != 2 {
		t.Fatalf("got %#v", resp)
	}

	// A response that is well-formed at the version asked for is read at it.
	good := fullApiVersionsResponse(4)
	good.ErrorCode = 0
	resp, err = ReadApiVersionsResponse(good.AppendTo(nil, 4), 4)
	if err != nil || !reflect.DeepEqual(resp, good) {
		t.Fatalf("got %#v, %v", resp, err)
	}

	// Bytes that are neither keep the error of the version asked for.
	bad := fromHexLines(t, "0023 0000")
	_, err = ReadApiVersionsResponse(bad, 3)
	requireDecodeError(t, err, ApiVersions, 3, len(bad), err)
	// Nor is a v0 reading without UNSUPPORTED_VERSION taken for the answer.
	_, err = ReadApiVersionsResponse(fromHexLines(t, "0000 00000000"), 3)
	if err == nil {
		t.Fatal("a v0 body without error code 35 was accepted at v3")
	}
	if _, err = ReadApiVersionsResponse(nil, 0); err == nil {
		t.Fatal("empty v0 body accepted")
	}
}

// FuzzReadApiVersionsResponse fuzzes what the connection calls on every
// ApiVersions answer, the first bytes it reads from a broker, fallback to v0
// included: it must fail as every decoder does (requireDecodeError), or
// return the body read at the version asked, or, only when that reading
// fails, the v0 reading carrying UNSUPPORTED_VERSION. Anything else would
// negotiate versions from bytes the broker did not mean. Either way it
// allocates no more than every decoder may (requireAllocationBounded).
func FuzzReadApiVersionsResponse(f *testing.F) {
	r := Supported(ApiVersions)
	for v := r.Min; v <= r.Max; v++ {
		f.Add(byte(v), fullApiVersionsResponse(v).AppendTo(nil, v))
	}
	// A broker that speaks only v0-v2 answers a v3 request in v0.
	unsupported := &ApiVersionsResponse{ErrorCode: errUnsupportedVersionCode,
		ApiKeys: []ApiVersionsResponseKey{{ApiKey: int16(ApiVersions), MinVersion: 0, MaxVersion: 2}}}
	f.Add(byte(3), unsupported.AppendTo(nil, 0))
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		v := versionFrom(ApiVersions, sel)
		var resp *ApiVersionsResponse
		var err error
		requireAllocationBounded(t, ApiVersions, v, len(data), func() { resp, err = ReadApiVersionsResponse(data, v) })
		if err != nil {
			requireDecodeError(t, err, ApiVersions, v, len(data), wire.ErrTruncated, wire.ErrMalformed)
			return
		}
		want, readAt := new(ApiVersionsResponse), v
		if want.ReadFrom(data, v) != nil {
			want, readAt = new(ApiVersionsResponse), 0
			if err := want.ReadFrom(data, 0); err != nil || want.ErrorCode != errUnsupportedVersionCode {
				t.Fatalf("v%d: accepted a body that decodes neither at v%d nor as a v0 UNSUPPORTED_VERSION (%v)", v, v, err)
			}
		}
		if !reflect.DeepEqual(resp, want) {
			t.Fatalf("v%d: got %#v, want the v%d reading %#v", v, resp, readAt, want)
		}
	})
}
