package conn

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// TestMain fails the package if any connection goroutine outlives the
// tests: every test closes what it opens, so a survivor is a leak.
func TestMain(m *testing.M) {
	code := m.Run()
	deadline := time.Now().Add(waitTime)
	for connGoroutines() != 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := connGoroutines(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "%d connection goroutines leaked\n", n)
		code = 1
	}
	os.Exit(code)
}
