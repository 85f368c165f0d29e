package compression

import (
	"bytes"
	"testing"
)

// zstd's level 3 is its default level, written as DefaultLevel is: a user
// naming Java's default gets the faster compressors of compressZstdDefault.
func TestZstdLevelThreeIsTheDefaultLevel(t *testing.T) {
	in := recordLikeData(24_000, 11)
	def, err := Compress(nil, Zstd, DefaultLevel, in)
	if err != nil {
		t.Fatal(err)
	}
	three, err := Compress(nil, Zstd, 3, in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(def, three) {
		t.Fatalf("zstd level 3 (%d bytes) differs from DefaultLevel (%d bytes)", len(three), len(def))
	}
}

// The default level writes a batch with klauspost's fastest encoder, which
// on text is smaller (and faster) than ours, and with ours a batch that
// encoder cannot shrink, where ours finds the records' framing: a batch of
// random values came out 0.937 of its size before the default tried
// klauspost's first, and would come out whole from klauspost's alone.
func TestZstdDefaultLevelIsKlauspostsFastestUnlessItCannotShrink(t *testing.T) {
	json := recordLikeData(64<<10, 42)
	got, err := Compress(nil, Zstd, DefaultLevel, json)
	if err != nil {
		t.Fatal(err)
	}
	if want := compressZstdKlauspost(nil, zstdFastestLevel, json); !bytes.Equal(got, want) {
		t.Errorf("JSON: %d bytes, not klauspost's fastest encoder's %d", len(got), len(want))
	}
	if ours := appendZstdFrame(nil, json); len(got) >= len(ours) {
		t.Errorf("JSON: %d bytes, no smaller than ours alone, %d", len(got), len(ours))
	}

	values := randomValueRecords(64<<10, 1)
	prefix := []byte("a batch's header")
	got, err = Compress(append([]byte(nil), prefix...), Zstd, DefaultLevel, values)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("random values: the caller's %q is gone: %q", prefix, got[:len(prefix)])
	}
	frame := got[len(prefix):]
	if want := appendZstdFrame(nil, values); !bytes.Equal(frame, want) {
		t.Errorf("random values: %d bytes, not ours, %d", len(frame), len(want))
	}
	if len(frame) > len(values)*95/100 {
		t.Errorf("random values: %d bytes of %d, not the 6%% smaller that the records' framing allows", len(frame), len(values))
	}
}

// The levels klauspost's encoders write carry no content checksum, as
// Java and librdkafka write none: the batch's CRC-32C covers the bytes, and
// hashing them again costs every batch time.
func TestZstdFramesOfEveryEncoderHaveNoContentChecksum(t *testing.T) {
	in := recordLikeData(24_000, 11)
	for _, level := range []int{1, 5, 7, 10} {
		frame, err := Compress(nil, Zstd, level, in)
		if err != nil {
			t.Fatal(err)
		}
		// The frame header descriptor follows the 4-byte magic number;
		// bit 2 is Content_Checksum_flag (RFC 8878, 3.1.1.1.1).
		if frame[4]&0x04 != 0 {
			t.Fatalf("level %d: frame header descriptor %#x has Content_Checksum_flag", level, frame[4])
		}
	}
}
