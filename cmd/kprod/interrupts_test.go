//go:build unix

package main

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// A Ctrl-C caught while kprod listens is reported by stopListening,
// however late: the run reads its context for the last time as its produce
// phase ends, and one caught after that was ignored (exit 0, no
// "(interrupted)"). Here nothing reads the context before stopListening.
func TestACtrlCCaughtBeforeStopListeningIsReported(t *testing.T) {
	in := notifyInterrupts(context.Background())
	defer in.stopListening()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// The signal reaches the process asynchronously: stopListening must
	// come after it was caught, or the test would be killed by it.
	const bound = 10 * time.Second
	select {
	case <-in.Done():
	case <-time.After(bound):
		t.Fatalf("SIGINT not caught within %v", bound)
	}
	if !in.stopListening() || !interrupted(in) {
		t.Fatalf("stopListening does not report the SIGINT caught; cause %v", context.Cause(in))
	}
	var ie *interruptError
	if cause := context.Cause(in); !errors.As(cause, &ie) || cause.Error() != "interrupt signal received" {
		t.Errorf("cause %v, want the interrupt", cause)
	}
}

// Without a signal, stopListening ends the context, but not as an
// interrupt.
func TestStopListeningWithoutASignalIsNoInterrupt(t *testing.T) {
	in := notifyInterrupts(context.Background())
	if in.stopListening() || interrupted(in) || in.Err() == nil {
		t.Errorf("no signal: stopListening %v, interrupted %v, ctx %v; want false, false, ended",
			in.stopListening(), interrupted(in), in.Err())
	}
}
