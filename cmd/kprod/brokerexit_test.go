//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	producer "github.com/gokafka/producer"
)

// embeddedBrokerOf is the pid of the embedded broker kprod started for r,
// its only child.
func embeddedBrokerOf(t *testing.T, r *running) int {
	t.Helper()
	kids := childrenOf(t, r.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("kprod has %d child processes, want its broker alone", len(kids))
	}
	return kids[0]
}

// brokerDied is what kprod says, at once, when its embedded broker is
// killed.
const brokerDied = "the embedded broker exited during the run (signal: killed)"

// An embedded broker that dies before any record was handed over fails
// none, and kprod says only that it exited: it said "the records it had not
// acknowledged failed" whenever the broker died, even before the first
// record. Here stdin stays open and empty, so no record is ever handed over.
func TestABrokerThatDiesBeforeTheFirstRecordFailsNone(t *testing.T) {
	t.Parallel() // it waits on timers; the others run meanwhile
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	r := startUntilProducingFrom(t, stdinR, "produce", "--embedded", "--json", "--progress", "never")
	stdinR.Close() // the child has its own copy
	if err := syscall.Kill(embeddedBrokerOf(t, r), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// kprod's stderr ends when it exits, which the broker's exit makes it
	// do with stdin still open.
	_, _ = io.Copy(&r.stderr, r.rest)
	err = r.cmd.Wait()
	if !exitedFailed(err) {
		t.Errorf("exit: %v, want status %d", err, exitFailed)
	}
	stderr := r.stderr.String()
	if !strings.Contains(stderr, "kprod: "+brokerDied+"\n") || strings.Contains(stderr, "acknowledged") {
		t.Errorf("stderr does not say %q alone:\n%s", brokerDied, stderr)
	}
	s := parseSummary(t, result{stdout: r.stdout.String(), stderr: stderr})
	if s.RecordsSent != 0 || s.RecordsFailed != 0 || s.Interrupted || s.Error != brokerDied {
		t.Errorf("sent %d, failed %d, interrupted %v, error %q; want 0, 0, false and the broker's exit",
			s.RecordsSent, s.RecordsFailed, s.Interrupted, s.Error)
	}
}

// A wait before the first record that the broker's exit ended says that
// the broker exited, where it said what the library's call did when its
// context ended: "... unknown topic: context canceled: the embedded broker
// exited during the run (signal: killed)", or "no broker answered: ...:
// context canceled". Here the run has ended before the wait begins.
func TestAWaitTheBrokersExitEndedSaysSo(t *testing.T) {
	running, endRun := context.WithCancelCause(context.Background())
	endRun(&brokerExitedError{exit: errors.New("signal: killed")})
	cfg := producer.Config{Brokers: []string{refusingBroker(t)}}
	_, err := awaitTopic(running, nil, cfg, topicSpec{name: "t"}, newConsole(io.Discard))
	if want := "topic t: " + brokerDied; err == nil || err.Error() != want {
		t.Errorf("awaitTopic: %v; want %q", err, want)
	}
}
