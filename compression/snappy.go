package compression

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"
)

// Java producers write snappy through snappy-java's SnappyOutputStream, whose
// "xerial" framing is what Java brokers and consumers expect:
//
//	header: 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00   8-byte magic
//	        int32 BE version = 1
//	        int32 BE minimum compatible version = 1
//	chunks: int32 BE length, then a raw snappy block of that length
//
// snappy-java cuts its input into 32 KiB chunks; we do the same so that
// readers that size their buffers by that habit are served as they expect.
// A bare snappy block (no framing) is what some non-Java clients send;
// snappy-java reads it too, and so does Decompress.
var xerialMagic = [8]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const (
	xerialHeaderSize = len(xerialMagic) + 8
	xerialVersion    = 1
	xerialCompatible = 1
	xerialChunkSize  = 32 << 10
)

func compressSnappy(dst, src []byte) []byte {
	dst = append(dst, xerialMagic[:]...)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	dst = binary.BigEndian.AppendUint32(dst, xerialCompatible)
	// At least one chunk: franz-go and sarama take a bare header (16
	// bytes, no chunk) for a raw snappy block and refuse it, so an empty
	// input is one chunk holding an empty block, which every reader takes.
	for first := true; first || len(src) > 0; first = false {
		chunk := src[:min(len(src), xerialChunkSize)]
		src = src[len(chunk):]
		// Encode in place after a 4-byte length slot: EncodeSnappy writes
		// into its dst argument when it has capacity for the worst case.
		dst = slices.Grow(dst, 4+s2.MaxEncodedLen(len(chunk)))
		at := len(dst)
		block := s2.EncodeSnappy(dst[at+4:at+4], chunk)
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(block)))
		dst = dst[:at+4+len(block)]
	}
	return dst
}

func decompressSnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) < len(xerialMagic) || !bytes.Equal(src[:len(xerialMagic)], xerialMagic[:]) {
		return appendSnappyBlock(dst, src, limit)
	}
	if len(src) < xerialHeaderSize {
		return dst, fmt.Errorf("%w: snappy: xerial header of %d bytes, want %d", ErrCorrupt, len(src), xerialHeaderSize)
	}
	// Like snappy-java, accept any version: the chunk layout never changed.
	start := len(dst)
	for off := xerialHeaderSize; off < len(src); {
		if len(src)-off < 4 {
			return dst, fmt.Errorf("%w: snappy: byte %d: truncated chunk length", ErrCorrupt, off)
		}
		n := int(binary.BigEndian.Uint32(src[off:]))
		if n < 0 || n > len(src)-off-4 {
			return dst, fmt.Errorf("%w: snappy: byte %d: chunk length %d exceeds the %d bytes that remain", ErrCorrupt, off, n, len(src)-off-4)
		}
		var err error
		if dst, err = appendSnappyBlock(dst, src[off+4:off+4+n], limit-(len(dst)-start)); err != nil {
			return dst, err
		}
		off += 4 + n
	}
	return dst, nil
}

// appendSnappyBlock decodes one raw snappy block. The block states its
// decoded length up front, so the limit is checked before allocating.
func appendSnappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return dst, corrupt(Snappy, err)
	}
	if n > limit {
		return dst, ErrTooLarge
	}
	dst = slices.Grow(dst, n)
	at := len(dst)
	if _, err := s2.Decode(dst[at:at+n], block); err != nil {
		return dst, corrupt(Snappy, err)
	}
	return dst[:at+n], nil
}
