package compression

import (
	"bytes"
	"testing"
)

// FuzzDecompress feeds arbitrary bytes to every decoder (the first byte picks
// the codec). Decoding must fail cleanly or succeed within the limit, and
// whatever decodes must survive a round trip through our own encoder.
func FuzzDecompress(f *testing.F) {
	for _, c := range allCodecs {
		for _, in := range [][]byte{nil, []byte("k"), recordLikeData(3000, 9), make([]byte, 5000)} {
			comp, err := Compress(nil, c, DefaultLevel, in)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte{byte(c)}, comp...))
		}
	}
	const limit = 1 << 20 // keeps each fuzz input cheap
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := Codec(data[0] % 5)
		out, err := DecompressLimit(nil, c, data[1:], limit)
		if err != nil {
			return
		}
		if len(out) > limit {
			t.Fatalf("%v: %d bytes out, limit %d", c, len(out), limit)
		}
		comp, err := Compress(nil, c, DefaultLevel, out)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecompressLimit(nil, c, comp, limit)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%v: re-encoded output does not round trip: %v", c, err)
		}
	})
}
