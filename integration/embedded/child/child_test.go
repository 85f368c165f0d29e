package child

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The children are this test binary run again with childMode set: each
// mode breaks one of the parent's rules, or keeps them all.
const childMode = "CHILD_TEST_MODE"

func TestMain(m *testing.M) {
	switch os.Getenv(childMode) {
	case "":
		os.Exit(m.Run())
	case "serve": // keeps the rules, and reports after stdin closes
		fmt.Println("noise before the addresses")
		fmt.Println("ADDRS=127.0.0.1:1,127.0.0.1:2")
		_, _ = io.Copy(io.Discard, os.Stdin)
		fmt.Println("REQUESTS=7")
	case "fail": // exits before it serves
		fmt.Fprintln(os.Stderr, "cannot listen: no ports left")
		os.Exit(3)
	case "die": // serves, then exits on its own
		fmt.Println("ADDRS=127.0.0.1:1")
		os.Exit(4)
	case "linger": // serves and never stops by itself
		fmt.Println("ADDRS=127.0.0.1:1")
		select {}
	}
}

// bound is how long a test waits for a child, in real time.
const bound = 30 * time.Second

func start(t *testing.T, mode string) (*Process, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childMode+"="+mode)
	return Start(context.Background(), cmd, "ADDRS=", bound)
}

func TestAChildServesUntilStoppedAndReportsAfter(t *testing.T) {
	p, err := start(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Addrs, " "); got != "127.0.0.1:1 127.0.0.1:2" {
		t.Fatalf("addresses %q", got)
	}
	if err := p.ExitedEarly(); err != nil {
		t.Fatalf("a serving child exited early: %v", err)
	}
	if err := p.Stop(bound); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := p.Output(); len(got) != 1 || got[0] != "REQUESTS=7" {
		t.Fatalf("output after the addresses: %q", got)
	}
	if err := p.Stop(bound); err != nil {
		t.Fatalf("a second stop: %v", err)
	}
}

func TestAChildThatExitsBeforeServingFailsStartWithItsOutput(t *testing.T) {
	_, err := start(t, "fail")
	if err == nil || !strings.Contains(err.Error(), "exited before it served") || !strings.Contains(err.Error(), "its output:\n  cannot listen: no ports left") {
		t.Fatalf("got %v, want the early exit and the child's stderr, indented", err)
	}
}

func TestAChildThatDiesIsReported(t *testing.T) {
	p, err := start(t, "die")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
	case <-time.After(bound):
		t.Fatalf("the child's own exit was not seen within %v", bound)
	}
	require.Error(t, p.ExitedEarly(), "an exit the parent did not ask for is not reported as early")
	if err := p.Stop(bound); err == nil || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("stop: %v, want the early exit", err)
	}
	if p.ExitedEarly() == nil {
		t.Fatal("after Stop, the early exit is forgotten")
	}
}

func TestAChildThatDoesNotStopIsKilled(t *testing.T) {
	p, err := start(t, "linger")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(10 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("stop: %v, want a kill", err)
	}
	if err := p.ExitedEarly(); err != nil {
		t.Fatalf("the kill Stop made is reported as the child's own end: %v", err)
	}
}

// A child killed just before Stop may be waited for only after Stop has
// begun; its death is still its own. (kprod stops its broker right after a
// Ctrl-C, and a broker killed at that moment went unreported.)
func TestAChildKilledJustBeforeStopIsReported(t *testing.T) {
	p, err := start(t, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(bound); err == nil || !strings.Contains(err.Error(), "signal: killed") {
		t.Fatalf("stop: %v, want the kill", err)
	}
	if err := p.ExitedEarly(); err == nil || err.Error() != "signal: killed" {
		t.Fatalf("ExitedEarly() = %v, want the kill", err)
	}
}
