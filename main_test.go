package producer

import (
	"os"
	"testing"

	"github.com/gokafka/producer/internal/bounded"
)

// TestMain names the tests still running when the package hangs, in the
// last lines before its FAIL (bounded.Main): a CI log cut short above them
// kept only the goroutines' stacks of a hang in a GOARCH=386 run.
func TestMain(m *testing.M) { os.Exit(bounded.Main(m)) }
