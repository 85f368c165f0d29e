package protocol

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gokafka/producer/protocol/wire"
)

// Helpers shared by the tests of every message.

// fromHexLines joins hex strings written one field per line, spaces
// allowed, so that golden bytes can carry a comment per field.
func fromHexLines(t testing.TB, lines ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(lines, ""), " ", ""))
	if err != nil {
		t.Fatalf("bad golden hex: %v", err)
	}
	return b
}

// someTags is a kept unknown tag for a struct with no known tags; its
// number is one no schema of ours uses, and its bytes are arbitrary.
func someTags() []wire.TaggedField {
	return []wire.TaggedField{{Tag: 7, Data: []byte{0xca, 0xfe}}}
}

// versionFrom maps a fuzzer's byte onto api's supported versions.
func versionFrom(api APIKey, sel byte) int16 {
	r := Supported(api)
	return r.Min + int16(int(sel)%int(r.Max-r.Min+1))
}

// requireDecodeError checks that err is a *DecodeError naming api and v
// whose offset lies within the n bytes given to the decoder, and that it
// wraps one of want.
func requireDecodeError(t *testing.T, err error, api APIKey, v int16, n int, want ...error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("%s v%d, %d bytes: error %T %v, want *DecodeError", api, v, n, err, err)
	}
	if de.API != api || de.Version != v {
		t.Fatalf("%s v%d, %d bytes: error names %s v%d", api, v, n, de.API, de.Version)
	}
	if de.Offset < 0 || de.Offset > n {
		t.Fatalf("%s v%d, %d bytes: offset %d outside the input: %v", api, v, n, de.Offset, err)
	}
	if at := fmt.Sprintf("byte %d", de.Offset); strings.Count(de.Error(), at) != 1 {
		t.Fatalf("%s v%d, %d bytes: %q does not say %q once", api, v, n, de.Error(), at)
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	t.Fatalf("%s v%d, %d bytes: %v wraps none of %v", api, v, n, err, want)
}

// checkMalformedFails puts a huge length at every byte of msg's encoding
// at v (checkHugeLengths), then decodes every strict prefix of it: each
// must fail as truncated, never panic, never succeed.
func checkMalformedFails(t *testing.T, msg Message, fresh func() Message, v int16) {
	t.Helper()
	b := msg.AppendTo(nil, v)
	checkHugeLengths(t, msg.Key(), b, fresh, v)
	for n := 0; n < len(b); n++ {
		// A copy with no spare capacity: a decoder reslicing past the end
		// panics here instead of quietly reading the rest of the encoding.
		prefix := append([]byte(nil), b[:n]...)
		err := fresh().ReadFrom(prefix, v)
		if err == nil {
			t.Fatalf("%s v%d: %d of %d bytes decoded without error", msg.Key(), v, n, len(b))
		}
		requireDecodeError(t, err, msg.Key(), v, n, wire.ErrTruncated)
	}
	trailing := append(append([]byte(nil), b...), 0)
	err := fresh().ReadFrom(trailing, v)
	requireDecodeError(t, err, msg.Key(), v, len(trailing), wire.ErrMalformed)
}

// checkHugeLengths decodes b at v with, at each byte in turn, the largest
// length of each width written over it: INT16 and INT32 (strings, bytes,
// arrays), and an UNSIGNED_VARINT of 2^32-1 (compact ones) in place of the
// byte. Whatever the byte was, an array count among them, the decoder must
// succeed or fail as every decoder fails (requireDecodeError), allocating
// no more than the input's size allows (requireAllocationBounded), not the
// gigabytes a count in a short input claims.
func checkHugeLengths(t *testing.T, api APIKey, b []byte, fresh func() Message, v int16) {
	t.Helper()
	huge := [][]byte{{0x7f, 0xff}, {0x7f, 0xff, 0xff, 0xff}}
	for at := range b {
		var inputs [][]byte
		for _, h := range huge {
			if at+len(h) <= len(b) {
				inputs = append(inputs, append(append(slices.Clip(b[:at]), h...), b[at+len(h):]...))
			}
		}
		inputs = append(inputs, append(append(slices.Clip(b[:at]), 0xff, 0xff, 0xff, 0xff, 0x0f), b[at+1:]...))
		for _, in := range inputs {
			var err error
			requireAllocationBounded(t, api, v, len(in), func() { err = fresh().ReadFrom(in, v) })
			if err != nil {
				requireDecodeError(t, err, api, v, len(in), wire.ErrTruncated, wire.ErrMalformed)
			}
		}
	}
}

// checkVersionRange requires ReadFrom to refuse versions just outside the
// API's supported range before reading anything.
func checkVersionRange(t *testing.T, fresh func() Message) {
	t.Helper()
	m := fresh()
	r := Supported(m.Key())
	for _, v := range []int16{r.Min - 1, r.Max + 1} {
		err := fresh().ReadFrom(m.AppendTo(nil, r.Max), v)
		if !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%s v%d: got %v, want ErrUnsupportedVersion", m.Key(), v, err)
		}
	}
}
