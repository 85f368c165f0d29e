//go:build unix

package main

import (
	"bufio"
	"errors"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/producer/integration/embedded"
)

// After the first Ctrl-C, kprod gives the signals back their default
// effect: a second Ctrl-C during the flush the first began ends kprod at
// once, as it ends any program, where one caught and ignored would leave
// the user waiting out the flush's grace. A produce request held at the
// broker keeps that flush going until the second signal comes.
func TestASecondCtrlCEndsKprodAtOnce(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close() // ends the hold too
	r := startUntilProducing(t, "perf", "--brokers", strings.Join(cluster.Addrs(), ","), "--create-topic",
		"--topic", uniqueTopic("second-ctrlc"), "--num-records", "1000000000", "--throughput", "500", "--linger", "0", "--json")
	r.interruptOnce(t, cluster.DelayNextProduce(1, time.Hour))
	// kprod says so once it has handled the first signal, which it
	// stopped listening for as it did.
	br := bufio.NewReader(r.rest)
	for {
		line, err := br.ReadString('\n')
		r.stderr.WriteString(line)
		if strings.Contains(line, "interrupted: flushing") {
			break
		}
		if err != nil {
			t.Fatalf("kprod ended without flushing after Ctrl-C: %v\nstderr:\n%s", err, r.stderr.String())
		}
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(&r.stderr, br)
	err = r.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("exit: %v, want kprod killed by the second SIGINT\nstderr:\n%s", err, r.stderr.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Errorf("exit: %v, want kprod killed by the second SIGINT\nstderr:\n%s", err, r.stderr.String())
	}
}
