package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/producer/integration/embedded/child"
)

// The tests run the kprod binary, built once here, as a user would: against
// one embedded broker shared by the tests (started with `kprod broker`),
// against a fresh embedded broker for the default command, and against the
// real cluster in KAFKA_BROKERS when it is set.

var kprodBin string

// runTimeout bounds every kprod run of the tests: a hang fails the test
// rather than the whole suite's deadline.
const runTimeout = 2 * time.Minute

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	// kprod reads the brokers `kprod broker` printed from it: one set in
	// the shell running the tests would send their runs there.
	os.Unsetenv(brokersEnv)
	dir, err := os.MkdirTemp("", "kprod-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	kprodBin = filepath.Join(dir, "kprod")
	args := []string{"build", "-o", kprodBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building kprod: %v\n%s", err, out)
		return 1
	}
	defer stopSharedBroker()
	return m.Run()
}

// result is one finished kprod run.
type result struct {
	stdout, stderr string
	code           int
}

// exitedFailed says whether err, a kprod process's Wait, is its exit with
// exitFailed: some records failed, or the run was cut short.
func exitedFailed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == exitFailed
}

// runKprod runs kprod with args and stdin, and waits at most runTimeout.
func runKprod(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runKprodEnv(t, nil, stdin, args...)
}

// runKprodEnv is runKprod with env ("NAME=value") added to the environment.
func runKprodEnv(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kprodBin, args...)
	cmd.Env = append(os.Environ(), env...)
	// On timeout, SIGQUIT makes the Go runtime print every goroutine's
	// stack, which says where it hung.
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(syscall.SIGQUIT); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = 10 * time.Second
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("kprod %s: no exit within %v\nstderr:\n%s", strings.Join(args, " "), runTimeout, r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("kprod %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// The shared broker: `kprod broker`, started by the first test that needs
// it and stopped after the last.
var shared struct {
	once sync.Once
	p    *child.Process
	err  error
}

// sharedBroker returns the shared embedded broker's address.
func sharedBroker(t *testing.T) string {
	t.Helper()
	shared.once.Do(func() {
		shared.p, shared.err = child.Start(context.Background(), exec.Command(kprodBin, "broker", "--child"),
			brokerAddrPrefix, brokerStartTimeout)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return strings.Join(shared.p.Addrs, ",")
}

// stopSharedBroker stops the shared broker, if a test started it.
func stopSharedBroker() {
	if shared.p != nil {
		if err := shared.p.Stop(brokerStopTimeout); err != nil {
			fmt.Fprintf(os.Stderr, "the shared broker: %v\n", err)
		}
	}
}

// requiredFields are the summary's JSON fields that issue 5 fixes, and
// those of transactions (issue 10).
var requiredFields = []string{
	"records_sent", "records_acked", "records_failed", "errors",
	"seconds", "records_per_sec", "mb_per_sec", "latency_ms",
	"batches", "records_per_batch", "compression_ratio",
	"cpu_seconds", "cpu_us_per_record", "allocs_per_record",
	"transactional_id", "transactions_committed", "transactions_aborted", "records_aborted",
	"error",
}

// parseSummary checks that stdout is exactly one JSON object carrying every
// required field, and decodes it.
func parseSummary(t *testing.T, r result) summary {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); strings.TrimSpace(string(rest)) != "" || dec.More() {
		t.Fatalf("stdout has more than one JSON object:\n%s", r.stdout)
	}
	for _, f := range requiredFields {
		if _, ok := fields[f]; !ok {
			t.Errorf("summary lacks %q:\n%s", f, r.stdout)
		}
	}
	var lat map[string]json.RawMessage
	if err := json.Unmarshal(fields["latency_ms"], &lat); err != nil {
		t.Fatalf("latency_ms is not an object: %v", err)
	}
	for _, f := range []string{"p50", "p99", "p999", "max"} {
		if _, ok := lat[f]; !ok {
			t.Errorf("latency_ms lacks %q", f)
		}
	}
	var errs map[string]int64
	if err := json.Unmarshal(fields["errors"], &errs); err != nil || errs == nil {
		t.Errorf("errors is not an object: %s", fields["errors"])
	}
	var s summary
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.RecordsAcked+s.RecordsFailed != s.RecordsSent {
		t.Errorf("acked %d + failed %d != sent %d", s.RecordsAcked, s.RecordsFailed, s.RecordsSent)
	}
	var failed int64
	for _, n := range s.Errors {
		failed += n
	}
	if failed != s.RecordsFailed {
		t.Errorf("errors add up to %d, records_failed is %d", failed, s.RecordsFailed)
	}
	return s
}

// uniqueTopic names a topic no earlier run used, on the shared broker or a
// real cluster.
func uniqueTopic(base string) string {
	return fmt.Sprintf("kprod-test-%s-%d", base, time.Now().UnixNano())
}
