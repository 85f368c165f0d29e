package compression

import (
	"bytes"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// Kafka's lz4 is the standard LZ4 frame format (KIP-57 fixed the header
// checksum that older Kafka clients computed wrongly). Java writes 64 KiB
// independent blocks, no block checksums, no content size and no content
// checksum; we write the same frame so that every Java version reads it
// (brokers before the content-checksum support would stumble on one).

// lz4Levels maps our levels (index 0 is DefaultLevel) to pierrec's. Only
// the tests still compress at pierrec's Fast: DefaultLevel and Java's
// default, 9, go to appendLZ4Frame (see the level constants).
var lz4Levels = [MaxLZ4Level + 1]lz4.CompressionLevel{
	lz4.Fast, lz4.Level1, lz4.Level2, lz4.Level3, lz4.Level4,
	lz4.Level5, lz4.Level6, lz4.Level7, lz4.Level8, lz4.Fast,
}

// javaLZ4DefaultLevel is Java's default compression.lz4.level, the one
// level at which Kafka's Java client compresses with lz4's fast
// compressor.
const javaLZ4DefaultLevel = 9

type lz4Encoder struct {
	w   *lz4.Writer
	out appendWriter
}

// lz4Encoders holds one pool per level; a Writer keeps its options across
// Reset, and its 64 KiB block buffers come from pierrec's own pool.
var lz4Encoders [MaxLZ4Level + 1]sync.Pool

func compressLZ4(dst []byte, level int, src []byte) ([]byte, error) {
	if level == DefaultLevel || level == javaLZ4DefaultLevel {
		// Our own fast compressor (lz4block.go, lz4frame.go) writes the
		// frame pierrec's Fast level writes, at 2.3 times its speed on a
		// batch of random values; the HC levels stay with pierrec.
		return appendLZ4Frame(dst, src), nil
	}
	return compressLZ4Pierrec(dst, level, src)
}

// compressLZ4Pierrec compresses with pierrec's Writer at our level; at
// DefaultLevel (its Fast mode) it is what the tests compare appendLZ4Frame
// with.
func compressLZ4Pierrec(dst []byte, level int, src []byte) ([]byte, error) {
	pool := &lz4Encoders[level]
	enc, _ := pool.Get().(*lz4Encoder)
	if enc == nil {
		enc = &lz4Encoder{w: lz4.NewWriter(nil)}
		// Concurrency 1 compresses on the calling goroutine: the producer
		// already compresses many batches in parallel.
		if err := enc.w.Apply(
			lz4.BlockSizeOption(lz4.Block64Kb),
			lz4.BlockChecksumOption(false),
			lz4.ChecksumOption(false),
			lz4.ConcurrencyOption(1),
			lz4.CompressionLevelOption(lz4Levels[level]),
		); err != nil {
			return dst, err
		}
	}
	enc.out.b = dst
	enc.w.Reset(&enc.out)
	_, err := enc.w.Write(src)
	if err == nil {
		err = enc.w.Close()
	}
	dst = enc.out.b
	enc.out.b = nil
	enc.w.Reset(nil)
	pool.Put(enc)
	return dst, err
}

type lz4Decoder struct {
	r  *lz4.Reader
	in bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any {
	d := &lz4Decoder{r: lz4.NewReader(nil)}
	// Concurrency 1 decodes on the calling goroutine, without the
	// goroutines and channels of pierrec's concurrent mode.
	_ = d.r.Apply(lz4.ConcurrencyOption(1))
	return d
}}

func decompressLZ4(dst, src []byte, limit int) ([]byte, error) {
	dec := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		dec.r.Reset(nil)
		dec.in.Reset(nil)
		lz4Decoders.Put(dec)
	}()
	dec.in.Reset(src)
	dec.r.Reset(&dec.in)
	out, err := readLimited(dst, dec.r, limit)
	if err != nil && err != ErrTooLarge {
		return out, corrupt(LZ4, err)
	}
	return out, err
}
