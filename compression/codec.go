// Package compression owns the step between a finished record section and
// the bytes that travel in a RecordBatch: it compresses the records of a
// batch with the codec named in the batch attributes (gzip, snappy, lz4,
// zstd) and decompresses them again, in the exact framings Java brokers and
// clients read and write.
//
// Both directions append to a caller-supplied slice and reuse encoder and
// decoder state from pools, so compressing batch after batch into a reused
// buffer does not allocate in steady state.
package compression

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Codec is a compression codec, numbered as in bits 0-2 of the RecordBatch
// attributes.
type Codec int8

// The codecs Kafka defines; the values are the attribute bits.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// ErrUnknownCodec is wrapped by errors about a Codec outside None..Zstd, as
// when a batch's attribute bits name a codec that does not exist.
var ErrUnknownCodec = errors.New("compression: unknown codec")

// ErrCorrupt is wrapped by every Decompress error caused by malformed input,
// together with the codec library's own error when there is one.
var ErrCorrupt = errors.New("compression: corrupt input")

// ErrTooLarge is returned when decompressed output would exceed its limit.
var ErrTooLarge = errors.New("compression: decompressed size exceeds the limit")

var codecNames = [...]string{None: "none", Gzip: "gzip", Snappy: "snappy", LZ4: "lz4", Zstd: "zstd"}

// String returns the name compression.type uses for c: "none", "gzip",
// "snappy", "lz4" or "zstd".
func (c Codec) String() string {
	if c.valid() {
		return codecNames[c]
	}
	return fmt.Sprintf("Codec(%d)", int8(c))
}

func (c Codec) valid() bool { return c >= None && c <= Zstd }

// MarshalText writes c's compression.type name, so that a Codec reads as
// "lz4" rather than 3 in JSON, YAML and any other text a configuration is
// kept in. A Codec outside None..Zstd is an error wrapping ErrUnknownCodec:
// its String, "Codec(9)", would not read back.
func (c Codec) MarshalText() ([]byte, error) {
	if !c.valid() {
		return nil, fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
	}
	return []byte(codecNames[c]), nil
}

// UnmarshalText reads what ParseCodec reads, so that flag.TextVar and the
// decoders of JSON, YAML or TOML fill a Codec from its name.
func (c *Codec) UnmarshalText(text []byte) error {
	parsed, err := ParseCodec(string(text))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// ParseCodec returns the Codec named s, as written in Java's
// compression.type (case is ignored).
func ParseCodec(s string) (Codec, error) {
	for c, name := range codecNames {
		if strings.EqualFold(s, name) {
			return Codec(c), nil
		}
	}
	return None, fmt.Errorf("%w %q (want none, gzip, snappy, lz4 or zstd)", ErrUnknownCodec, s)
}

// Compress appends the compressed form of src to dst in the framing Kafka
// expects for c and returns the extended slice. level is DefaultLevel or a
// level CheckLevel accepts for c. When dst has room for the output, nothing is
// allocated once the pools are warm.
func Compress(dst []byte, c Codec, level int, src []byte) ([]byte, error) {
	if err := CheckLevel(c, level); err != nil {
		return dst, err
	}
	switch c {
	case Gzip:
		return compressGzip(dst, level, src)
	case Snappy:
		return compressSnappy(dst, src), nil
	case LZ4:
		return compressLZ4(dst, level, src)
	case Zstd:
		return compressZstd(dst, level, src), nil
	}
	return append(dst, src...), nil
}

// MaxDecompressedSize bounds what Decompress appends. Kafka limits the
// compressed size of a batch (message.max.bytes, 1 MiB by default), never
// the decompressed one, so the bound is generous; it exists so that a small
// hostile input (a decompression bomb) cannot claim unbounded memory.
const MaxDecompressedSize = 256 << 20

// Decompress appends the decompressed form of src to dst, failing with
// ErrTooLarge beyond MaxDecompressedSize bytes. See DecompressLimit.
func Decompress(dst []byte, c Codec, src []byte) ([]byte, error) {
	return DecompressLimit(dst, c, src, MaxDecompressedSize)
}

// DecompressLimit appends the decompressed form of src to dst, appending at
// most limit bytes: larger output fails with ErrTooLarge, and the decoders
// stop reading once the limit is passed, so memory stays near limit whatever
// the input claims. Malformed input fails with an error wrapping ErrCorrupt;
// it never panics. On error the returned slice is dst with unspecified bytes
// appended.
func DecompressLimit(dst []byte, c Codec, src []byte, limit int) ([]byte, error) {
	// A limit past what a slice can hold limits nothing, and capped here
	// it leaves the decoders' arithmetic (limit+1, to see output pass
	// it) room not to overflow.
	limit = min(max(limit, 0), math.MaxInt-len(dst)-1)
	if len(src) == 0 && c != None {
		// Every codec's framing has a header, even for empty content.
		return dst, fmt.Errorf("%w: %v: empty input", ErrCorrupt, c)
	}
	switch c {
	case None:
		if len(src) > limit {
			return dst, ErrTooLarge
		}
		return append(dst, src...), nil
	case Gzip:
		return decompressGzip(dst, src, limit)
	case Snappy:
		return decompressSnappy(dst, src, limit)
	case LZ4:
		return decompressLZ4(dst, src, limit)
	case Zstd:
		return decompressZstd(dst, src, limit)
	}
	return dst, fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
}

// corrupt wraps a codec library's decoding error so that callers can test
// for ErrCorrupt without knowing the library.
func corrupt(c Codec, err error) error {
	return fmt.Errorf("%w: %v: %w", ErrCorrupt, c, err)
}
