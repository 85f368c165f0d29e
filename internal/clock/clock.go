// Package clock lets the producer's timing (linger, backoff, timeouts, memory
// waits) run on real time in production and on a hand-advanced fake in unit
// tests, so tests never sleep to make time pass. It also sums Durations
// without wrapping past the longest one (AddSaturating).
package clock

import (
	"context"
	"time"
)

// Clock is the source of time and timers.
type Clock interface {
	Now() time.Time
	// UnixMilli is Now().UnixMilli(), read without the monotonic clock
	// where the platform allows: a record's timestamp needs only the wall
	// clock, and Produce reads it once per record.
	UnixMilli() int64
	// NewTimer returns a timer that fires once after d, for a wait that
	// counts from the call ("d from now").
	NewTimer(d time.Duration) Timer
	// NewTimerAt returns a timer that fires once at deadline, a time this
	// clock gave (Now plus a duration). A wait that ends at a deadline arms
	// it so, not with NewTimer(deadline.Sub(Now())): time that passes
	// between that reading of Now and the arming would push the deadline
	// back by as much. On the real clock that is a few nanoseconds; on the
	// fake one it is a whole Advance, which the clock, with nothing left to
	// move it, never makes up: the timer never fires.
	NewTimerAt(deadline time.Time) Timer
}

// Timer is the part of *time.Timer the producer uses.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it was active.
	Stop() bool
	// ResetAt rearms the timer to fire once at deadline, as NewTimerAt
	// arms a new one, whether it was active, stopped or fired; it reports
	// whether it was active. A loop that waits again and again rearms one
	// timer rather than allocating one per wait. Since Go 1.23 no tick
	// from before ResetAt is received after it; with older timer semantics
	// (an old go line in the main module) one may be, which the loops here
	// treat as a spurious wake-up.
	ResetAt(deadline time.Time) bool
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// UnixMilli reads the wall clock alone (see WallMicros).
func (Real) UnixMilli() int64 { return WallMicros() / 1000 }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// NewTimerAt is time.NewTimer(time.Until(deadline)). A deadline made from
// Now carries the monotonic reading, so the conversion loses only the
// time until the arming, nanoseconds, and no wall-clock step moves it.
func (Real) NewTimerAt(deadline time.Time) Timer {
	return realTimer{time.NewTimer(time.Until(deadline))}
}

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }
func (t realTimer) Stop() bool          { return t.t.Stop() }

// ResetAt converts deadline as NewTimerAt does; it allocates nothing.
func (t realTimer) ResetAt(deadline time.Time) bool { return t.t.Reset(time.Until(deadline)) }

// WithTimeoutCause is context.WithTimeoutCause on clk's time. On the real
// clock it is just that; on another, the context ends with cause once clk
// has advanced d, so that tests drive such a timeout as they drive timers.
func WithTimeoutCause(ctx context.Context, clk Clock, d time.Duration, cause error) (context.Context, context.CancelFunc) {
	if _, ok := clk.(Real); ok {
		return context.WithTimeoutCause(ctx, d, cause)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := clk.NewTimer(d)
	go func() {
		select {
		case <-t.C():
			cancel(cause)
		case <-ctx.Done():
			t.Stop()
		}
	}()
	return ctx, func() { cancel(nil) }
}
