package compression

import (
	"errors"
	"fmt"
)

// DefaultLevel selects each codec's default level. It is zero so that a
// zero-valued configuration means "the default", and it coincides with
// zstd's own convention that level 0 means the default.
const DefaultLevel = 0

// ErrInvalidLevel is wrapped by CheckLevel errors.
var ErrInvalidLevel = errors.New("compression: invalid level")

// Level ranges, mirroring Java's compression.<codec>.level (KIP-390):
//
//   - gzip (compression.gzip.level): 1 (fastest) to 9 (smallest), the
//     compress/flate levels as implemented by klauspost/compress, and
//     GzipDefaultLevel (-1), Java's default, which is DefaultLevel: both
//     are klauspost's default, as Java's -1 is zlib's.
//   - lz4 (compression.lz4.level): 1 to 9. DefaultLevel and 9 are LZ4's
//     fast mode, as in Java, whose default level is 9 and whose 9 alone is
//     lz4's fast compressor: a level copied from a Java configuration
//     compresses as it did there. This package writes it with a compressor
//     of its own (lz4block.go). 1 to 8 are pierrec/lz4's Level1..Level8,
//     its high-compression modes, as Java's levels other than 9 are
//     lz4-java's. Java accepts up to 17, deeper modes than any used here,
//     so higher values are rejected rather than silently lowered.
//   - zstd (compression.zstd.level): the zstd level numbers Java accepts,
//     -131072 to 22. DefaultLevel is zstd's 3, as in Java, and both are
//     written by klauspost's fastest encoder, or by this package's own
//     compressor (zstdblock.go) for a batch that encoder cannot shrink by
//     a sixty-fourth. The others are mapped onto klauspost's four
//     encoders by zstd.EncoderLevelFromZstd (below 3: fastest, 4-5:
//     default, 6-9: better, 10 and up: best).
//   - snappy and none have no levels: only DefaultLevel is accepted.
const (
	// GzipDefaultLevel is Java's default compression.gzip.level (zlib's
	// Z_DEFAULT_COMPRESSION), taken as DefaultLevel so that a level copied
	// from a Java configuration is accepted.
	GzipDefaultLevel = -1
	MinGzipLevel     = 1
	MaxGzipLevel     = 9
	MinLZ4Level      = 1
	MaxLZ4Level      = 9
	MinZstdLevel     = -131072
	MaxZstdLevel     = 22
)

// CheckLevel reports whether level is DefaultLevel or a level c supports; see
// the level constants for the meaning per codec. Configuration validation
// calls it so that a bad level fails when the producer is built, not on the
// first batch.
func CheckLevel(c Codec, level int) error {
	if !c.valid() {
		return fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
	}
	if level == DefaultLevel || (c == Gzip && level == GzipDefaultLevel) {
		return nil
	}
	lo, hi := 0, 0
	switch c {
	case Gzip:
		lo, hi = MinGzipLevel, MaxGzipLevel
	case LZ4:
		lo, hi = MinLZ4Level, MaxLZ4Level
	case Zstd:
		lo, hi = MinZstdLevel, MaxZstdLevel
	default:
		return fmt.Errorf("%w: %v has no levels, got %d", ErrInvalidLevel, c, level)
	}
	if level < lo || level > hi {
		return fmt.Errorf("%w: %v level %d outside %d..%d", ErrInvalidLevel, c, level, lo, hi)
	}
	return nil
}
