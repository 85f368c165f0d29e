// Package backoff is the one exponential backoff of the producer, used for
// retried batches, reconnections and metadata refreshes alike (as the Java
// client's ExponentialBackoff serves all three).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Exponential waits Base after the first failure and doubles the wait for
// each further one, up to Max; the result is spread by ±20% so that clients
// failing together do not retry in step (KIP-580). The cap is applied before
// the jitter, as the Java client does.
type Exponential struct {
	Base time.Duration
	Max  time.Duration
}

// Delay is the wait after the given number of consecutive failures; fewer
// than one counts as one.
func (e Exponential) Delay(failures int) time.Duration {
	d := e.Base
	for i := 1; i < failures && d < e.Max; i++ {
		d *= 2
	}
	d = min(d, e.Max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
