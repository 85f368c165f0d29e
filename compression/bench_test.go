package compression

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchInput is about what 1,000 records of 100-byte values with 10-byte
// keys take in a batch: ~110 KB of record-like text.
var benchInput = recordLikeData(110_000, 42)

// TestCompressAllocs checks the steady state the producer relies on:
// compressing into a buffer with room allocates (next to) nothing.
func TestCompressAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	dst := make([]byte, 0, 2*len(benchInput))
	for _, c := range allCodecs {
		for _, level := range allLevels(c) {
			compress := func() {
				if _, err := Compress(dst[:0], c, level, benchInput); err != nil {
					t.Fatal(err)
				}
			}
			compress()
			if n := testing.AllocsPerRun(20, compress); n > 2 {
				t.Errorf("%v level %d: %.1f allocs per Compress", c, level, n)
			}
		}
	}
}

func BenchmarkCompress(b *testing.B) {
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) { benchCompress(b, c, DefaultLevel, benchInput) })
	}
}

// BenchmarkCompressRandomValues compresses a 64 KiB batch (the default batch
// size) of records with random values: what each codec costs when it can
// win almost nothing, as in the race's workloads. The seed is an ordinary
// one: lz4 stores this batch as it is, as it does two in three of seeds
// 1-64, and takes about twice as long on the others (lz4SkipShift).
func BenchmarkCompressRandomValues(b *testing.B) {
	input := randomValueRecords(64<<10, 1)
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) { benchCompress(b, c, DefaultLevel, input) })
	}
	// pierrec/lz4's Writer at its Fast level, which the default level used
	// before lz4block.go, and which franz-go, sarama and kafka-go use.
	b.Run("lz4-pierrec", func(b *testing.B) { benchLZ4Pierrec(b, input) })
}

func BenchmarkCompressLZ4Pierrec(b *testing.B) { benchLZ4Pierrec(b, benchInput) }

// benchLZ4Pierrec is benchCompress for pierrec's Fast level.
func benchLZ4Pierrec(b *testing.B, input []byte) {
	benchCompressWith(b, input, func(dst, src []byte) ([]byte, error) {
		return compressLZ4Pierrec(dst, DefaultLevel, src)
	})
}

// benchCompress compresses input with c at level into a buffer with room,
// and reports the ratio of compressed to uncompressed size.
func benchCompress(b *testing.B, c Codec, level int, input []byte) {
	benchCompressWith(b, input, func(dst, src []byte) ([]byte, error) {
		return Compress(dst, c, level, src)
	})
}

// benchCompressWith runs compress, appending to a buffer with room, over
// input, and reports the ratio of compressed to uncompressed size.
func benchCompressWith(b *testing.B, input []byte, compress func(dst, src []byte) ([]byte, error)) {
	dst := make([]byte, 0, 2*len(input))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var err error
		if out, err = compress(dst[:0], input); err != nil {
			b.Fatal(err)
		}
	}
	// After the loop: b.Loop's first call resets the timer, and with it
	// any metric reported before.
	b.ReportMetric(float64(len(out))/float64(len(input)), "ratio")
}

func BenchmarkCompressLevels(b *testing.B) {
	for _, c := range []Codec{Gzip, LZ4, Zstd} {
		for _, level := range allLevels(c)[1:] {
			b.Run(fmt.Sprintf("%v/%d", c, level), func(b *testing.B) { benchCompress(b, c, level, benchInput) })
		}
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) {
			comp, _ := Compress(nil, c, DefaultLevel, benchInput)
			dst := make([]byte, 0, 2*len(benchInput))
			b.SetBytes(int64(len(benchInput)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decompress(dst[:0], c, comp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkZstdDefaultLevel compares the default level's zstd, which tries
// klauspost's fastest encoder and then ours (compressZstdDefault), with
// each of the two alone and with klauspost's encoder at zstd's level 3,
// the default of the other Go clients, in 64 KiB batches of four kinds:
// record-like JSON, JSON broken by random UUIDs, records of random values,
// and this repository's Go and Markdown at its root and in this package.
// It reports the ratio of compressed to uncompressed size over the batches.
func BenchmarkZstdDefaultLevel(b *testing.B) {
	const batch = 64 << 10
	inputs := []struct {
		name    string
		batches [][]byte
	}{
		{"json", [][]byte{recordLikeData(batch, 42)}},
		{"json-uuids", [][]byte{uuidJSONData(batch, 3)}},
		{"random-values", [][]byte{randomValueRecords(batch, 1)}},
		{"source", sourceTextBatches(b, batch)},
	}
	compressors := []struct {
		name     string
		compress func(dst, src []byte) []byte
	}{
		{"default", compressZstdDefault},
		{"ours", appendZstdFrame},
		{"klauspost-fastest", func(dst, src []byte) []byte { return compressZstdKlauspost(dst, zstdFastestLevel, src) }},
		{"klauspost-level3", func(dst, src []byte) []byte { return compressZstdKlauspost(dst, zstdDefaultLevel, src) }},
	}
	for _, in := range inputs {
		var size int
		for _, src := range in.batches {
			size += len(src)
		}
		for _, c := range compressors {
			b.Run(in.name+"/"+c.name, func(b *testing.B) {
				dst := make([]byte, 0, 2*batch)
				b.SetBytes(int64(size))
				var out int
				for b.Loop() {
					out = 0
					for _, src := range in.batches {
						out += len(c.compress(dst[:0], src))
					}
				}
				b.ReportMetric(float64(out)/float64(size), "ratio")
				// The source text is as many batches as the repository
				// fills, so ns/op grows with it; ns/batch does not.
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in.batches)), "ns/batch")
			})
		}
	}
}

// sourceTextBatches is this repository's Go and Markdown, at its root and
// in this package, cut into batches of size: text unlike records.
func sourceTextBatches(b *testing.B, size int) [][]byte {
	var text []byte
	for _, pattern := range []string{"../*.go", "../*.md", "*.go"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			text = append(text, data...)
		}
	}
	var batches [][]byte
	for at := 0; at+size <= len(text); at += size {
		batches = append(batches, text[at:at+size])
	}
	if len(batches) == 0 {
		b.Skip("no source text found beside the package")
	}
	return batches
}
