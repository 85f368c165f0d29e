package compression

import (
	"io"
	"slices"
)

// appendWriter is an io.Writer that appends to a slice, letting the
// streaming encoders (gzip, lz4's high-compression levels) write straight
// into the caller's dst. It lives inside a pooled encoder entry so that
// handing it to Reset as an io.Writer does not allocate.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readLimited appends everything r yields to dst, failing with ErrTooLarge
// as soon as more than limit bytes arrive. It never asks r for more than
// limit+1 bytes in total, so a bomb costs at most limit bytes of memory.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		room := start + limit + 1 - len(dst) // one byte more than allowed detects overflow
		if cap(dst) == len(dst) {
			// Grow geometrically, but never past what the limit allows.
			dst = slices.Grow(dst, min(max(len(dst)-start, 4096), room))
		}
		n, err := r.Read(dst[len(dst):min(cap(dst), len(dst)+room)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
