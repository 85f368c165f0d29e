package compression

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// recordLikeData returns about n bytes shaped like the values producers send:
// small JSON documents drawn from a fixed vocabulary with random numbers, from
// a fixed seed. All-zero or purely random buffers would flatter or punish the
// codecs; this compresses roughly as real event payloads do.
func recordLikeData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	words := []string{"order", "created", "shipped", "user", "account", "payment",
		"refund", "eu-west-1", "us-east-2", "checkout", "cart", "session", "mobile", "web"}
	b := make([]byte, 0, n+128)
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"event":"%s","region":"%s","amount":%d.%02d,"ts":%d}`,
			rng.Uint32(), words[rng.IntN(len(words))], words[rng.IntN(len(words))],
			rng.IntN(10000), rng.IntN(100), 1700000000000+rng.Int64N(1e9))
	}
	return b[:n]
}

// randomData returns n incompressible bytes from a fixed seed.
func randomData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// allLevels lists the levels tested for each codec: every level where the
// range is small, samples of every encoder bucket for zstd.
func allLevels(c Codec) []int {
	switch c {
	case Gzip:
		return []int{DefaultLevel, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	case LZ4:
		return []int{DefaultLevel, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	case Zstd:
		return []int{DefaultLevel, MinZstdLevel, -1, 1, 2, 3, 5, 6, 9, 10, 19, 22}
	}
	return []int{DefaultLevel}
}

var allCodecs = []Codec{None, Gzip, Snappy, LZ4, Zstd}

// randomValueRecords returns about n bytes of a batch's records section as
// the record builder writes it for 100-byte random values, the producer
// benchmarks' and the race's workload: records appended within one
// millisecond (timestamp delta 0), offset deltas counting up, no key, no
// headers. Their few bytes of framing repeat from record to record, so a
// codec finds short matches between incompressible values and cannot skip
// ahead as it does on random bytes alone; an input whose framing never
// repeated had zstd run some 100 times faster than on a real batch.
func randomValueRecords(n int, seed uint64) []byte {
	return randomValueRecordsOf(n, seed, 100)
}

// randomValueRecordsOf is randomValueRecords with values of valueSize bytes.
func randomValueRecordsOf(n int, seed uint64, valueSize int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	b := make([]byte, 0, n+128)
	var body []byte
	for i := 0; len(b) < n; i++ {
		body = append(body[:0], 0)                         // attributes
		body = binary.AppendVarint(body, 0)                // timestamp delta
		body = binary.AppendVarint(body, int64(i))         // offset delta
		body = binary.AppendVarint(body, -1)               // no key
		body = binary.AppendVarint(body, int64(valueSize)) // value length
		for range valueSize {
			body = append(body, byte(rng.Uint32()))
		}
		body = binary.AppendVarint(body, 0) // no headers
		b = binary.AppendVarint(b, int64(len(body)))
		b = append(b, body...)
	}
	return b[:n]
}

// uuidJSONData returns about n bytes of JSON documents that each carry a
// random UUID and a random 16-digit hex trace ID beside a few words from a
// fixed vocabulary: compressible text broken by runs that no codec can
// shrink, where a compressor that skims too eagerly misses the text's
// matches after each run.
func uuidJSONData(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	events := []string{"order", "created", "shipped", "user", "account", "payment"}
	b := make([]byte, 0, n+256)
	var u [24]byte
	for len(b) < n {
		for i := range u {
			u[i] = byte(rng.Uint32())
		}
		b = fmt.Appendf(b, `{"id":"%x-%x-%x-%x-%x","trace":"%x","event":"%s","amount":%d}`,
			u[0:4], u[4:6], u[6:8], u[8:10], u[10:16], u[16:24],
			events[rng.IntN(len(events))], rng.IntN(100000))
	}
	return b[:n]
}
