package record

import (
	"fmt"
	"math/rand/v2"

	"github.com/gokafka/producer/compression"
)

// recordValue returns a value of about n bytes shaped like a real event
// payload (JSON-ish text with random numbers), deterministic in seed, so
// that compression benchmarks see realistic ratios.
func recordValue(n int, rng *rand.Rand) []byte {
	words := []string{"order", "created", "shipped", "user", "payment", "refund", "eu-west-1", "checkout", "web"}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		b = fmt.Appendf(b, `{"id":%d,"event":"%s","amount":%d}`, rng.Uint32(), words[rng.IntN(len(words))], rng.IntN(100000))
	}
	return b[:n]
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

var allCodecs = []compression.Codec{compression.None, compression.Gzip, compression.Snappy, compression.LZ4, compression.Zstd}
