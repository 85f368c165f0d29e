package driver

import "math/rand/v2"

// RingSize is how many distinct values (and keys) a run cycles through. A
// batch must never hold the same value twice, or a codec would find the
// repeat and the compressed workloads would measure nothing: 16,384 values
// of 100 bytes are 1.6 MB, more than any client's largest batch or request
// (1 MiB) and than the codecs' windows at their default levels on inputs
// that size.
const RingSize = 16384

// ring is a fixed set of random byte strings handed out in turn. The
// strings are made once, before the clock starts, and never written again,
// so a client may keep them as long as it likes.
type ring struct {
	items [][]byte
	next  int
}

// newRing makes n strings of size random bytes from a fixed seed, so every
// client sends the same bytes; nil when size is 0.
func newRing(n, size int, seed uint64) *ring {
	if size == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	backing := make([]byte, n*size)
	for i := range backing {
		backing[i] = byte(rng.Uint32())
	}
	r := &ring{items: make([][]byte, n)}
	for i := range r.items {
		r.items[i] = backing[i*size : (i+1)*size : (i+1)*size]
	}
	return r
}

// take returns the next string, or nil from a nil ring (no key). Each
// producing goroutine has its own ring cursor (see cursor).
func (r *ring) take() []byte {
	if r == nil {
		return nil
	}
	b := r.items[r.next]
	r.next++
	if r.next == len(r.items) {
		r.next = 0
	}
	return b
}

// cursor is a goroutine's own position in the shared rings, starting at
// offset so that concurrent senders do not send the same values at once.
func (r *ring) cursor(offset int) *ring {
	if r == nil {
		return nil
	}
	return &ring{items: r.items, next: offset % len(r.items)}
}

// PayloadLines writes n values of size bytes for a tool that reads its
// payloads from a text file, one per line (the Java producer's
// ProducerPerformance --payload-file): random bytes from 1 to 127 except the
// newline, the most random text that survives its UTF-8 decoding. Seeded
// like the values the Go clients send.
func PayloadLines(n, size int) []byte {
	rng := rand.New(rand.NewPCG(valueSeed, valueSeed^0x9e3779b97f4a7c15))
	out := make([]byte, 0, n*(size+1))
	for range n {
		for range size {
			c := byte(1 + rng.IntN(127))
			if c == '\n' {
				c = '\r'
			}
			out = append(out, c)
		}
		out = append(out, '\n')
	}
	return out
}

const (
	valueSeed = 1
	keySeed   = 2
)
