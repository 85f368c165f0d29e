// Package clock lets the producer's timing (linger, backoff, timeouts, memory
// waits) run on real time in production and on a hand-advanced fake in unit
// tests, so tests never sleep to make time pass.
package clock

import "time"

// Clock is the source of time and timers.
type Clock interface {
	Now() time.Time
	// UnixMilli is Now().UnixMilli(), read without the monotonic clock
	// where the platform allows: a record's timestamp needs only the wall
	// clock, and Produce reads it once per record.
	UnixMilli() int64
	// NewTimer returns a timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the producer uses.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// UnixMilli reads the wall clock alone (see WallMicros).
func (Real) UnixMilli() int64 { return WallMicros() / 1000 }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }
