package protocol

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

func newSaslHandshakeRequest() Message     { return new(SaslHandshakeRequest) }
func newSaslHandshakeResponse() Message    { return new(SaslHandshakeResponse) }
func newSaslAuthenticateRequest() Message  { return new(SaslAuthenticateRequest) }
func newSaslAuthenticateResponse() Message { return new(SaslAuthenticateResponse) }

func fullSaslHandshakeRequest() *SaslHandshakeRequest {
	return &SaslHandshakeRequest{Mechanism: "SCRAM-SHA-512"}
}

func fullSaslHandshakeResponse() *SaslHandshakeResponse {
	return &SaslHandshakeResponse{ErrorCode: 33, Mechanisms: []string{"PLAIN", "SCRAM-SHA-256", ""}}
}

func fullSaslAuthenticateRequest(v int16) *SaslAuthenticateRequest {
	r := &SaslAuthenticateRequest{AuthBytes: []byte("\x00user\x00pass")}
	if v >= 2 {
		r.UnknownTags = someTags()
	}
	return r
}

func fullSaslAuthenticateResponse(v int16) *SaslAuthenticateResponse {
	r := &SaslAuthenticateResponse{ErrorCode: 58, ErrorMessage: strp("bad password"), AuthBytes: []byte("server-final")}
	if v >= 1 {
		r.SessionLifetimeMs = 3600000
	}
	if v >= 2 {
		r.UnknownTags = someTags()
	}
	return r
}

func TestSaslRoundTrip(t *testing.T) {
	for v := int16(0); v <= 1; v++ {
		roundTrip(t, fullSaslHandshakeRequest(), newSaslHandshakeRequest, v)
		roundTrip(t, fullSaslHandshakeResponse(), newSaslHandshakeResponse, v)
		roundTrip(t, &SaslHandshakeResponse{}, newSaslHandshakeResponse, v)
	}
	for v := int16(0); v <= 2; v++ {
		roundTrip(t, fullSaslAuthenticateRequest(v), newSaslAuthenticateRequest, v)
		roundTrip(t, fullSaslAuthenticateResponse(v), newSaslAuthenticateResponse, v)
		// Success carries a null error message and, for PLAIN, no token:
		// empty bytes decode as empty, not nil, since BYTES cannot be null.
		roundTrip(t, &SaslAuthenticateResponse{AuthBytes: []byte{}}, newSaslAuthenticateResponse, v)
		roundTrip(t, &SaslAuthenticateResponse{ErrorMessage: strp(""), AuthBytes: []byte{}}, newSaslAuthenticateResponse, v)
	}
}

func TestSaslTruncated(t *testing.T) {
	for v := int16(0); v <= 1; v++ {
		checkMalformedFails(t, fullSaslHandshakeRequest(), newSaslHandshakeRequest, v)
		checkMalformedFails(t, fullSaslHandshakeResponse(), newSaslHandshakeResponse, v)
	}
	for v := int16(0); v <= 2; v++ {
		checkMalformedFails(t, fullSaslAuthenticateRequest(v), newSaslAuthenticateRequest, v)
		checkMalformedFails(t, fullSaslAuthenticateResponse(v), newSaslAuthenticateResponse, v)
	}
	checkVersionRange(t, newSaslHandshakeRequest)
	checkVersionRange(t, newSaslHandshakeResponse)
	checkVersionRange(t, newSaslAuthenticateRequest)
	checkVersionRange(t, newSaslAuthenticateResponse)
}

// TestSaslGolden is written by hand from the schemas. SaslHandshake is never
// flexible, so even kept tags are not written.
func TestSaslGolden(t *testing.T) {
	hs := &SaslHandshakeRequest{Mechanism: "PLAIN", UnknownTags: someTags()}
	if got, want := hs.AppendTo(nil, 1), fromHexLines(t, "0005 504c41494e"); !bytes.Equal(got, want) {
		t.Errorf("handshake v1:\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
	auth := &SaslAuthenticateRequest{AuthBytes: []byte{0xab}}
	if got, want := auth.AppendTo(nil, 1), fromHexLines(t, "00000001 ab"); !bytes.Equal(got, want) {
		t.Errorf("authenticate v1:\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
	if got, want := auth.AppendTo(nil, 2), fromHexLines(t, "02 ab", "00"); !bytes.Equal(got, want) {
		t.Errorf("authenticate v2:\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}
	resp := fromHexLines(t,
		"0000",             // error_code
		"00",               // error_message null
		"01",               // auth_bytes empty
		"0000000000000064", // session_lifetime_ms 100
		"00",               // no tags
	)
	var r SaslAuthenticateResponse
	if err := r.ReadFrom(resp, 2); err != nil {
		t.Fatal(err)
	}
	if r.ErrorMessage != nil || r.AuthBytes == nil || len(r.AuthBytes) != 0 || r.SessionLifetimeMs != 100 {
		t.Fatalf("decoded %#v", r)
	}
}

// TestSaslAuthBytesNotNullable: BYTES has no null, so -1 is malformed.
func TestSaslAuthBytesNotNullable(t *testing.T) {
	err := new(SaslAuthenticateRequest).ReadFrom(fromHexLines(t, "ffffffff"), 0)
	requireDecodeError(t, err, SaslAuthenticate, 0, 4, wire.ErrMalformed)
}

func FuzzSaslHandshakeRequest(f *testing.F) {
	for v := int16(0); v <= 1; v++ {
		f.Add(byte(v), fullSaslHandshakeRequest().AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, SaslHandshake, newSaslHandshakeRequest, versionFrom(SaslHandshake, sel), data)
	})
}

func FuzzSaslHandshakeResponse(f *testing.F) {
	for v := int16(0); v <= 1; v++ {
		f.Add(byte(v), fullSaslHandshakeResponse().AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, SaslHandshake, newSaslHandshakeResponse, versionFrom(SaslHandshake, sel), data)
	})
}

func FuzzSaslAuthenticateRequest(f *testing.F) {
	for v := int16(0); v <= 2; v++ {
		f.Add(byte(v), fullSaslAuthenticateRequest(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, SaslAuthenticate, newSaslAuthenticateRequest, versionFrom(SaslAuthenticate, sel), data)
	})
}

func FuzzSaslAuthenticateResponse(f *testing.F) {
	for v := int16(0); v <= 2; v++ {
		f.Add(byte(v), fullSaslAuthenticateResponse(v).AppendTo(nil, v))
	}
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		fuzzDecode(t, SaslAuthenticate, newSaslAuthenticateResponse, versionFrom(SaslAuthenticate, sel), data)
	})
}
