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

// Values is the ring of values of size bytes that every Go client sends,
// by index: what a consumer of a run's topic finds, each value as many
// times as ValueCounts says.
func Values(size int) [][]byte {
	return newRing(RingSize, size, valueSeed).items
}

// ValueCounts is how many times a run with settings s sends each value of
// the ring (Values), the warm-up record included. Values repeat every
// RingSize records, so a run that lost one record and wrote another twice
// still passes a count of its topic's records, but not a count of its
// values, unless the two records lie a multiple of RingSize apart.
func ValueCounts(s Settings) []int {
	counts := make([]int, RingSize)
	send := func(offset, records int) {
		for i := range records {
			counts[(offset+i)%RingSize]++
		}
	}
	send(warmUpOffset, 1)
	if s.Senders == 0 {
		send(0, s.Records)
		return counts
	}
	for g := range s.Senders {
		send(senderShare(s, g))
	}
	return counts
}

// warmUpOffset is where the warm-up record's key and value lie in the
// rings: the last, away from the measured records' first.
const warmUpOffset = RingSize - 1

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
