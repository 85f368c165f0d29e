package clock

import (
	"math"
	"time"
)

// AddSaturating returns a+b, or the longest Duration where a positive b
// takes the sum past it. A user's "forever" is often the longest Duration
// there is, and plain addition wraps it to a negative bound, one that has
// passed already: a wait bounded by it would end at once.
func AddSaturating(a, b time.Duration) time.Duration {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
