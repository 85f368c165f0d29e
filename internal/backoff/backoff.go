// Package backoff is the one exponential backoff of the producer, used for
// retried batches, metadata refreshes, InitProducerId and the transaction's
// other coordinator requests (RetryBackoff), and reconnections and
// re-authentications (ReconnectBackoff) alike, as the Java client's
// ExponentialBackoff serves them all.
package backoff

import (
	"math"
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
// than one counts as one. It never overflows: a Max of math.MaxInt64, a
// user's "no cap", saturates there rather than wrapping to a negative
// wait, which would retry at once, for ever.
func (e Exponential) Delay(failures int) time.Duration {
	d := e.Base
	for i := 1; i < failures && d < e.Max; i++ {
		if d > e.Max/2 {
			d = e.Max
			break
		}
		d *= 2
	}
	d = min(d, e.Max)
	spread := float64(d) * (0.8 + 0.4*rand.Float64())
	if spread >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(spread)
}
