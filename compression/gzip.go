package compression

import (
	"bytes"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// gzipEncoder is a pooled gzip writer together with the appendWriter it
// writes to.
type gzipEncoder struct {
	w   *gzip.Writer
	out appendWriter
}

// gzipEncoders holds one pool per level (index 0 is DefaultLevel): a
// gzip.Writer's level is fixed when it is created, and creating one
// allocates hundreds of kilobytes of deflate state.
var gzipEncoders [MaxGzipLevel + 1]sync.Pool

func compressGzip(dst []byte, level int, src []byte) ([]byte, error) {
	if level == GzipDefaultLevel {
		level = DefaultLevel
	}
	pool := &gzipEncoders[level]
	enc, _ := pool.Get().(*gzipEncoder)
	if enc == nil {
		l := level
		if l == DefaultLevel {
			l = gzip.DefaultCompression
		}
		w, err := gzip.NewWriterLevel(nil, l)
		if err != nil {
			return dst, err
		}
		enc = &gzipEncoder{w: w}
	}
	enc.out.b = dst
	enc.w.Reset(&enc.out)
	_, err := enc.w.Write(src)
	if err == nil {
		err = enc.w.Close()
	}
	dst = enc.out.b
	enc.out.b = nil // do not keep the caller's buffer alive from the pool
	pool.Put(enc)
	return dst, err
}

// gzipDecoder is a pooled gzip reader and the bytes.Reader it reads from; a
// bytes.Reader is an io.ByteReader, which spares flate a bufio wrapper.
type gzipDecoder struct {
	r  gzip.Reader
	in bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func decompressGzip(dst, src []byte, limit int) ([]byte, error) {
	dec := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		dec.in.Reset(nil)
		gzipDecoders.Put(dec)
	}()
	dec.in.Reset(src)
	if err := dec.r.Reset(&dec.in); err != nil {
		return dst, corrupt(Gzip, err)
	}
	// Kafka's gzip payload is one member, but Java's GZIPInputStream reads
	// concatenated members too, and so does gzip.Reader by default.
	out, err := readLimited(dst, &dec.r, limit)
	if err != nil && err != ErrTooLarge {
		return out, corrupt(Gzip, err)
	}
	return out, err
}
