//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/readback"
)

// running is a kprod run the test interrupts.
type running struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr strings.Builder
	rest   io.Reader // stderr not read yet
	cancel context.CancelFunc
}

// exitSlack is what a bound on kprod's exit after Ctrl-C allows past its
// own graces: the signal's delivery and handling, and the exit of a -race
// build, on cores shared with other work.
const exitSlack = 3 * time.Second

// startUntilProducing starts kprod in a process group of its own, as a
// shell starts a job, and returns once it says "producing": its signal
// handler is installed and the topic exists.
func startUntilProducing(t *testing.T, args ...string) *running {
	t.Helper()
	return startUntilProducingFrom(t, nil, args...)
}

// startUntilProducingFrom is startUntilProducing with stdin read from in.
func startUntilProducingFrom(t *testing.T, in io.Reader, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	r := &running{cmd: exec.CommandContext(ctx, kprodBin, args...), cancel: cancel}
	r.cmd.Stdin = in
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r.cmd.Stdout = &r.stdout
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = r.cmd.Wait()
	})
	br := bufio.NewReader(pipe)
	for {
		line, err := br.ReadString('\n')
		r.stderr.WriteString(line)
		if strings.Contains(line, "producing") {
			break
		}
		if err != nil {
			t.Fatalf("kprod ended before producing: %v\nstderr:\n%s", err, r.stderr.String())
		}
	}
	r.rest = br
	return r
}

// interruptOnce sends the run Ctrl-C once fault has struck, and returns
// when it did.
func (r *running) interruptOnce(t *testing.T, fault *embedded.Fault) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := fault.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	return at
}

// finish waits for the interrupted run, which must exit 1 with a summary
// that says it was interrupted.
func (r *running) finish(t *testing.T) summary {
	t.Helper()
	_, _ = io.Copy(&r.stderr, r.rest)
	err := r.cmd.Wait()
	r.cancel()
	if !exitedFailed(err) {
		t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, exitFailed, r.stderr.String())
	}
	s := parseSummary(t, result{stdout: r.stdout.String(), stderr: r.stderr.String()})
	if !s.Interrupted || !strings.Contains(r.stderr.String(), "interrupted") {
		t.Errorf("neither summary nor stderr says interrupted: %+v\nstderr:\n%s", s, r.stderr.String())
	}
	// Ctrl-C cut these runs short: one said to be interrupted after its
	// end prints its time as a whole run's, with no flush after it.
	if s.InterruptedAfterEnd || strings.Contains(r.stderr.String(), "interrupted once every record had its outcome") {
		t.Errorf("a run Ctrl-C cut short is said to be interrupted after its end\nstdout:\n%s\nstderr:\n%s", r.stdout.String(), r.stderr.String())
	}
	return s
}

// Ctrl-C in a terminal signals the whole foreground process group: kprod
// and the embedded broker it started. The broker must outlive kprod's
// final flush, so that every record handed over is acknowledged. The
// buffer is kept small so that the flush is quick even with -race.
func TestInterruptOfProcessGroupLosesNothing(t *testing.T) {
	r := startUntilProducing(t, "perf", "--num-records", "1000000000", "--buffer-memory", "4194304", "--json")
	// Interrupt once records flow, read back by a consumer, so that the
	// buffer is full of records when the signal comes.
	_, addrs, ok := strings.Cut(r.stderr.String(), "embedded broker at ")
	if !ok {
		t.Fatalf("no embedded broker address on stderr:\n%s", r.stderr.String())
	}
	addrs, _, _ = strings.Cut(addrs, "\n")
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	if _, err := readback.ReadAll(ctx, strings.Split(addrs, ","), "kprod-perf", 1); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-r.cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	s := r.finish(t)
	if s.RecordsSent == 0 || s.RecordsFailed != 0 || s.RecordsAcked != s.RecordsSent {
		t.Errorf("sent %d, acked %d, failed %d (%v): Ctrl-C cost records\nstderr:\n%s",
			s.RecordsSent, s.RecordsAcked, s.RecordsFailed, s.Errors, r.stderr.String())
	}
	if strings.Contains(r.stderr.String(), "embedded broker exited") {
		t.Errorf("the embedded broker died of the Ctrl-C:\n%s", r.stderr.String())
	}
}

// The summary's time runs to the interrupt; the flush after it is reported
// apart. A produce request held for 4 s at the broker when Ctrl-C comes
// makes that flush long enough to tell the two apart (at least half the
// hold, whatever the signal's delivery takes on a loaded machine, and
// within kprod's 5 s flush grace). The times are
// checked against each other and against the process's lifetime, which
// holds both, not against the test's guess of how long signalling and
// exiting take: a time that included the flush would count it twice.
func TestInterruptedTimeExcludesFlush(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	started := time.Now()
	r := startUntilProducing(t, "perf", "--brokers", strings.Join(cluster.Addrs(), ","), "--create-topic",
		"--topic", uniqueTopic("flushtime"), "--num-records", "1000000000", "--throughput", "500", "--linger", "0", "--json")
	const hold = 4 * time.Second
	fault := cluster.DelayNextProduce(1, hold)
	r.interruptOnce(t, fault)
	s := r.finish(t)
	lived := time.Since(started)
	if s.FlushSeconds < (hold / 2).Seconds() {
		t.Errorf("flush took %.3f s, want about %v: the held request was not waited for", s.FlushSeconds, hold)
	}
	// Each time is rounded to the millisecond.
	if sum := s.Seconds + s.FlushSeconds; sum > lived.Seconds()+0.002 {
		t.Errorf("time %.3f s and flush %.3f s add up to %.3f s, more than the process lived (%.3f s): the time includes the flush",
			s.Seconds, s.FlushSeconds, sum, lived.Seconds())
	}
	if s.RecordsFailed != 0 {
		t.Errorf("%d records failed: %v", s.RecordsFailed, s.Errors)
	}
	// The rate is of the records acknowledged by Ctrl-C, over the time to
	// it: those of the held request, acknowledged in the flush after it,
	// count as acked but not in the rate, which would divide them by a time
	// they took no part in. So the rate times the time, both as rounded,
	// must allow a count below the records acked.
	if atLeast := (s.RecordsPerSec - 0.05) * (s.Seconds - 0.0005); atLeast > float64(s.RecordsAcked-1) {
		t.Errorf("%.1f records/s over %.3f s make at least %.2f records, of %d acked in all: the rate counts those acked in the flush",
			s.RecordsPerSec, s.Seconds, atLeast, s.RecordsAcked)
	}
}

// With --transactional-id, Ctrl-C ends the run within the flush's grace
// as it does without: a transaction the worker is committing when Ctrl-C
// comes ends with the grace, not when its records' produce request comes
// back. Transactions of one record and a produce request held well past
// the grace put a commit under way at Ctrl-C; without the bound, kprod
// exited only once the broker answered, after the whole hold.
func TestInterruptEndsATransactionalRunWithinTheFlushGrace(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close() // ends the hold too
	r := startUntilProducing(t, "perf", "--brokers", strings.Join(cluster.Addrs(), ","), "--create-topic",
		"--topic", uniqueTopic("txn-interrupt"), "--num-records", "1000000000", "--throughput", "500", "--linger", "0",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "1", "--json")
	limit := flushGrace + outcomesGrace + exitSlack
	fault := cluster.DelayNextProduce(1, limit+3*time.Second)
	interruptedAt := r.interruptOnce(t, fault)
	s := r.finish(t)
	if took := time.Since(interruptedAt); took > limit {
		t.Errorf("kprod exited %.1f s after Ctrl-C, want at most %v (it flushes for at most %v)", took.Seconds(), limit, flushGrace)
	}
	if s.RecordsSent == 0 || s.RecordsAcked+s.RecordsFailed != s.RecordsSent {
		t.Errorf("sent %d, acked %d, failed %d (%v): a record without exactly one outcome", s.RecordsSent, s.RecordsAcked, s.RecordsFailed, s.Errors)
	}
}

// Ctrl-C while the run's last transaction, which the run's end rather
// than its size ends, is being committed leaves that commit the flush's
// grace, as it does a transaction its size ends. Its records' produce
// request is held 2 s, well within the grace. Without the grace, the
// commit was cut at once and its records aborted.
func TestInterruptDuringTheLastCommitLeavesItTheFlushGrace(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	fault := cluster.DelayNextProduce(1, 2*time.Second)
	r := startUntilProducing(t, "perf", "--brokers", strings.Join(cluster.Addrs(), ","), "--create-topic",
		"--topic", uniqueTopic("txn-last"), "--num-records", "10", "--linger", "0",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "100", "--json")
	r.interruptOnce(t, fault)
	s := r.finish(t)
	// Acked as sent, not 10: were the worker descheduled before handing
	// every record over, Ctrl-C would end the produce phase, and its
	// records would be committed all the same, within the same grace.
	if s.TransactionsCommitted != 1 || s.RecordsSent == 0 || s.RecordsAcked != s.RecordsSent || s.RecordsFailed != 0 {
		t.Errorf("committed %d transactions, sent %d records, acked %d, failed %d (%v); want the last transaction committed within the grace\nstderr:\n%s",
			s.TransactionsCommitted, s.RecordsSent, s.RecordsAcked, s.RecordsFailed, s.Errors, r.stderr.String())
	}
}

// Ctrl-C while kprod reads a FILE argument that waits for input (here
// "-", stdin, left open with a record half written) ends the run at once,
// and produces nothing of that input. Without it, the read held Ctrl-C up
// until stdin closed.
func TestInterruptOfAFileReadWaitingForInput(t *testing.T) {
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	r := startUntilProducingFrom(t, stdinR, "produce", "-b", sharedBroker(t), "--create-topic",
		"-t", uniqueTopic("file-stdin"), "--json", "-")
	stdinR.Close() // the child has its own copy
	if _, err := stdinW.WriteString("half a record, the rest to come"); err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	// kprod's stderr ends when it exits.
	exited := make(chan struct{})
	go func() { _, _ = io.Copy(&r.stderr, r.rest); close(exited) }()
	limit := flushGrace + outcomesGrace + time.Second
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		stdinW.Close()
		<-exited
		t.Errorf("kprod had not exited %v after Ctrl-C; it did once stdin closed", limit)
	}
	if s := r.finish(t); s.RecordsSent != 0 {
		t.Errorf("%d records sent after Ctrl-C, want none\nstderr:\n%s", s.RecordsSent, r.stderr.String())
	}
}

// After Ctrl-C, a commit whose EndTxn the coordinator holds past the
// flush's grace is cut short once it was sent: the coordinator may commit
// the transaction, so the library refuses to abort it, and kprod says,
// within its grace, that the transaction's outcome is unknown. Without the
// refusal, the abort kprod sent after it, answered INVALID_TXN_STATE once
// the commit went through, fenced the producer, and the records kprod
// called aborted were committed.
func TestInterruptOfACommitSentSaysItsOutcomeIsUnknown(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	r := startUntilProducing(t, "perf", "--brokers", strings.Join(cluster.Addrs(), ","), "--create-topic",
		"--topic", uniqueTopic("txn-interrupt-sent"), "--num-records", "1000000000", "--throughput", "500", "--linger", "0",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "1", "--json")
	held, release := cluster.HoldNext(int16(kmsg.EndTxn))
	defer release() // before the cluster closes
	waitCtx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	if err := held.Wait(waitCtx); err != nil {
		t.Fatalf("no EndTxn held within %v: %v", runTimeout, err)
	}
	interruptedAt := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	s := r.finish(t)
	if took, limit := time.Since(interruptedAt), flushGrace+outcomesGrace+exitSlack; took > limit {
		t.Errorf("kprod exited %.1f s after Ctrl-C, want at most %v", took.Seconds(), limit)
	}
	if stderr := r.stderr.String(); !strings.Contains(stderr, "left unaborted") || !strings.Contains(stderr, "outcome is unknown") {
		t.Errorf("stderr does not say the commit's outcome is unknown:\n%s", stderr)
	}
	if s.TransactionsNotEnded != 1 {
		t.Errorf("%d transactions not ended, want the one whose commit was cut short", s.TransactionsNotEnded)
	}
}

// Ctrl-C while kprod connects to a seed broker says so, where it said "no
// broker answered: ApiVersions v4 to ...: interrupt signal received", as if
// the broker were down. The broker here accepts the connection and never
// answers.
func TestInterruptWhileConnectingSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kprodBin, "perf", "-b", ln.Addr().String(), "--json")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Connected: kprod's signal handler is in place, as it is installed
	// before anything connects.
	select {
	case c := <-accepted:
		defer c.Close()
	case <-ctx.Done():
		t.Fatalf("kprod did not connect within %v", runTimeout)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !exitedFailed(err) {
		t.Errorf("exit: %v, want status %d", err, exitFailed)
	}
	want := "kprod: interrupted while connecting to " + ln.Addr().String() + " (interrupt signal received)\n"
	if stderr.String() != want || !strings.Contains(stdout.String(), `"error":"interrupted while connecting`) {
		t.Errorf("stderr %q, stdout %q; want %q and it as JSON", stderr.String(), stdout.String(), want)
	}
}
