package compression

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestLZ4FrameHeader checks the constant header, checksum byte included,
// against what pierrec/lz4's Writer writes with the same options, and the
// empty frame (header and EndMark) byte for byte.
func TestLZ4FrameHeader(t *testing.T) {
	theirs, err := compressLZ4Pierrec(nil, DefaultLevel, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ours := appendLZ4Frame(nil, nil); !bytes.Equal(ours, theirs) {
		t.Fatalf("empty frame:\nours   % x\npierrec % x", ours, theirs)
	}
}

// TestLZ4FrameRoundTrip compresses inputs at the edges of the block format
// (too short to hold a match, block-sized, spanning blocks) and of
// compressibility, checks every block against the format's rules, and
// decodes the frame with pierrec's Reader, the decoder Decompress uses.
func TestLZ4FrameRoundTrip(t *testing.T) {
	inputs := []struct {
		name string
		in   []byte
		// stored: how many blocks must be stored uncompressed, or -1 for
		// "any".
		stored int
	}{
		{"empty", nil, 0},
		{"1 byte", []byte("k"), 1},
		{"12 zeros", make([]byte, 12), 1}, // too short for a match
		{"13 zeros", make([]byte, 13), 0}, // the shortest block with one
		{"13 random", randomData(13, 1), 1},
		{"64KiB records", recordLikeData(64<<10, 2), 0},
		{"64KiB+1 records", recordLikeData(64<<10+1, 3), 1}, // the 1-byte block
		{"200KiB records", recordLikeData(200<<10, 4), 0},
		{"70000 zeros", make([]byte, 70_000), 0},
		{"100000 random", randomData(100_000, 5), 2},
		{"random values", randomValueRecords(200<<10, 1), -1},
		{"repetitive", bytes.Repeat([]byte("abcabcabd"), 20_000), 0},
	}
	for _, tc := range inputs {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			frame := appendLZ4Frame(bytes.Clone(prefix), tc.in)
			if !bytes.HasPrefix(frame, prefix) {
				t.Fatal("appendLZ4Frame overwrote dst")
			}
			frame = frame[len(prefix):]
			if stored := checkLZ4Frame(t, frame, tc.in); tc.stored >= 0 && stored != tc.stored {
				t.Errorf("%d blocks stored uncompressed, want %d", stored, tc.stored)
			}
			out, err := decompressLZ4(nil, frame, len(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.in) {
				t.Fatalf("round trip differs: %d bytes in, %d out", len(tc.in), len(out))
			}
		})
	}
}

// TestLZ4FastRatio checks that our compressor gives up no more than 2% of
// size against pierrec's Fast level on compressible data, including text
// broken by random runs (JSON with UUIDs), where skimming ahead too eagerly
// would miss the matches that follow each run.
func TestLZ4FastRatio(t *testing.T) {
	for name, in := range map[string][]byte{
		"benchInput":    benchInput,
		"recordLike":    recordLikeData(300_000, 6),
		"randomValues":  randomValueRecords(64<<10, 1),
		"repetitive":    bytes.Repeat([]byte("abcabcabd"), 20_000),
		"recordLike 1k": recordLikeData(1000, 7),
		"uuidJSON":      uuidJSONData(200_000, 8),
		"Go source":     goSource(t),
	} {
		theirs, err := compressLZ4Pierrec(nil, DefaultLevel, in)
		if err != nil {
			t.Fatal(err)
		}
		ours := appendLZ4Frame(nil, in)
		t.Logf("%s: %d bytes in, ours %d, pierrec %d", name, len(in), len(ours), len(theirs))
		if float64(len(ours)) > 1.02*float64(len(theirs)) {
			t.Errorf("%s: ours %d bytes, pierrec's Fast %d", name, len(ours), len(theirs))
		}
	}
}

// TestLZ4RandomValuesRatio checks what skimming costs where there is almost
// nothing to win: on batches of random values of every size from 20 bytes
// to 1,000, our frame is at most 1% larger than pierrec's Fast level's,
// which looks at every position.
func TestLZ4RandomValuesRatio(t *testing.T) {
	for _, size := range []int{20, 40, 60, 80, 100, 150, 300, 1000} {
		for seed := uint64(1); seed <= 4; seed++ {
			in := randomValueRecordsOf(64<<10, seed, size)
			theirs, err := compressLZ4Pierrec(nil, DefaultLevel, in)
			if err != nil {
				t.Fatal(err)
			}
			ours := appendLZ4Frame(nil, in)
			if float64(len(ours)) > 1.01*float64(len(theirs)) {
				t.Errorf("%d-byte values, seed %d: ours %d bytes, pierrec's Fast %d", size, seed, len(ours), len(theirs))
			}
			if seed == 1 {
				t.Logf("%d-byte values: %d bytes in, ours %d, pierrec %d", size, len(in), len(ours), len(theirs))
			}
		}
	}
}

// goSource returns this package's Go files, concatenated: text with long
// and short repeats, as a log line or a config file has.
func goSource(t *testing.T) []byte {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no Go files here (%v)", err)
	}
	var b []byte
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, data...)
	}
	return b
}

// checkLZ4Frame walks frame as our writer lays it out (the fixed header,
// 64 KiB blocks, the EndMark), checks each block against src and the block
// format's rules, and returns how many blocks were stored uncompressed.
func checkLZ4Frame(t *testing.T, frame, src []byte) (stored int) {
	t.Helper()
	if !bytes.HasPrefix(frame, lz4FrameHeader[:]) {
		t.Fatalf("header % x", frame[:min(len(frame), len(lz4FrameHeader))])
	}
	rest := frame[len(lz4FrameHeader):]
	for {
		if len(rest) < 4 {
			t.Fatalf("frame ends without an EndMark")
		}
		size := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if size == 0 {
			break
		}
		block := src[:min(len(src), lz4BlockMaxSize)]
		src = src[len(block):]
		n := int(size &^ lz4BlockUncompressed)
		if n > len(rest) {
			t.Fatalf("block of %d bytes, %d left", n, len(rest))
		}
		if size&lz4BlockUncompressed != 0 {
			stored++
			if !bytes.Equal(rest[:n], block) {
				t.Fatalf("stored block differs from its %d input bytes", len(block))
			}
		} else {
			if n >= len(block) {
				t.Fatalf("compressed block of %d bytes for %d input bytes", n, len(block))
			}
			if err := checkLZ4Block(rest[:n], len(block)); err != nil {
				t.Fatal(err)
			}
		}
		rest = rest[n:]
	}
	if len(src) != 0 || len(rest) != 0 {
		t.Fatalf("%d input bytes not in the frame, %d bytes after the EndMark", len(src), len(rest))
	}
	return stored
}

// checkLZ4Block walks the sequences of a compressed block without decoding
// them and reports the first break of the format's rules: offsets reach
// only decoded bytes, the last match starts 12 or more bytes before the end
// and the last 5 bytes are literals, and the block decodes to size bytes.
func checkLZ4Block(block []byte, size int) error {
	pos := 0 // decoded bytes so far
	readLength := func(i, n int) (int, int, error) {
		if n < 15 {
			return i, n, nil
		}
		for {
			if i >= len(block) {
				return i, n, fmt.Errorf("length runs past the block")
			}
			b := block[i]
			i++
			n += int(b)
			if b != 255 {
				return i, n, nil
			}
		}
	}
	for i := 0; ; {
		if i >= len(block) {
			return fmt.Errorf("block ends without its last literals")
		}
		token := block[i]
		i++
		var literals int
		var err error
		if i, literals, err = readLength(i, int(token>>4)); err != nil {
			return err
		}
		if i+literals > len(block) {
			return fmt.Errorf("%d literals run past the block", literals)
		}
		i += literals
		pos += literals
		if i == len(block) {
			if pos != size {
				return fmt.Errorf("block decodes to %d bytes, want %d", pos, size)
			}
			if literals < lz4LastLiterals && size > 0 {
				return fmt.Errorf("last sequence has %d literals", literals)
			}
			return nil
		}
		if i+2 > len(block) {
			return fmt.Errorf("offset runs past the block")
		}
		offset := int(binary.LittleEndian.Uint16(block[i:]))
		i += 2
		var matchLen int
		if i, matchLen, err = readLength(i, int(token&15)); err != nil {
			return err
		}
		matchLen += lz4MinMatch
		switch {
		case offset == 0 || offset > pos:
			return fmt.Errorf("offset %d at position %d", offset, pos)
		case pos > size-lz4MatchStartLimit:
			return fmt.Errorf("match starts at %d, less than 12 bytes before the end (%d)", pos, size)
		case pos+matchLen > size-lz4LastLiterals:
			return fmt.Errorf("match ends at %d, in the last 5 bytes (%d)", pos+matchLen, size)
		}
		pos += matchLen
	}
}
