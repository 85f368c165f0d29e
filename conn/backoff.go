package conn

import (
	"math/rand/v2"
	"time"
)

// backoff is the wait before reconnecting after failures consecutive failed
// or lost connections (failures >= 1): ReconnectBackoff doubled for each
// failure after the first, capped at ReconnectBackoffMax, then spread by
// ±20% so that clients that lost the same broker do not return in step. The
// cap is applied before the jitter, as the Java client does.
func backoff(base, maxWait time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
