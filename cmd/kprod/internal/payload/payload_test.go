package payload

import (
	"bytes"
	"slices"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// batchOf concatenates the values of records first..first+n-1, as a
// producer batch holds them.
func batchOf(src *Source, first, n int64) []byte {
	var b []byte
	for seq := first; seq < first+n; seq++ {
		b = append(b, src.Value(seq)...)
	}
	return b
}

func zstdSize(t *testing.T, b []byte) int {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return len(enc.EncodeAll(b, nil))
}

// Random values do not compress: a batch of them, compressed with zstd at
// its best, is not smaller than 99% of itself, wherever it starts.
func TestRandomIsIncompressible(t *testing.T) {
	src := New(Config{Kind: Random, Size: 100}).Source(0)
	for _, first := range []int64{0, 12345, 1 << 20, 5_000_000} {
		b := batchOf(src, first, 1000) // 100 KB, more than a default batch
		if n := zstdSize(t, b); n < len(b)*99/100 {
			t.Errorf("records %d..: %d bytes compress to %d", first, len(b), n)
		}
	}
}

// The values of as many records in a row as a 1 MiB batch holds share no
// byte of the pool, whatever their size, and a batch of random ones does
// not compress: a stride shorter than the values would make each repeat
// most of the last.
func TestABatchsValuesShareNoByte(t *testing.T) {
	for _, size := range []int{1000, 10_000, 16_000, 100_000, 1_000_000, 2_000_000} {
		g := New(Config{Kind: Random, Size: size})
		n := max(2, int64((1<<20+size-1)/size)) // 1 MiB, and at least two
		for _, first := range []int64{0, 12345, 1 << 21, 5_000_000} {
			starts := make([]int, 0, n)
			for seq := first; seq < first+n; seq++ {
				starts = append(starts, g.start(seq))
			}
			slices.Sort(starts)
			for i := 1; i < len(starts); i++ {
				if starts[i]-starts[i-1] < size {
					t.Fatalf("size %d, records %d..%d: values at %d and %d overlap",
						size, first, first+n-1, starts[i-1], starts[i])
				}
			}
		}
		if size > 100_000 {
			continue // zstd finds nothing the offsets above do not show
		}
		b := batchOf(g.Source(0), 0, n)
		if z := zstdSize(t, b); z < len(b)*99/100 {
			t.Errorf("size %d: a batch of %d values, %d bytes, compresses to %d", size, n, len(b), z)
		}
	}
}

// Letters are upper-case letters only, all 26 of them, and compress about
// as their entropy says (log2(26)/8 = 59%), not better: consecutive
// values do not repeat each other.
func TestLettersAreLetters(t *testing.T) {
	src := New(Config{Kind: Letters, Size: 100, KeySize: 16, KeyPool: 0}).Source(7)
	b := batchOf(src, 0, 1000)
	seen := map[byte]bool{}
	for _, c := range append(b, src.Key()...) {
		if c < 'A' || c > 'Z' {
			t.Fatalf("byte %q is not an upper-case letter", c)
		}
		seen[c] = true
	}
	if len(seen) != 26 {
		t.Errorf("%d distinct letters in 100 KB", len(seen))
	}
	if n := zstdSize(t, b); n < len(b)*55/100 {
		t.Errorf("%d bytes of letters compress to %d: values repeat", len(b), n)
	}
}

// Values have the configured size, and consecutive records' values differ.
func TestValueSizeAndVariety(t *testing.T) {
	for _, kind := range []Kind{Letters, Random} {
		for _, size := range []int{0, 1, 100, 10_000} {
			src := New(Config{Kind: kind, Size: size}).Source(0)
			prev := []byte(nil)
			for seq := range int64(100) {
				v := src.Value(seq)
				if len(v) != size {
					t.Fatalf("%v: value of %d bytes, want %d", kind, len(v), size)
				}
				if size >= 8 && bytes.Equal(v, prev) {
					t.Fatalf("%v: records %d and %d have the same value", kind, seq-1, seq)
				}
				prev = v
			}
		}
	}
}

// Lines values are the given lines, each chosen about as often.
func TestLinesAreUsed(t *testing.T) {
	lines := [][]byte{[]byte("alpha"), []byte("beta"), []byte(`{"json": true}`)}
	src := New(Config{Kind: Lines, Lines: lines}).Source(0)
	seen := map[string]int{}
	for seq := range int64(3000) {
		seen[string(src.Value(seq))]++
	}
	if len(seen) != len(lines) {
		t.Fatalf("values %v, want the %d lines", seen, len(lines))
	}
	for _, l := range lines {
		if n := seen[string(l)]; n < 800 {
			t.Errorf("%q chosen %d times of 3000", l, n)
		}
	}
}

// A key pool of N gives at most N distinct keys, drawn from all of them; a
// pool of 0 gives a fresh key every record; a key size of 0, no key.
func TestKeys(t *testing.T) {
	distinct := func(c Config, draws int) map[string]bool {
		src := New(c).Source(0)
		keys := map[string]bool{}
		for range draws {
			k := src.Key()
			if len(k) != c.KeySize {
				t.Fatalf("%+v: key of %d bytes", c, len(k))
			}
			keys[string(k)] = true
		}
		return keys
	}
	if n := len(distinct(Config{Kind: Letters, KeySize: 16, KeyPool: 10}, 1000)); n != 10 {
		t.Errorf("pool of 10: %d distinct keys in 1000 draws", n)
	}
	if n := len(distinct(Config{Kind: Random, KeySize: 16, KeyPool: 0}, 1000)); n != 1000 {
		t.Errorf("fresh keys: %d distinct in 1000 draws", n)
	}
	if src := New(Config{Kind: Letters, Size: 10}).Source(0); src.Key() != nil {
		t.Error("a key without a key size")
	}
	// Fresh random keys are random bytes, not letters.
	src := New(Config{Kind: Random, KeySize: 1000}).Source(0)
	if k := src.Key(); !bytes.ContainsFunc(k, func(r rune) bool { return r < 'A' || r > 'Z' }) {
		t.Errorf("random key of letters only: %q", k)
	}
}

// Sources with the same seed draw the same records, with different seeds
// different keys: each worker of a run gets its own sequence.
func TestSourcesAreDeterministic(t *testing.T) {
	g := New(Config{Kind: Letters, Size: 10, KeySize: 8})
	a, b, c := g.Source(1), g.Source(1), g.Source(2)
	same, differ := true, false
	for range 100 {
		ka, kb, kc := string(a.Key()), string(b.Key()), string(c.Key())
		same = same && ka == kb
		differ = differ || ka != kc
	}
	if !same || !differ {
		t.Errorf("same seed same keys: %t; other seed other keys: %t", same, differ)
	}
}

// BenchmarkRecord is what making a record's key and value costs.
func BenchmarkRecord(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"letters-no-key", Config{Kind: Letters, Size: 100}},
		{"random-pooled-key", Config{Kind: Random, Size: 100, KeySize: 16, KeyPool: 1024}},
		{"random-fresh-key", Config{Kind: Random, Size: 100, KeySize: 16}},
		{"letters-fresh-key", Config{Kind: Letters, Size: 100, KeySize: 16}},
	} {
		b.Run(c.name, func(b *testing.B) {
			src := New(c.cfg).Source(0)
			b.ReportAllocs()
			var n int
			for i := range b.N {
				n += len(src.Key()) + len(src.Value(int64(i)))
			}
			if n == 0 && c.cfg.Size > 0 {
				b.Fatal("nothing made")
			}
		})
	}
}
