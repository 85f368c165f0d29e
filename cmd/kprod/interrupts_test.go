//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// A signal that came as relay was quitting, left in the channel, is
// reported too: relay chose quit over it, and only stopListening's look at
// the channel after signal.Stop finds it. The test above cannot show this,
// as it waits for relay to have taken its signal.
func TestASignalLeftInTheChannelIsReported(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	in := &interrupts{Context: ctx, cancel: cancel, signals: make(chan os.Signal, 1),
		quit: make(chan struct{}), relayed: make(chan struct{})}
	close(in.relayed) // relay chose quit over the signal
	in.signals <- os.Interrupt
	if !in.stopListening() || !interrupted(in) {
		t.Fatalf("a signal left in the channel is not reported; cause %v", context.Cause(in))
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

// A Ctrl-C that comes after the produce phase, every record acknowledged,
// makes the run an interrupted one (exit status 1), but its summary's time
// is the whole run's, to the end of its flush, as for a run not
// interrupted: it said "until interrupted (then 0.000 s to flush)", though
// nothing was cut. kprod is held after the phase by its embedded broker,
// stopped (SIGSTOP) once the records are acknowledged, which then ignores
// the stdin that kprod closes to stop it: kprod waits brokerStopTimeout
// for it, and the signal comes once kprod has closed that stdin. This is
// also the end-to-end test of execute's look at the signals after the
// phase: without it, the run exits 0 here.
func TestACtrlCAfterTheProducePhaseKeepsTheRunsTime(t *testing.T) {
	t.Parallel() // it waits brokerStopTimeout; the others run meanwhile
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	r := startUntilProducingFrom(t, stdinR, "produce", "--embedded", "--progress", "bar")
	stdinR.Close() // the child has its own copy
	broker := embeddedBrokerOf(t, r)
	brokerStdin := pipeName(t, broker, 0)
	if _, err := stdinW.WriteString("a\nb\nc\n"); err != nil {
		t.Fatal(err)
	}
	// The bar says "acked 3" once the three are acknowledged.
	buf := make([]byte, 4096)
	for !strings.Contains(r.stderr.String(), "acked 3 ") {
		n, err := r.rest.Read(buf)
		r.stderr.Write(buf[:n])
		if err != nil {
			t.Fatalf("kprod ended before acknowledging the records: %v\nstderr:\n%q", err, r.stderr.String())
		}
	}
	if err := syscall.Kill(broker, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(broker, syscall.SIGCONT) })
	stdinW.Close()
	// kprod closes the broker's stdin once the phase is over and the
	// producer closed, and then waits for it.
	// /proc tells no one when a descriptor closes: it is polled.
	for deadline := time.Now().Add(runTimeout); holds(t, r.cmd.Process.Pid, brokerStdin); {
		if time.Now().After(deadline) {
			t.Fatalf("kprod did not stop its broker within %v\nstderr:\n%q", runTimeout, r.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&r.stderr, r.rest)
	err = r.cmd.Wait()
	if !exitedFailed(err) {
		t.Errorf("exit: %v, want status %d", err, exitFailed)
	}
	stdout, stderr := r.stdout.String(), r.stderr.String()
	if !strings.Contains(stderr, "kprod: interrupted once every record had its outcome\n") {
		t.Errorf("stderr does not say the run was interrupted after its end:\n%q", stderr)
	}
	if !strings.Contains(stdout, "records   3 sent, 3 acked, 0 failed  (interrupted after the end)\n") ||
		strings.Contains(stdout, "until interrupted") || !strings.Contains(stdout, "\ntime      ") {
		t.Errorf("summary:\n%s\nwant the records line to say interrupted after the end, the time line the whole run's", stdout)
	}
}

// pipeName is what /proc calls the pipe pid has as its file descriptor fd,
// "pipe:[inode]"; the test is skipped where /proc does not say.
func pipeName(t *testing.T, pid, fd int) string {
	t.Helper()
	name, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil || !strings.HasPrefix(name, "pipe:") {
		t.Skipf("no pipe at /proc/%d/fd/%d (%q, %v)", pid, fd, name, err)
	}
	return name
}

// holds says whether pid has file name open, as /proc says.
func holds(t *testing.T, pid int, name string) bool {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == name {
			return true
		}
	}
	return false
}
