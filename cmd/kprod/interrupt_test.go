//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Ctrl-C stops producing, flushes, prints the summary and exits 1.
func TestInterruptFlushesAndReports(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kprodBin, "perf", "--brokers", sharedBroker(t), "--topic", uniqueTopic("interrupt"),
		"--num-records", "1000000000", "--throughput", "2000", "--json")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// "producing" is printed once the signal handler is installed and the
	// topic exists: from then on SIGINT means "stop and report".
	var stderr strings.Builder
	sc := bufio.NewScanner(stderrPipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "producing") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&stderr, stderrPipe)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailed {
		t.Fatalf("exit: %v, want status %d\nstderr:\n%s", err, exitFailed, stderr.String())
	}
	s := parseSummary(t, result{stdout: stdout.String(), stderr: stderr.String()})
	if !s.Interrupted {
		t.Errorf("summary does not say interrupted: %+v", s)
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not mention the interruption:\n%s", stderr.String())
	}
}
