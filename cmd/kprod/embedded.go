package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gokafka/producer/integration/embedded"
)

// The embedded broker runs in a child process, `kprod broker --child`, not in
// kprod's own: the CPU time and the allocations a run reports are then the
// producer's alone, not the broker's too, and the two do not share a garbage
// collector. The child prints its addresses on one line and lives until its
// stdin closes, which happens when the parent exits, however it exits.

const (
	brokerAddrPrefix   = "KPROD_BROKERS="
	brokerStartTimeout = 60 * time.Second
	brokerStopTimeout  = 10 * time.Second
)

func newBrokerCommand(e *env) *cobra.Command {
	var child bool
	var count int
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run an embedded broker until interrupted, for other kprod runs to use",
		Long: `broker starts the embedded broker that perf and produce use without --brokers,
prints "` + brokerAddrPrefix + `host:port" on stdout and serves until Ctrl-C:

  kprod broker &                # prints KPROD_BROKERS=127.0.0.1:PORT
  kprod perf --brokers 127.0.0.1:PORT`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 {
				return usagef("--count: %d is less than 1", count)
			}
			return serveBroker(cmd.Context(), e, count, child)
		},
	}
	cmd.Flags().IntVar(&count, "count", 1, "brokers in the embedded cluster")
	cmd.Flags().BoolVar(&child, "child", false, "run as kprod's child: ignore Ctrl-C, stop when stdin closes")
	_ = cmd.Flags().MarkHidden("child")
	return cmd
}

// serveBroker runs the embedded cluster until a signal or, as a child, until
// stdin closes.
func serveBroker(ctx context.Context, e *env, count int, child bool) error {
	if child {
		// Ctrl-C reaches the whole process group; the parent decides when
		// its broker goes, by closing our stdin after its final flush.
		signal.Ignore(os.Interrupt)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cluster, err := embedded.Start(embedded.Options{Brokers: count})
	if err != nil {
		return err
	}
	defer cluster.Close()
	fmt.Fprintf(e.stdout, "%s%s\n", brokerAddrPrefix, joinComma(cluster.Addrs()))
	if child {
		go func() {
			_, _ = io.Copy(io.Discard, e.stdin)
			stop()
		}()
	}
	<-ctx.Done()
	return nil
}

// brokerProcess is a running child broker.
type brokerProcess struct {
	addrs []string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	once  sync.Once
}

// startEmbeddedBroker starts `kprod broker --child` and waits for its
// addresses. Its stderr is kept and shown only if it fails to start.
func startEmbeddedBroker(ctx context.Context, stderr io.Writer) (*brokerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding kprod's own executable: %w", err)
	}
	cmd := exec.Command(self, "broker", "--child")
	var logs lockedBuffer
	cmd.Stderr = &logs
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &brokerProcess{cmd: cmd, stdin: stdin}

	type result struct {
		addrs []string
		err   error
	}
	ready := make(chan result, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), brokerAddrPrefix); ok {
				ready <- result{addrs: strings.Split(a, ",")}
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- result{err: errors.New("the broker process exited before it served")}
	}()
	timer := time.NewTimer(brokerStartTimeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-ready:
	case <-timer.C:
		r.err = fmt.Errorf("the broker did not start within %v", brokerStartTimeout)
	case <-ctx.Done():
		r.err = context.Cause(ctx)
	}
	if r.err != nil {
		b.stop()
		if l := strings.TrimSpace(logs.String()); l != "" {
			fmt.Fprintf(stderr, "%s: broker output:\n%s\n", programName, l)
		}
		return nil, r.err
	}
	b.addrs = r.addrs
	return b, nil
}

// stop ends the child, once.
func (b *brokerProcess) stop() {
	b.once.Do(func() { stopChild(b.cmd, b.stdin) })
}

// stopChild ends a `kprod broker` child: closing its stdin asks it to stop;
// if it has not within brokerStopTimeout, it is killed.
func stopChild(cmd *exec.Cmd, stdin io.Closer) {
	_ = stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t := time.NewTimer(brokerStopTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = cmd.Process.Kill()
		<-done
	}
}

// lockedBuffer collects the end of a child's output, written by exec's
// copier goroutine and read by us.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// maxBrokerLog bounds what a long run keeps of the broker's output.
const maxBrokerLog = 64 << 10

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.b.Len() > maxBrokerLog {
		tail := append([]byte(nil), l.b.Bytes()[l.b.Len()-maxBrokerLog/2:]...)
		l.b.Reset()
		l.b.Write(tail)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
