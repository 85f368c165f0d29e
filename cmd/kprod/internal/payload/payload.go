// Package payload makes the keys and values of kprod perf's records. What
// can be made up front is made once, when the generator is built, so that a
// record costs a slice of memory already written, not a call to a random
// number generator per byte: the tool must not weigh on what it measures.
package payload

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"unsafe"
)

// Kind is what values are made of.
type Kind int

const (
	// Letters are random upper-case letters, as kafka-producer-perf-test
	// makes them. They compress to about 60% (log2(26) of 8 bits).
	Letters Kind = iota
	// Random bytes are incompressible: a compression codec costs its
	// time and saves nothing, as with encrypted or already compressed data.
	Random
	// Lines are values taken at random from a list (the payloads of a file),
	// as kafka-producer-perf-test's --payload-file takes them.
	Lines
)

func (k Kind) String() string {
	switch k {
	case Letters:
		return "letters"
	case Random:
		return "random"
	case Lines:
		return "lines"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Config says what to generate.
type Config struct {
	Kind Kind
	// Size is the value size in bytes, for Letters and Random.
	Size int
	// Lines are the values to choose from, for Lines; not copied.
	Lines [][]byte
	// KeySize is the key size in bytes; 0: records have no key.
	KeySize int
	// KeyPool is how many keys are made up front to draw from; 0 makes a
	// fresh key for every record instead. Keys are made of the values'
	// alphabet: letters, or random bytes with Random.
	KeyPool int
}

// KeyPoolBytes is the memory New takes for the pool of keys: KeyPool keys
// of KeySize bytes, each with its slice header, or math.MaxInt64 if more.
func (c Config) KeyPoolBytes() int64 {
	if c.KeySize == 0 {
		return 0
	}
	perKey := int64(c.KeySize) + int64(unsafe.Sizeof([]byte(nil)))
	if int64(c.KeyPool) > math.MaxInt64/perKey {
		return math.MaxInt64
	}
	return int64(c.KeyPool) * perKey
}

// minSpan is the least span of the value pool in which values start. A
// batch of more than one record holds at most 1 MiB, the producer's default
// MaxRequestSize; twice that leaves room for as many values as 1 MiB holds,
// each starting a stride (up to the value size plus one) after the last.
const minSpan = 2 << 20

// Generator holds what is made up front. It is read-only once built, so
// any number of goroutines may draw from it, each through a Source of its
// own.
type Generator struct {
	kind  Kind
	pool  []byte // span+size bytes: values are windows of it
	size  int
	lines [][]byte
	keys  [][]byte
	// keySize is the size of fresh keys (KeyPool 0); 0 when keys come
	// from the pool or records have none.
	keySize int
	// Record seq's value starts at seq*stride modulo span. The stride is
	// the value size made odd, and the span the least power of two that is
	// at least minSpan and twice the stride. The two are coprime, so span
	// records in a row start at span different offsets; and of any
	// span/stride records in a row (at least two, and as many as 1 MiB
	// holds), no two start less than a stride apart, so their values share
	// no byte: compression finds no repeats among a batch's values that
	// real data would not have.
	span, stride uint64
}

// New builds a generator for c. It validates nothing a flag parser should
// have: sizes are not negative, Lines is not empty with Lines.
func New(c Config) *Generator {
	g := &Generator{kind: c.Kind, size: c.Size, lines: c.Lines}
	rng := rand.NewPCG(1, 2) // the same records every run
	fill := letters
	if c.Kind == Random {
		fill = randomBytes
	}
	if c.Kind != Lines {
		g.stride = uint64(c.Size) | 1
		g.span = minSpan
		for g.span < 2*g.stride {
			g.span *= 2
		}
		g.pool = make([]byte, g.span+uint64(c.Size))
		fill(rng, g.pool)
	}
	switch {
	case c.KeySize == 0:
	case c.KeyPool == 0:
		g.keySize = c.KeySize
	default:
		g.keys = make([][]byte, c.KeyPool)
		for i := range g.keys {
			g.keys[i] = make([]byte, c.KeySize)
			fill(rng, g.keys[i])
		}
	}
	return g
}

// Source draws records for one goroutine. Its values and keys are slices
// of the generator's memory or of its own buffer, valid until the next
// call: the producer copies what it keeps before Produce returns.
type Source struct {
	g   *Generator
	pcg *rand.PCG  // fills fresh keys: a concrete type, called directly
	rng *rand.Rand // draws from the pools, on pcg
	key []byte     // a fresh key's buffer
}

// Source returns a source whose random draws are seeded with seed: sources
// with different seeds draw differently, the same seed the same way.
func (g *Generator) Source(seed uint64) *Source {
	pcg := rand.NewPCG(seed, 0x6b70726f64)
	s := &Source{g: g, pcg: pcg, rng: rand.New(pcg)}
	if g.keySize > 0 {
		s.key = make([]byte, g.keySize)
	}
	return s
}

// Value is record seq's value: a window of the pool, so consecutive
// records differ, or a line chosen at random.
func (s *Source) Value(seq int64) []byte {
	g := s.g
	if g.kind == Lines {
		return g.lines[s.rng.IntN(len(g.lines))]
	}
	off := g.start(seq)
	return g.pool[off : off+g.size : off+g.size]
}

// start is where record seq's value starts in the pool. The product may
// wrap around 2^64, which the power-of-two span divides: the offset is the
// same.
func (g *Generator) start(seq int64) int {
	return int(uint64(seq) * g.stride & (g.span - 1))
}

// Key is the next record's key: from the pool, fresh, or nil for no key.
func (s *Source) Key() []byte {
	g := s.g
	switch {
	case g.keys != nil:
		return g.keys[s.rng.IntN(len(g.keys))]
	case s.key != nil:
		if g.kind == Random {
			randomBytes(s.pcg, s.key)
		} else {
			letters(s.pcg, s.key)
		}
		return s.key
	}
	return nil
}

// letters fills b with random upper-case letters, four from each 64-bit
// draw: each takes 16 bits and maps them onto 26 letters by multiplying
// and shifting, which is uniform to within 26/65536.
func letters(rng *rand.PCG, b []byte) {
	var x uint64
	for i := range b {
		if i%4 == 0 {
			x = rng.Uint64()
		}
		b[i] = 'A' + byte((x&0xffff)*26>>16)
		x >>= 16
	}
}

// randomBytes fills b with random bytes, eight from each 64-bit draw.
func randomBytes(rng *rand.PCG, b []byte) {
	var buf [8]byte
	for len(b) > 0 {
		binary.LittleEndian.PutUint64(buf[:], rng.Uint64())
		b = b[copy(b, buf[:]):]
	}
}
