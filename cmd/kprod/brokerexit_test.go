//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
)

// childrenOf lists the processes pid started, from Linux's /proc; the test
// is skipped where that is not available.
func childrenOf(t *testing.T, pid int) []int {
	t.Helper()
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if len(files) == 0 {
		t.Skip("no /proc/PID/task/*/children here")
	}
	var kids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(field); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

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

// If the embedded broker dies during a run, the run says so at once and
// ends as Ctrl-C ends it: within the flush's grace, exit status 1, the
// summary's error naming the broker's exit. Paced, the run would last for
// ever; without a watch on the broker, it went on failing its records by
// timeout and said why only once interrupted.
func TestEmbeddedBrokerDeathEndsTheRun(t *testing.T) {
	t.Parallel() // it waits on timers; the others run meanwhile
	r := startUntilProducing(t, "perf", "--num-records", "1000000000", "--throughput", "1000", "--json")
	broker := embeddedBrokerOf(t, r)
	killedAt := time.Now()
	if err := syscall.Kill(broker, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// kprod's stderr ends when it exits.
	exited := make(chan struct{})
	go func() { _, _ = io.Copy(&r.stderr, r.rest); close(exited) }()
	limit := flushGrace + outcomesGrace + exitSlack
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		_ = r.cmd.Process.Signal(syscall.SIGINT)
		<-exited
		t.Fatalf("kprod had not exited %v after its broker was killed; it did once interrupted:\n%s", limit, r.stderr.String())
	}
	err := r.cmd.Wait()
	if !exitedFailed(err) {
		t.Errorf("exit: %v, want status %d", err, exitFailed)
	}
	const said = brokerDied
	if !strings.Contains(r.stderr.String(), "kprod: "+said+"\n") {
		t.Errorf("stderr does not say %q:\n%s", said, r.stderr.String())
	}
	s := parseSummary(t, result{stdout: r.stdout.String(), stderr: r.stderr.String()})
	if s.Interrupted || !strings.Contains(s.Error, said) {
		t.Errorf("summary: interrupted %v, error %q; want not interrupted, and the broker's exit", s.Interrupted, s.Error)
	}
	if s.RecordsAcked+s.RecordsFailed != s.RecordsSent {
		t.Errorf("sent %d, acked %d, failed %d: a record without exactly one outcome", s.RecordsSent, s.RecordsAcked, s.RecordsFailed)
	}
	// Records in flight as the broker died failed, most likely, and are
	// said to have failed for it.
	if failed := plural(s.RecordsSent-s.RecordsAcked, "record") + " the embedded broker had not acknowledged failed"; s.RecordsFailed > 0 &&
		!strings.Contains(r.stderr.String(), "kprod: "+failed+"\n") {
		t.Errorf("stderr does not say %q:\n%s", failed, r.stderr.String())
	}
	t.Logf("kprod exited %.1f s after its broker was killed", time.Since(killedAt).Seconds())
}

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
