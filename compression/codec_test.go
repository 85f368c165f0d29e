package compression

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"testing"
)

func TestParseCodecAndString(t *testing.T) {
	for i, c := range allCodecs {
		// The values are the attribute bits of a RecordBatch.
		if int(c) != i {
			t.Fatalf("%v = %d, want %d", c, c, i)
		}
		got, err := ParseCodec(c.String())
		if err != nil || got != c {
			t.Fatalf("ParseCodec(%q) = %v, %v", c.String(), got, err)
		}
	}
	if got, err := ParseCodec("ZSTD"); err != nil || got != Zstd {
		t.Fatalf("ParseCodec(ZSTD) = %v, %v", got, err)
	}
	if _, err := ParseCodec("brotli"); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("ParseCodec(brotli) error = %v", err)
	}
	if s := Codec(7).String(); s != "Codec(7)" {
		t.Fatalf("Codec(7).String() = %q", s)
	}
}

// A Codec reads and writes as its compression.type name, so a
// configuration kept in JSON (or YAML, or a flag.TextVar) says "lz4", not 3;
// a Codec that has no name is an error, not "Codec(9)", which would not
// read back.
func TestCodecIsTextInAConfigurationFile(t *testing.T) {
	type settings struct{ Compression Codec }
	for _, c := range allCodecs {
		out, err := json.Marshal(settings{c})
		if err != nil {
			t.Fatalf("marshal %v: %v", c, err)
		}
		if want := fmt.Sprintf(`{"Compression":%q}`, c.String()); string(out) != want {
			t.Fatalf("marshal %v = %s, want %s", c, out, want)
		}
		got := settings{Compression: Codec(-1)}
		if err := json.Unmarshal(out, &got); err != nil || got.Compression != c {
			t.Fatalf("read back %s = %v, %v", out, got.Compression, err)
		}
	}
	if _, err := json.Marshal(settings{Codec(9)}); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("marshal Codec(9): %v, want ErrUnknownCodec", err)
	}
	var got settings
	if err := json.Unmarshal([]byte(`{"Compression":"brotli"}`), &got); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("unmarshal brotli: %v, want ErrUnknownCodec", err)
	}
	flags := flag.NewFlagSet("t", flag.ContinueOnError)
	var c Codec
	flags.TextVar(&c, "compression", None, "")
	if err := flags.Parse([]string{"-compression", "ZSTD"}); err != nil || c != Zstd {
		t.Fatalf("-compression ZSTD = %v, %v", c, err)
	}
}

func TestCheckLevel(t *testing.T) {
	for _, tc := range []struct {
		c     Codec
		level int
		ok    bool
	}{
		{None, DefaultLevel, true}, {None, 1, false},
		{Snappy, DefaultLevel, true}, {Snappy, 3, false},
		{Gzip, 1, true}, {Gzip, 9, true}, {Gzip, 10, false}, {Gzip, GzipDefaultLevel, true}, {Gzip, -2, false},
		{LZ4, 9, true}, {LZ4, 10, false}, {LZ4, -1, false},
		{Zstd, 22, true}, {Zstd, 23, false}, {Zstd, -1, true},
		{Zstd, MinZstdLevel, true}, {Zstd, MinZstdLevel - 1, false},
		{Codec(5), DefaultLevel, false},
	} {
		err := CheckLevel(tc.c, tc.level)
		if (err == nil) != tc.ok {
			t.Errorf("CheckLevel(%v, %d) = %v, want ok=%v", tc.c, tc.level, err, tc.ok)
		}
	}
	if _, err := Compress(nil, Gzip, 42, []byte("x")); !errors.Is(err, ErrInvalidLevel) {
		t.Fatalf("Compress at gzip level 42: %v", err)
	}
}

// TestRoundTrip compresses and decompresses every codec at every level on
// inputs that exercise the edges: nothing, one byte, incompressible bytes,
// highly repetitive bytes, and record-like text spanning several blocks.
// Both directions append after a prefix that must survive.
func TestRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":      {},
		"tiny":       []byte("k"),
		"random":     randomData(100_000, 1),
		"repetitive": bytes.Repeat([]byte("abcabcabd"), 20_000),
		"zeros":      make([]byte, 70_000),
		"records":    recordLikeData(150_000, 2),
	}
	prefix := []byte("prefix")
	for _, c := range allCodecs {
		for _, level := range allLevels(c) {
			for name, in := range inputs {
				t.Run(fmt.Sprintf("%v/%d/%s", c, level, name), func(t *testing.T) {
					comp, err := Compress(bytes.Clone(prefix), c, level, in)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(comp, prefix) {
						t.Fatal("Compress overwrote dst")
					}
					comp = comp[len(prefix):]
					out, err := Decompress(bytes.Clone(prefix), c, comp)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.HasPrefix(out, prefix) {
						t.Fatal("Decompress overwrote dst")
					}
					if !bytes.Equal(in, out[len(prefix):]) {
						t.Fatalf("round trip differs: %d bytes in, %d out", len(in), len(out)-len(prefix))
					}
					if len(in) == 0 {
						return
					}
					// Exactly at the limit is fine; one byte less is not.
					if _, err := DecompressLimit(nil, c, comp, len(in)); err != nil {
						t.Fatalf("limit = size: %v", err)
					}
					if _, err := DecompressLimit(nil, c, comp, len(in)-1); !errors.Is(err, ErrTooLarge) {
						t.Fatalf("limit = size-1: %v, want ErrTooLarge", err)
					}
				})
			}
		}
	}
}

// TestCompressIsStable checks that pooled encoders carry no state from one
// call to the next: the same input gives the same bytes.
func TestCompressIsStable(t *testing.T) {
	in := recordLikeData(50_000, 3)
	for _, c := range allCodecs {
		first, err := Compress(nil, c, DefaultLevel, in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Compress(nil, c, DefaultLevel, randomData(10_000, 4)); err != nil {
			t.Fatal(err)
		}
		again, _ := Compress(nil, c, DefaultLevel, in)
		if !bytes.Equal(first, again) {
			t.Fatalf("%v: same input, different output after reuse", c)
		}
	}
}

// TestDecompressionBomb feeds a small input that expands to 64 MiB and
// checks that a 1 MiB limit stops it without allocating far past the limit.
func TestDecompressionBomb(t *testing.T) {
	big := make([]byte, 64<<20)
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		bomb, err := Compress(nil, c, DefaultLevel, big)
		if err != nil {
			t.Fatal(err)
		}
		if len(bomb) > 4<<20 {
			t.Fatalf("%v: %d-byte bomb", c, len(bomb))
		}
		out, err := DecompressLimit(nil, c, bomb, 1<<20)
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%v: %v, want ErrTooLarge", c, err)
		}
		if cap(out) > 4<<20 {
			t.Fatalf("%v: %d bytes allocated for a 1 MiB limit", c, cap(out))
		}
	}
}

// TestDecompressLimitAsLargeAsAnInt checks that math.MaxInt, a limit a
// caller may pass to mean none, decompresses every codec: gzip's and lz4's
// streaming reads once computed a negative room from it, and panicked.
func TestDecompressLimitAsLargeAsAnInt(t *testing.T) {
	in := recordLikeData(10_000, 7)
	for _, c := range allCodecs {
		comp, err := Compress(nil, c, DefaultLevel, in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := DecompressLimit([]byte("prefix"), c, comp, math.MaxInt)
		if err != nil || !bytes.Equal(out, append([]byte("prefix"), in...)) {
			t.Fatalf("%v: DecompressLimit(math.MaxInt) = %d bytes, %v; want the prefix and the %d bytes", c, len(out), err, len(in))
		}
	}
}

// TestDecompressGarbage checks that malformed input fails with ErrCorrupt
// (or ErrTooLarge when it claims a huge size) and never panics.
func TestDecompressGarbage(t *testing.T) {
	valid := recordLikeData(100_000, 5)
	for _, c := range []Codec{Gzip, Snappy, LZ4, Zstd} {
		comp, err := Compress(nil, c, DefaultLevel, valid)
		if err != nil {
			t.Fatal(err)
		}
		bad := map[string][]byte{
			"empty":     {},
			"random":    randomData(1000, 6),
			"truncated": comp[:len(comp)/2],
			"one byte":  comp[:1],
			"header":    comp[:10],
		}
		for name, in := range bad {
			_, err := Decompress(nil, c, in)
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Errorf("%v %s: %v, want ErrCorrupt", c, name, err)
			}
		}
		// A flipped byte may still decode where nothing is checksummed
		// (snappy, lz4 blocks); it must not panic nor yield the original.
		flipped := bytes.Clone(comp)
		flipped[len(flipped)/2] ^= 0xff
		flipped[len(flipped)/3] ^= 0x55
		if out, err := Decompress(nil, c, flipped); err == nil && bytes.Equal(out, valid) {
			t.Errorf("%v: corruption went unnoticed", c)
		}
	}
	if _, err := Decompress(nil, Codec(6), []byte{1}); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("codec 6: %v", err)
	}
}

// lz4's level 9, Java's default compression.lz4.level, is the one level at
// which Kafka's Java client compresses with lz4's fast compressor: a
// level copied from a Java configuration compresses here as it did there,
// with the fast compressor DefaultLevel uses, where it was pierrec's
// deepest high-compression mode, nine times slower on a batch of random
// values.
func TestLZ4LevelNineIsJavasFastCompressor(t *testing.T) {
	src := bytes.Repeat([]byte("a batch's records, a batch's records "), 2000)
	fast, err := Compress(nil, LZ4, DefaultLevel, src)
	if err != nil {
		t.Fatal(err)
	}
	nine, err := Compress(nil, LZ4, 9, src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(nine, fast) {
		t.Fatalf("level 9 wrote %d bytes, not the fast compressor's %d", len(nine), len(fast))
	}
	eight, err := Compress(nil, LZ4, 8, src)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(eight, fast) {
		t.Fatal("level 8 wrote what the fast compressor writes: no high-compression mode below 9")
	}
}

// A negative Codec is no codec: a value read from a corrupt attribute or a
// bad conversion must be refused, not index the codec tables.
func TestANegativeCodecIsUnknown(t *testing.T) {
	if err := CheckLevel(Codec(-1), DefaultLevel); !errors.Is(err, ErrUnknownCodec) {
		t.Fatalf("CheckLevel(Codec(-1)): %v, want ErrUnknownCodec", err)
	}
	if s := Codec(-1).String(); s != "Codec(-1)" {
		t.Fatalf("Codec(-1).String() = %q", s)
	}
}

// zstd's levels reach down to -131072, Java's lowest, written as a number
// rather than MinZstdLevel: a configuration copied from a Java producer
// must be accepted, and one below it refused.
func TestZstdLevelsReachDownToJavasLowest(t *testing.T) {
	if err := CheckLevel(Zstd, -131072); err != nil {
		t.Fatalf("zstd level -131072: %v", err)
	}
	if err := CheckLevel(Zstd, -131073); !errors.Is(err, ErrInvalidLevel) {
		t.Fatalf("zstd level -131073: %v, want ErrInvalidLevel", err)
	}
}
