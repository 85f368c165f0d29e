package compression

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// TestZstdFrameRoundTrip compresses inputs at the edges of the block
// layout (too short to search, block-sized, spanning blocks) and of
// compressibility, checks the frame's layout (checkZstdFrame), and decodes
// it with klauspost's decoder, the one Decompress uses.
func TestZstdFrameRoundTrip(t *testing.T) {
	inputs := []struct {
		name string
		in   []byte
		// raw: how many blocks must be stored as they are, or -1 for
		// "any".
		raw int
	}{
		{"empty", nil, 1}, // one empty raw block
		{"1 byte", []byte("k"), 1},
		{"8 zeros", make([]byte, 8), -1}, // too short to search
		{"40 zeros", make([]byte, 40), 0},
		{"13 random", randomData(13, 1), 1},
		{"64KiB records", recordLikeData(64<<10, 2), 0},
		{"64KiB+1 records", recordLikeData(64<<10+1, 3), 1}, // the 1-byte block
		{"200KiB records", recordLikeData(200<<10, 4), 0},
		{"70000 zeros", make([]byte, 70_000), 0},
		{"100000 random", randomData(100_000, 5), 2},
		{"random values", randomValueRecords(200<<10, 1), 0},
		{"repetitive", bytes.Repeat([]byte("abcabcabd"), 20_000), 0},
		{"long literals", append(randomData(70_000, 6), randomData(70_000, 6)...), -1},
	}
	for _, tc := range inputs {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte("prefix")
			frame := appendZstdFrame(bytes.Clone(prefix), tc.in)
			if !bytes.HasPrefix(frame, prefix) {
				t.Fatal("appendZstdFrame overwrote dst")
			}
			frame = frame[len(prefix):]
			blocks := checkZstdFrame(t, frame, len(tc.in))
			raw := 0
			for _, b := range blocks {
				if b.blockType == zstdBlockRaw {
					raw++
				}
			}
			if tc.raw >= 0 && raw != tc.raw {
				t.Errorf("%d blocks stored as they are, want %d", raw, tc.raw)
			}
			out, err := decompressZstd(nil, frame, len(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tc.in) {
				t.Fatalf("round trip differs: %d bytes in, %d out", len(tc.in), len(out))
			}
		})
	}
}

// TestZstdTableModes checks that each way of coding a block's sequence
// codes is chosen where it should be, and decodes: the predefined tables
// for a few sequences, an RLE table where every sequence has the same
// code, and tables fitted to the block (with their descriptions) for many
// varied sequences.
func TestZstdTableModes(t *testing.T) {
	seen := map[byte]bool{}
	for name, in := range map[string][]byte{
		"few sequences": []byte("the quick brown fox jumps; the quick brown fox jumps again, " +
			"over the lazy dog and over the lazy dog, then 12345678 and 12345678"),
		"one distance":  bytes.Repeat([]byte("0123456789"), 1000),
		"records":       recordLikeData(64<<10, 7),
		"random values": randomValueRecords(64<<10, 8),
	} {
		frame := appendZstdFrame(nil, in)
		for _, b := range checkZstdFrame(t, frame, len(in)) {
			if b.sequences > 0 {
				for _, shift := range []int{6, 4, 2} {
					seen[b.modes>>shift&3] = true
				}
			}
		}
		if out, err := decompressZstd(nil, frame, len(in)); err != nil || !bytes.Equal(out, in) {
			t.Fatalf("%s: round trip: %v", name, err)
		}
	}
	for mode, name := range map[byte]string{fsePredefined: "predefined", fseRLE: "RLE", fseCompressed: "fitted"} {
		if !seen[mode] {
			t.Errorf("no block used a %s table", name)
		}
	}
}

// TestZstdRatio checks that our compressor gives up no more than 3% of size
// against klauspost's encoder at zstd's default level (3), on record-like
// text and on random values, where it is 0.1-0.4% smaller.
func TestZstdRatio(t *testing.T) {
	for name, in := range map[string][]byte{
		"benchInput":       benchInput,
		"recordLike":       recordLikeData(300_000, 6),
		"randomValues":     randomValueRecords(64<<10, 1),
		"randomValues 40k": randomValueRecords(40_000, 3),
		"repetitive":       bytes.Repeat([]byte("abcabcabd"), 20_000),
		"recordLike 1k":    recordLikeData(1000, 7),
	} {
		theirs := compressZstdKlauspost(nil, zstdDefaultLevel, in)
		ours := appendZstdFrame(nil, in)
		t.Logf("%s: %d bytes in, ours %d, klauspost %d", name, len(in), len(ours), len(theirs))
		// A few bytes of frame header more: the window and the content
		// size are always written.
		if float64(len(ours)) > 1.03*float64(len(theirs))+8 {
			t.Errorf("%s: ours %d bytes, klauspost's %d", name, len(ours), len(theirs))
		}
	}
}

// TestMayHuffmanCode checks the entropy estimate that decides whether
// literals go to huff0: random bytes, alone or with a little framing
// between them, cannot be coded a sixteenth smaller; text and a skewed
// distribution can.
func TestMayHuffmanCode(t *testing.T) {
	skewed := make([]byte, 10_000)
	for i := range skewed {
		skewed[i] = byte(i % 7 * (i % 3))
	}
	for _, tc := range []struct {
		name string
		lits []byte
		want bool
	}{
		{"random bytes", randomData(60_000, 11), false},
		{"random values", randomValueRecords(60_000, 12), false},
		{"record-like text", recordLikeData(60_000, 13), true},
		{"skewed", skewed, true},
	} {
		if got := mayHuffmanCode(tc.lits); got != tc.want {
			t.Errorf("%s: mayHuffmanCode = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFSENormalize checks normalize on random histograms: the counts sum
// to the table size, every code present has at least 1, and absent codes
// have none.
func TestFSENormalize(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var norm [fseMaxSymbols]int16
	for range 2000 {
		counts := make([]uint32, 1+rng.IntN(fseMaxSymbols))
		total := 0
		for s := range counts {
			if rng.IntN(3) > 0 {
				// Skewed: a few large counts among many small ones.
				counts[s] = uint32(rng.IntN(4) * rng.IntN(1+rng.IntN(5000)))
				total += int(counts[s])
			}
		}
		if total < 2 {
			continue
		}
		tableLog := fseTableLog(total, len(counts)-1, fseMaxTableLog)
		normalize(norm[:len(counts)], counts, total, tableLog)
		sum := 0
		for s, c := range counts {
			n := int(norm[s])
			if (c == 0) != (n == 0) || n < 0 {
				t.Fatalf("count %d normalized to %d (counts %v, log %d)", c, n, counts, tableLog)
			}
			sum += n
		}
		if sum != 1<<tableLog {
			t.Fatalf("normalized counts sum to %d, want %d (counts %v)", sum, 1<<tableLog, counts)
		}
	}
}

// FuzzZstdFrame compresses arbitrary bytes with our zstd frame writer,
// checks the frame's layout and decodes it with klauspost's decoder,
// which must give back the input.
func FuzzZstdFrame(f *testing.F) {
	for _, in := range [][]byte{nil, []byte("k"), make([]byte, 9), []byte("abcdefghijklmabcdefghijklm"),
		recordLikeData(3000, 9), randomValueRecords(3000, 10), make([]byte, 1000)} {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		frame := appendZstdFrame(nil, in)
		checkZstdFrame(t, frame, len(in))
		out, err := decompressZstd(nil, frame, len(in))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip differs: %d bytes in, %d out", len(in), len(out))
		}
	})
}

// zstdBlockInfo is what checkZstdFrame reads of a block.
type zstdBlockInfo struct {
	blockType int
	sequences int
	modes     byte
}

// checkZstdFrame walks frame as our writer lays it out: the header with a
// 64 KiB window and the content size (which must be size), then blocks of
// at most 64 KiB, the last one flagged, each compressed block smaller than
// its content. It reads each compressed block's sections as far as the
// sequence codes' modes.
func checkZstdFrame(t *testing.T, frame []byte, size int) []zstdBlockInfo {
	t.Helper()
	if len(frame) < 6 || binary.LittleEndian.Uint32(frame) != zstdMagic {
		t.Fatalf("no zstd magic: % x", frame[:min(len(frame), 6)])
	}
	descriptor := frame[4]
	if descriptor&0x3f != 0 || frame[5] != zstdWindowDescriptor {
		t.Fatalf("descriptor %#x, window %#x", descriptor, frame[5])
	}
	rest := frame[6:]
	var contentSize uint64
	switch descriptor >> 6 {
	case 1:
		contentSize = uint64(binary.LittleEndian.Uint16(rest)) + 256
		rest = rest[2:]
	case 2:
		contentSize = uint64(binary.LittleEndian.Uint32(rest))
		rest = rest[4:]
	case 3:
		contentSize = binary.LittleEndian.Uint64(rest)
		rest = rest[8:]
	default:
		t.Fatalf("no content size")
	}
	if contentSize != uint64(size) {
		t.Fatalf("content size %d, want %d", contentSize, size)
	}
	var blocks []zstdBlockInfo
	for last := false; !last; {
		if len(rest) < 3 {
			t.Fatalf("frame ends without a last block")
		}
		h := int(rest[0]) | int(rest[1])<<8 | int(rest[2])<<16
		rest = rest[3:]
		last = h&1 == 1
		b := zstdBlockInfo{blockType: h >> 1 & 3}
		n := h >> 3
		if b.blockType == zstdBlockRaw {
			size -= n
		} else {
			// The content of a compressed block is not known here; what it
			// stands for is at most 64 KiB, and it must be smaller.
			taken := min(size, zstdBlockMax)
			size -= taken
			if n >= taken {
				t.Fatalf("compressed block of %d bytes for %d", n, taken)
			}
			b.sequences, b.modes = readZstdSections(t, rest[:n])
		}
		if b.blockType != zstdBlockRaw && b.blockType != zstdBlockCompressed || n > zstdBlockMax || n > len(rest) {
			t.Fatalf("block type %d of %d bytes, %d left", b.blockType, n, len(rest))
		}
		rest = rest[n:]
		blocks = append(blocks, b)
	}
	if len(rest) != 0 || size != 0 {
		t.Fatalf("%d bytes after the last block, %d content bytes unaccounted for", len(rest), size)
	}
	return blocks
}

// readZstdSections skips a compressed block's Literals section and
// returns the number of sequences and, if any, the modes byte.
func readZstdSections(t *testing.T, block []byte) (sequences int, modes byte) {
	t.Helper()
	litType, format := int(block[0]&3), int(block[0]>>2&3)
	var header, stored int
	switch litType {
	case zstdLiteralsRaw, zstdLiteralsRLE:
		var size int
		switch format {
		case 0, 2:
			header, size = 1, int(block[0]>>3)
		case 1:
			header, size = 2, int(block[0]>>4)|int(block[1])<<4
		case 3:
			header, size = 3, int(block[0]>>4)|int(block[1])<<4|int(block[2])<<12
		}
		stored = size
		if litType == zstdLiteralsRLE {
			stored = 1
		}
	case zstdLiteralsCompressed:
		sizeBits := [4]int{10, 10, 14, 18}[format]
		header = [4]int{3, 3, 4, 5}[format]
		var h uint64
		for i := range header {
			h |= uint64(block[i]) << (8 * i)
		}
		stored = int(h >> (4 + sizeBits) & (1<<sizeBits - 1))
	default:
		t.Fatalf("literals type %d", litType)
	}
	rest := block[header+stored:]
	switch {
	case rest[0] < 128:
		sequences, rest = int(rest[0]), rest[1:]
	case rest[0] < 255:
		sequences, rest = int(rest[0]-128)<<8|int(rest[1]), rest[2:]
	default:
		sequences, rest = int(binary.LittleEndian.Uint16(rest[1:]))+0x7f00, rest[3:]
	}
	if sequences > 0 {
		modes = rest[0]
	}
	return sequences, modes
}
