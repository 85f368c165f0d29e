package clock

import (
	"math"
	"testing"
	"time"
)

// A sum that fits is the sum; one past the longest Duration is that
// Duration, whichever side is long.
func TestAddSaturating(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	for _, c := range []struct{ a, b, want time.Duration }{
		{time.Second, 2 * time.Second, 3 * time.Second},
		{time.Second, 0, time.Second},
		{time.Second, -time.Second, 0},
		{forever, 0, forever},
		{forever, time.Nanosecond, forever},
		{time.Nanosecond, forever, forever},
		{forever, forever, forever},
		{forever - time.Second, time.Second, forever},
		{forever - time.Second, time.Millisecond, forever - time.Second + time.Millisecond},
	} {
		if got := AddSaturating(c.a, c.b); got != c.want {
			t.Errorf("AddSaturating(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
