package protocol

import (
	"encoding/hex"
	"reflect"
	"runtime/metrics"
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
// wire.ErrMalformed, never panic, allocating no more than a multiple of the
// input's size (requireAllocationBounded); and what decodes must survive an
// encode/decode round trip. The offset and the cause are what a user reads
// in the error, so a wrong one sends them to the wrong byte.
func fuzzDecode(t *testing.T, api APIKey, fresh func() Message, v int16, data []byte) {
	var m Message
	var err error
	requireAllocationBounded(t, api, v, len(data), func() { m = fresh(); err = m.ReadFrom(data, v) })
	if err != nil {
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

// maxDecodeAllocation bounds what decoding n bytes may allocate: a count
// checked against nothing, which claims gigabytes from a few bytes, goes
// far past it. A count checked against the bytes left but not against its
// element's least size does not: an element's struct is 80 to 112 bytes,
// little more than this bound's 64 a byte, and the constant term dominates
// for messages as short as the tests'. The constant also covers the heap's
// accounting, which counts a span's objects together when the span leaves
// a P's cache (mcache), not each object as it is handed out.
func maxDecodeAllocation(n int) uint64 { return 64*uint64(n) + 64<<10 }

// requireAllocationBounded runs decode, which decodes n bytes of api at
// version v, and fails if the heap handed out more than
// maxDecodeAllocation(n) meanwhile. The heap's count runs ahead of what
// was asked for by up to a span per size class, and a few hundred KB
// now and then: decode runs up to three times, and only an allocation
// over the bound every time fails, as a decoder's would, always the same.
func requireAllocationBounded(t *testing.T, api APIKey, v int16, n int, decode func()) {
	t.Helper()
	var got uint64
	for range 3 {
		before := heapAllocated()
		decode()
		if got = heapAllocated() - before; got <= maxDecodeAllocation(n) {
			return
		}
	}
	t.Fatalf("%s v%d: decoding %d bytes allocated %d bytes, over %d", api, v, n, got, maxDecodeAllocation(n))
}

// heapAllocated is the bytes the heap has handed out since the program
// started. runtime/metrics reads it without stopping the world, which
// runtime.ReadMemStats would do twice for every input fuzzed.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
