package fakebroker

import (
	"os"
	"testing"

	"github.com/gokafka/producer/internal/bounded"
)

// TestMain names the tests still running should the package hang, with
// their stacks, in the last lines before its FAIL (bounded.Main), which a
// CI log cut short keeps.
func TestMain(m *testing.M) { os.Exit(bounded.Main(m)) }
