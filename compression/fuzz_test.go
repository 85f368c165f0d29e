package compression

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecompress feeds arbitrary bytes to every decoder (the first byte picks
// the codec), appending to a dst that already holds bytes. Decoding must
// fail as DecompressLimit's doc promises, wrapping ErrCorrupt or ErrTooLarge
// (what record.DecodeBatch passes on to the user), or succeed within the
// limit, appending to dst; whatever decodes must survive a round trip
// through our own encoder.
func FuzzDecompress(f *testing.F) {
	// Seeds stay small: the fuzzer minimizes every new input it finds, in
	// a time that grows with the square of its size, and fuzzes nothing
	// meanwhile. A mutated gzip seed of 3000 bytes of records (1 KiB
	// compressed) took the whole minute minimizing may take.
	for _, c := range allCodecs {
		for _, in := range [][]byte{nil, []byte("k"), recordLikeData(300, 9), make([]byte, 1000)} {
			comp, err := Compress(nil, c, DefaultLevel, in)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(append([]byte{byte(c)}, comp...))
		}
	}
	// Small too, so that each input stays cheap: a bomb that fills a
	// large limit makes every step of its minimization slow.
	const limit = 64 << 10
	dst := []byte("dst")
	// A zstd frame header with nothing after it: klauspost's DecodeAll
	// fails it and returned an empty slice, not dst.
	f.Add([]byte("\x04(\xb5/\xfd1000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		c := Codec(data[0] % 5)
		out, err := DecompressLimit(dst[:len(dst):len(dst)], c, data[1:], limit)
		if !bytes.HasPrefix(out, dst) {
			t.Fatalf("%v: returned %q..., not dst %q with the output after it (err %v)", c, out[:min(len(out), len(dst))], dst, err)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("%v: error %v wraps neither ErrCorrupt nor ErrTooLarge", c, err)
			}
			return
		}
		out = out[len(dst):]
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

// FuzzLZ4Frame compresses arbitrary bytes with our LZ4 frame writer, checks
// the frame and every block against the format's rules (checkLZ4Frame) and
// decodes it with pierrec's Reader, which must give back the input. Seeds
// stay small: the fuzzer minimizes every new input it finds, and stalls for
// seconds on 64 KiB ones; TestLZ4FrameRoundTrip covers the block boundaries.
func FuzzLZ4Frame(f *testing.F) {
	for _, in := range [][]byte{nil, []byte("k"), make([]byte, 13), []byte("abcdefghijklmabcdefghijklm"),
		recordLikeData(3000, 9), randomValueRecords(3000, 10), make([]byte, 1000)} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		frame := appendLZ4Frame(nil, in)
		checkLZ4Frame(t, frame, in)
		out, err := decompressLZ4(nil, frame, len(in))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip differs: %d bytes in, %d out", len(in), len(out))
		}
	})
}
