// Package bounded is the tests' bounded wait for another goroutine: a
// hang fails the test with what was awaited, rather than the test binary's
// timeout with every goroutine's stack. For a wait no bound reaches, Main,
// a package's TestMain, names the tests still running before the timeout.
package bounded

import (
	"testing"
	"time"
)

// Receive returns what ch gives (the zero value once it is closed),
// failing t with what if nothing comes within d.
func Receive[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s (waited %v)", what, d)
	}
	var zero T
	return zero
}
