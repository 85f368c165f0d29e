package bounded

import (
	"strings"
	"testing"
)

// Stacks shows every goroutine, not the caller's alone: a test reads from
// it where another goroutine waits.
func TestStacksShowsAnotherGoroutinesWait(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	go parkedForStacks(started, release)
	defer close(release)
	<-started
	if stacks := Stacks(); !strings.Contains(stacks, "bounded.parkedForStacks(") {
		t.Fatalf("no stack shows the parked goroutine:\n%s", stacks)
	}
}

func parkedForStacks(started, release chan struct{}) {
	close(started)
	<-release
}
