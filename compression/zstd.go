package compression

import (
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdEncoders holds one pool per klauspost encoder level (SpeedFastest ..
// SpeedBestCompression); zstd level numbers are mapped onto them, so levels
// 3, 4 and 5 share encoders.
var zstdEncoders [zstd.SpeedBestCompression + 1]sync.Pool

// zstdDefaultLevel is zstd's and Java's default level.
const zstdDefaultLevel = 3

// zstdFastestLevel is a zstd level that klauspost maps to its fastest
// encoder (zstd.SpeedFastest).
const zstdFastestLevel = 1

func compressZstd(dst []byte, level int, src []byte) []byte {
	if level == DefaultLevel || level == zstdDefaultLevel {
		return compressZstdDefault(dst, src)
	}
	return compressZstdKlauspost(dst, level, src)
}

// compressZstdDefault is the default level: klauspost's fastest encoder,
// and our own compressor (zstdblock.go, zstdframe.go) for a batch that
// encoder could not shrink by a sixty-fourth.
//
// On text, JSON events or logs or source code, klauspost's fastest
// encoder is both smaller and faster than ours, and than its own encoder
// at zstd's level 3 (BenchmarkZstdDefaultLevel). On a batch of random
// values it gives up within microseconds and stores the batch, where ours
// still finds what repeats from record to record, the records' framing:
// 6% of a batch of 100-byte values, at a quarter of the CPU of klauspost's
// encoder at level 3, which finds the same. Trying klauspost's first costs
// such a batch about 2% more than ours alone.
func compressZstdDefault(dst, src []byte) []byte {
	start := len(dst)
	dst = compressZstdKlauspost(dst, zstdFastestLevel, src)
	if len(dst)-start < len(src)-len(src)/64 {
		return dst
	}
	return appendZstdFrame(dst[:start], src)
}

// compressZstdKlauspost compresses with klauspost's encoder for level.
func compressZstdKlauspost(dst []byte, level int, src []byte) []byte {
	el := zstd.EncoderLevelFromZstd(level)
	pool := &zstdEncoders[el]
	enc, _ := pool.Get().(*zstd.Encoder)
	if enc == nil {
		// The options cannot fail with these constant arguments.
		enc, _ = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(el),
			// One block encoder: EncodeAll runs on the caller's goroutine,
			// and the pool provides one encoder per concurrent caller.
			zstd.WithEncoderConcurrency(1),
			// Batches are small; do not keep a full window of history
			// allocated in every pooled encoder.
			zstd.WithLowerEncoderMem(true),
			// A window of the default batch size. A batch of that size
			// comes out the same with either window, at the same CPU.
			// Larger batches of the benchmarks' JSON compress faster and
			// smaller with it (1 MiB: 1.6x less CPU, 4% smaller), while
			// 1 MiB of random values costs 1.4x more. Values that
			// compress at all are the ones worth compressing.
			zstd.WithWindowSize(64<<10),
			// No content checksum: the batch's CRC-32C already covers
			// the compressed bytes, and the Java client (zstd-jni) and
			// librdkafka write none either. It saves hashing every byte,
			// a few microseconds of the 1-1.5 ms a 64 KiB batch of
			// random values takes (BenchmarkCompressRandomValues).
			zstd.WithEncoderCRC(false),
			// An empty input still becomes a valid frame, which any
			// zstd reader (zstd-jni in Java) can decode.
			zstd.WithZeroFrames(true),
		)
	}
	dst = enc.EncodeAll(src, dst)
	pool.Put(enc)
	return dst
}

// zstdDecoder is a pooled decoder together with the memory bound it was
// last configured with: the bound is a decoder option, so it is changed only
// when a caller passes a different limit.
type zstdDecoder struct {
	d   *zstd.Decoder
	mem int
}

// zstdMinMemory is the smallest bound handed to the decoder. The decoder
// also rejects frames whose declared window exceeds its bound, although
// DecodeAll never allocates that window; Java's streaming zstd declares
// windows of a few MiB even for small batches, so a small limit must not
// reject them. Output beyond a smaller limit is caught after decoding, so
// memory stays below max(limit, zstdMinMemory) plus one block.
const zstdMinMemory = 8 << 20

var zstdDecoders = sync.Pool{New: func() any {
	// The options cannot fail with these constant arguments.
	d, _ := zstd.NewReader(nil,
		// One block decoder: DecodeAll runs on the caller's goroutine.
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxMemory(MaxDecompressedSize),
	)
	return &zstdDecoder{d: d, mem: MaxDecompressedSize}
}}

func decompressZstd(dst, src []byte, limit int) ([]byte, error) {
	dec := zstdDecoders.Get().(*zstdDecoder)
	defer zstdDecoders.Put(dec)
	if mem := max(limit, zstdMinMemory); dec.mem != mem {
		// The decoder checks the bound block by block, and before
		// allocating when a frame declares its size, so a bomb stops early.
		if err := dec.d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(mem))); err != nil {
			return dst, err
		}
		dec.mem = mem
	}
	start := len(dst)
	out, err := dec.d.DecodeAll(src, dst)
	switch {
	case err == zstd.ErrDecoderSizeExceeded || err == zstd.ErrWindowSizeExceeded || len(out)-start > limit:
		err = ErrTooLarge
	case err != nil:
		err = corrupt(Zstd, err)
	default:
		return out, nil
	}
	// DecodeAll may fail with a slice other than dst (an empty one, for a
	// frame that names an unknown dictionary): the caller gets its dst
	// back, as DecompressLimit promises.
	return dst, err
}
