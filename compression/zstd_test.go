package compression

import (
	"bytes"
	"testing"
)

// zstd's level 3 is its default level, written by the same compressor as
// DefaultLevel: a user naming Java's default gets our faster compressor.
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
