package conn

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
)

// TestMain fails the package if any connection goroutine outlives the
// tests: every test closes what it opens, so a survivor is a leak. Should
// the tests hang, it names those still running, with their stacks, in the
// last lines before the package's FAIL (bounded.Main), which a CI log cut
// short keeps.
func TestMain(m *testing.M) {
	code := bounded.Main(m)
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
