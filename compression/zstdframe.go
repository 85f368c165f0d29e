package compression

import (
	"encoding/binary"
	"math"
	"slices"
	"sync"

	"github.com/klauspost/compress/huff0"
)

// This file writes the zstd frame (RFC 8878) around zstdblock.go's
// sequences: the frame header, and for each block its header, the Literals
// section (Huffman-coded by klauspost's huff0, whose output is the format's
// own) and the Sequences section (zstdseq.go). A block that would not come
// out smaller is stored as is.

const (
	zstdMagic = 0xfd2fb528
	// zstdWindowDescriptor declares a 64 KiB window (exponent 6 above the
	// 1 KiB minimum, no mantissa): no match reaches further back than the
	// start of its block. A decoder then needs 64 KiB of history, however
	// large the batch.
	zstdWindowDescriptor = (16 - 10) << 3

	zstdBlockRaw        = 0
	zstdBlockCompressed = 2

	zstdLiteralsRaw        = 0
	zstdLiteralsRLE        = 1
	zstdLiteralsCompressed = 2

	// zstdHuffMinLiterals: fewer literals are stored as they are; a
	// Huffman table alone costs more than coding them could save.
	zstdHuffMinLiterals = 16
	// zstdHuff4Streams: from this many literals on, they are coded as four
	// streams, which decoders decode in parallel.
	zstdHuff4Streams = 1024
	// zstdEntropySampleStep: mayHuffmanCode looks at every fourth byte.
	zstdEntropySampleStep = 4
)

var zstdBlockEncoders = sync.Pool{New: func() any {
	// Compression must save a sixteenth of the literals to be used, as
	// in klauspost's encoder; each block writes its own table.
	return &zstdBlockEncoder{huff: huff0.Scratch{WantLogLess: 4, Reuse: huff0.ReusePolicyNone}}
}}

// appendZstdFrame appends src to dst as one zstd frame of blocks of at
// most 64 KiB, with the content size and without a checksum.
func appendZstdFrame(dst, src []byte) []byte {
	blocks := max(1, (len(src)+zstdBlockMax-1)/zstdBlockMax)
	// Grow once for the worst case, every block stored: the blocks are
	// written in place.
	dst = slices.Grow(dst, 4+2+8+3*blocks+len(src))
	dst = binary.LittleEndian.AppendUint32(dst, zstdMagic)
	dst = appendZstdFrameHeader(dst, uint64(len(src)))
	if len(src) == 0 {
		h := zstdBlockHeader(true, zstdBlockRaw, 0)
		return append(dst, h[:]...)
	}
	e := zstdBlockEncoders.Get().(*zstdBlockEncoder)
	e.rep = 1 // the decoder's first repeat offset at the start of a frame
	for len(src) > 0 {
		block := src[:min(len(src), zstdBlockMax)]
		src = src[len(block):]
		dst = e.appendBlock(dst, block, len(src) == 0)
	}
	zstdBlockEncoders.Put(e)
	return dst
}

// appendZstdFrameHeader appends the Frame_Header_Descriptor, the window
// and the content size in the fewest bytes that hold it.
func appendZstdFrameHeader(dst []byte, size uint64) []byte {
	// The descriptor's top 2 bits say how large the size field is; no
	// single segment, no checksum, no dictionary.
	switch {
	case size >= 256 && size < 256+1<<16:
		return binary.LittleEndian.AppendUint16(append(dst, 1<<6, zstdWindowDescriptor), uint16(size-256))
	case size < 1<<32:
		return binary.LittleEndian.AppendUint32(append(dst, 2<<6, zstdWindowDescriptor), uint32(size))
	default:
		return binary.LittleEndian.AppendUint64(append(dst, 3<<6, zstdWindowDescriptor), size)
	}
}

// zstdBlockHeader is a block header: the last-block flag, the type and the
// size, in 3 little-endian bytes.
func zstdBlockHeader(last bool, blockType, size int) [3]byte {
	h := blockType<<1 | size<<3
	if last {
		h |= 1
	}
	return [3]byte{byte(h), byte(h >> 8), byte(h >> 16)}
}

// appendBlock appends block as a compressed block, or as a raw one when
// compressing does not make it smaller.
func (e *zstdBlockEncoder) appendBlock(dst, block []byte, last bool) []byte {
	start, rep := len(dst), e.rep
	dst = append(dst, 0, 0, 0) // the header, once the size is known
	if matched := e.findSequences(block); matched >= zstdMinMatched+len(block)>>6 {
		dst = e.appendLiterals(dst, e.lits)
		dst = e.appendSequences(dst)
	} else {
		// Too little matched to pay for sequences: all literals.
		e.rep = rep
		dst = e.appendLiterals(dst, block)
		e.seqs = e.seqs[:0]
		dst = e.appendSequences(dst)
	}
	if size := len(dst) - start - 3; size < len(block) {
		h := zstdBlockHeader(last, zstdBlockCompressed, size)
		copy(dst[start:], h[:])
		return dst
	}
	// Stored as is, the block tells the decoder nothing about offsets.
	e.rep = rep
	h := zstdBlockHeader(last, zstdBlockRaw, len(block))
	return append(append(dst[:start], h[:]...), block...)
}

// appendLiterals appends the Literals section for lits: Huffman-coded when
// that is smaller, one repeated byte, or as they are.
func (e *zstdBlockEncoder) appendLiterals(dst, lits []byte) []byte {
	if len(lits) >= zstdHuffMinLiterals && mayHuffmanCode(lits) {
		var out []byte
		var err error
		single := len(lits) < zstdHuff4Streams
		if single {
			out, _, err = huff0.Compress1X(lits, &e.huff)
		} else {
			out, _, err = huff0.Compress4X(lits, &e.huff)
		}
		switch err {
		case nil:
			if h, n := compressedLiteralsHeader(len(lits), len(out), single); n+len(out) < literalsHeaderSize(len(lits))+len(lits) {
				for i := range n {
					dst = append(dst, byte(h>>(8*i)))
				}
				return append(dst, out...)
			}
		case huff0.ErrUseRLE:
			return append(appendLiteralsHeader(dst, zstdLiteralsRLE, len(lits)), lits[0])
		}
		// Otherwise (huff0.ErrIncompressible, or any other refusal) the
		// literals are stored as they are.
	}
	return append(appendLiteralsHeader(dst, zstdLiteralsRaw, len(lits)), lits...)
}

// appendLiteralsHeader appends the header of raw or RLE literals: the type
// in 2 bits, then the size's length in 1 or 2 bits, then the size.
func appendLiteralsHeader(dst []byte, litType, size int) []byte {
	switch {
	case size < 1<<5:
		return append(dst, byte(litType|size<<3))
	case size < 1<<12:
		h := litType | 1<<2 | size<<4
		return append(dst, byte(h), byte(h>>8))
	default:
		h := litType | 3<<2 | size<<4
		return append(dst, byte(h), byte(h>>8), byte(h>>16))
	}
}

// literalsHeaderSize is the size of appendLiteralsHeader's header.
func literalsHeaderSize(size int) int {
	switch {
	case size < 1<<5:
		return 1
	case size < 1<<12:
		return 2
	default:
		return 3
	}
}

// compressedLiteralsHeader is the header of Huffman-coded literals: the
// type, the size format (one stream, or four with both sizes in 10, 14 or
// 18 bits), the decoded size and the coded size (table included), to be
// written in its n low bytes, little-endian. A single stream has the one
// format that says so only with both sizes below 1,024 bytes, which holds
// for every header written: a single stream codes fewer than 1,024
// literals (zstdHuff4Streams), and coded literals are kept only if smaller
// than the literals themselves, so a header saying four streams for a
// single one is always discarded.
func compressedLiteralsHeader(size, coded int, single bool) (h uint64, n int) {
	var format, sizeBits int
	switch {
	case size < 1<<10 && coded < 1<<10:
		format, sizeBits, n = 1, 10, 3
		if single {
			format = 0
		}
	case size < 1<<14 && coded < 1<<14:
		format, sizeBits, n = 2, 14, 4
	default:
		format, sizeBits, n = 3, 18, 5
	}
	h = uint64(zstdLiteralsCompressed|format<<2) | uint64(size)<<4 | uint64(coded)<<(4+sizeBits)
	return h, n
}

// mayHuffmanCode reports whether Huffman coding might save the sixteenth
// of lits that huff0 is asked for, from the entropy of a sample of them
// (every fourth byte): the code cannot beat the entropy. On random values
// the literals are random bytes with a little framing between them, whose
// entropy is close to 8 bits; huff0 would build a table and code them all
// before finding that out, a third of the time the block took.
func mayHuffmanCode(lits []byte) bool {
	var counts [256]uint32
	n := 0
	for i := 0; i < len(lits); i += zstdEntropySampleStep {
		counts[lits[i]]++
		n++
	}
	// n·H = n·log2(n) - Σ c·log2(c), in bits.
	sum := 0.0
	for _, c := range counts {
		if c > 1 {
			sum += float64(c) * math.Log2(float64(c))
		}
	}
	entropyBits := float64(n)*math.Log2(float64(n)) - sum
	return entropyBits < float64(n)*8*15/16
}
