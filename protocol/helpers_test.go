package protocol

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// roundTrip encodes msg at version v, decodes the bytes into a fresh message
// made by fresh, and fails with both values and a hex dump when they differ.
// It then encodes the decoded message again and requires identical bytes,
// because retries re-encode and must send what was sent before.
func roundTrip(t *testing.T, msg Message, fresh func() Message, v int16) []byte {
	t.Helper()
	b := msg.AppendTo(nil, v)
	got := fresh()
	if err := got.ReadFrom(b, v); err != nil {
		t.Fatalf("%s v%d: decoding our own bytes: %v\n%s", msg.Key(), v, err, hex.Dump(b))
	}
	if !reflect.DeepEqual(msg, got) {
		t.Fatalf("%s v%d: round trip differs\nsent: %#v\ngot:  %#v\nbytes:\n%s", msg.Key(), v, msg, got, hex.Dump(b))
	}
	again := got.AppendTo(nil, v)
	if string(again) != string(b) {
		t.Fatalf("%s v%d: re-encoding differs\nfirst:\n%s\nsecond:\n%s", msg.Key(), v, hex.Dump(b), hex.Dump(again))
	}
	return b
}

// fuzzDecode is the body of every decoder's fuzz target: any input at any
// supported version must decode or fail with a *DecodeError naming the API
// and version, at an offset inside the input, wrapping wire.ErrTruncated or
// wire.ErrMalformed, never panic; and what decodes must survive an
// encode/decode round trip. The offset and the cause are what a user reads
// in the error, so a wrong one sends them to the wrong byte.
func fuzzDecode(t *testing.T, api APIKey, fresh func() Message, v int16, data []byte) {
	m := fresh()
	if err := m.ReadFrom(data, v); err != nil {
		requireDecodeError(t, err, api, v, len(data), wire.ErrTruncated, wire.ErrMalformed)
		return
	}
	b := m.AppendTo(nil, v)
	m2 := fresh()
	if err := m2.ReadFrom(b, v); err != nil {
		t.Fatalf("%s v%d: re-decoding re-encoded input: %v\n%s", api, v, err, hex.Dump(b))
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("%s v%d: decode(encode(decode(x))) != decode(x)\n%#v\n%#v", api, v, m, m2)
	}
}
