package sender

import (
	"math/rand/v2"
	"time"
)

// Backoff is the wait before attempt number attempts+1 of a batch: base
// doubled per attempt already made, capped at max, with ±20% jitter so that
// producers retrying together spread out (KIP-580).
func Backoff(attempts int, base, max time.Duration) time.Duration {
	if attempts < 1 {
		attempts = 1
	}
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
