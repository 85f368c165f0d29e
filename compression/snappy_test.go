package compression

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/klauspost/compress/s2"
)

// TestSnappyXerialHeader checks our framing byte for byte against the
// layout snappy-java writes, written out by hand.
func TestSnappyXerialHeader(t *testing.T) {
	got, err := Compress(nil, Snappy, DefaultLevel, []byte("abc"))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00, // magic
		0, 0, 0, 1, // version 1
		0, 0, 0, 1, // minimum compatible version 1
		0, 0, 0, 5, // chunk length: the 5 bytes below
		0x03,          // snappy block: uncompressed length 3 (uvarint)
		0x08,          // literal tag: (3-1)<<2 | 0b00
		'a', 'b', 'c', // literal bytes
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}

	// An empty input is one chunk of an empty block: franz-go and sarama
	// refuse a bare header.
	empty, _ := Compress(nil, Snappy, DefaultLevel, nil)
	if wantEmpty := append(want[:16:16], 0, 0, 0, 1, 0x00); !bytes.Equal(empty, wantEmpty) {
		t.Fatalf("empty input: got % x, want % x", empty, wantEmpty)
	}
	if out, err := Decompress(nil, Snappy, empty); err != nil || len(out) != 0 {
		t.Fatalf("empty input: %q, %v", out, err)
	}
	// A bare header, as other writers may send, still reads as empty.
	if out, err := Decompress(nil, Snappy, want[:16]); err != nil || len(out) != 0 {
		t.Fatalf("bare header: %q, %v", out, err)
	}
}

// TestSnappyChunks checks that input is cut into 32 KiB chunks, as
// snappy-java does, each an independent snappy block.
func TestSnappyChunks(t *testing.T) {
	in := recordLikeData(2*xerialChunkSize+1000, 7)
	comp, _ := Compress(nil, Snappy, DefaultLevel, in)
	var sizes []int
	for off := xerialHeaderSize; off < len(comp); {
		n := int(binary.BigEndian.Uint32(comp[off:]))
		block := comp[off+4 : off+4+n]
		d, err := s2.DecodedLen(block)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, d)
		off += 4 + n
	}
	if want := []int{xerialChunkSize, xerialChunkSize, 1000}; !equalInts(sizes, want) {
		t.Fatalf("chunk sizes %v, want %v", sizes, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnappyRawBlock checks that a bare snappy block, without xerial
// framing, is accepted as snappy-java accepts it.
func TestSnappyRawBlock(t *testing.T) {
	in := recordLikeData(10_000, 8)
	out, err := Decompress(nil, Snappy, s2.EncodeSnappy(nil, in))
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("raw block: %d bytes, %v", len(out), err)
	}
}

func TestSnappyBadFraming(t *testing.T) {
	good, _ := Compress(nil, Snappy, DefaultLevel, []byte("abc"))
	longChunk := bytes.Clone(good)
	binary.BigEndian.PutUint32(longChunk[16:], 1000)
	for name, in := range map[string][]byte{
		"short header":    good[:12],
		"short length":    good[:18],
		"chunk too long":  longChunk,
		"truncated block": good[:len(good)-1],
	} {
		if _, err := Decompress(nil, Snappy, in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
