package compression

import (
	"encoding/binary"
	"slices"
	"sync"
)

// This file writes the LZ4 frame (lz4/lz4, doc/lz4_Frame_format.md) around
// lz4block.go's blocks, with exactly the options the pierrec/lz4 Writer is
// given in lz4.go for the other levels, and that Kafka's broker reads with
// lz4-java's KafkaLZ4BlockInputStream.

// lz4FrameHeader is the frame header for our fixed options:
//
//   - the magic number 0x184D2204, little-endian;
//   - FLG 0x60: version 01, independent blocks, no block checksums, no
//     content size, no content checksum, no dictionary;
//   - BD 0x40: blocks of at most 64 KiB;
//   - HC 0x82: the header checksum, (xxHash32(FLG BD, seed 0) >> 8) & 0xFF.
//
// The options never change, so neither does the checksum: it is a constant
// here rather than an xxHash32 implementation, and TestLZ4FrameHeader checks
// it against the header pierrec/lz4 writes.
var lz4FrameHeader = [...]byte{0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82}

const (
	lz4BlockMaxSize = 64 << 10
	// lz4BlockUncompressed is set in a block's size when the block is
	// stored as is.
	lz4BlockUncompressed = 1 << 31
	// lz4EndMarkSize is the 4 zero bytes (a block of size 0) ending a frame.
	lz4EndMarkSize = 4
)

var lz4BlockCompressors = sync.Pool{New: func() any { return new(lz4BlockCompressor) }}

// appendLZ4Frame appends src to dst as an LZ4 frame of 64 KiB blocks, each
// compressed, or stored as is when compressing would not make it smaller.
func appendLZ4Frame(dst, src []byte) []byte {
	// Grow once for the worst case, every block stored: the blocks are
	// written in place, and a batch's buffer usually has room already.
	blocks := (len(src) + lz4BlockMaxSize - 1) / lz4BlockMaxSize
	dst = slices.Grow(dst, len(lz4FrameHeader)+4*blocks+len(src)+lz4EndMarkSize)
	dst = append(dst, lz4FrameHeader[:]...)

	c := lz4BlockCompressors.Get().(*lz4BlockCompressor)
	for len(src) > 0 {
		block := src[:min(len(src), lz4BlockMaxSize)]
		src = src[len(block):]
		// Compress into the room past dst's length, just after where the
		// block's size goes, and into one byte less than the block: a
		// compressed block must be smaller to be worth it. The size is
		// appended afterwards, into the 4 bytes left for it.
		start := len(dst) + 4
		if n, ok := c.compressBlock(dst[start:start+len(block)-1], block); ok {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
			dst = dst[:start+n]
		} else {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(len(block))|lz4BlockUncompressed)
			dst = append(dst, block...)
		}
	}
	lz4BlockCompressors.Put(c)
	return append(dst, 0, 0, 0, 0) // the EndMark
}
