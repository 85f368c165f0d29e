package record

import (
	"fmt"
	"testing"

	"github.com/gokafka/producer/compression"
)

// benchRecords are 1,000 records of 10-byte keys and 100-byte JSON-ish
// values, the shape the targets are stated for.
func benchRecords() (keys, values [][]byte) {
	rng := newRand(42)
	for i := range 1000 {
		keys = append(keys, fmt.Appendf(nil, "key-%06d", i))
		values = append(values, recordValue(100, rng))
	}
	return keys, values
}

func benchBuild(b *testing.B, c compression.Codec) {
	keys, values := benchRecords()
	buf := make([]byte, 0, 256<<10)
	var bld Builder
	var size int
	b.ReportAllocs()
	for b.Loop() {
		bld.Reset(buf)
		for i := range keys {
			bld.Append(1700000000000+int64(i), keys[i], values[i], nil)
		}
		batch, err := bld.Close(notIdempotent(c))
		if err != nil {
			b.Fatal(err)
		}
		size = len(batch)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/record")
	b.ReportMetric(float64(size), "batch-bytes")
}

// BenchmarkBuilderAppend appends 1,000 records into a reused buffer and
// closes the batch uncompressed. Target: at most 100 ns and 0 allocations
// per record.
func BenchmarkBuilderAppend(b *testing.B) { benchBuild(b, compression.None) }

// BenchmarkBuilderClose is BenchmarkBuilderAppend with each codec.
func BenchmarkBuilderClose(b *testing.B) {
	for _, c := range allCodecs {
		b.Run(c.String(), func(b *testing.B) { benchBuild(b, c) })
	}
}

// BenchmarkDecodeBatch decodes 1,000 records of 100 random bytes as they
// are, and 5,000 small records that zstd shrinks below 7 bytes a record:
// more records than the bytes on the wire could hold uncompressed, so
// their slice grows as they decode rather than being allocated at once.
func BenchmarkDecodeBatch(b *testing.B) {
	keys, values := benchRecords()
	var small [][]byte
	for i := range 5000 {
		small = append(small, fmt.Appendf(nil, "value-%06d", i))
	}
	for _, c := range []struct {
		name   string
		values [][]byte
		keys   [][]byte
		codec  compression.Codec
	}{
		{"none", values, keys, compression.None},
		{"zstd-small-records", small, nil, compression.Zstd},
	} {
		b.Run(c.name, func(b *testing.B) {
			var bld Builder
			bld.Reset(make([]byte, 0, 256<<10))
			for i, v := range c.values {
				var key []byte
				if c.keys != nil {
					key = c.keys[i]
				}
				bld.Append(1700000000000+int64(i), key, v, nil)
			}
			batch, err := bld.Close(notIdempotent(c.codec))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := DecodeBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCRC32C(b *testing.B) {
	buf := recordValue(1<<20, newRand(7))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		batchCRC(buf)
	}
}
