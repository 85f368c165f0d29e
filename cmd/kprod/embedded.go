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
	"sync/atomic"
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
//
// Ctrl-C in a terminal signals the whole foreground process group. The
// child must outlive the parent's final flush, so it runs in a process group
// of its own (detach) and, should a SIGINT reach it anyway, ignores it: the
// parent alone decides when its broker goes.

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
	stopOn := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if child {
		// Not os.Interrupt: subscribing to it would undo the Ignore.
		signal.Ignore(os.Interrupt)
		stopOn = stopOn[1:]
	}
	ctx, stop := signal.NotifyContext(ctx, stopOn...)
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
	addrs    []string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	exited   chan struct{} // closed once the child has exited and been waited for
	exitErr  error         // cmd.Wait's result, set before exited closes
	stopping atomic.Bool   // set by stop: an exit after it is expected
	once     sync.Once
}

// startEmbeddedBroker starts `kprod broker --child` and waits for its
// addresses. Its stderr is kept and shown only if it fails to start.
func startEmbeddedBroker(ctx context.Context, stderr io.Writer) (*brokerProcess, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding kprod's own executable: %w", err)
	}
	cmd := exec.Command(self, "broker", "--child")
	detach(cmd)
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
	b := &brokerProcess{cmd: cmd, stdin: stdin, exited: make(chan struct{})}

	type result struct {
		addrs []string
		err   error
	}
	ready := make(chan result, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		served := false
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), brokerAddrPrefix); ok {
				ready <- result{addrs: strings.Split(a, ",")}
				served = true
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		if !served {
			ready <- result{err: errors.New("the broker process exited before it served")}
		}
		// Wait closes stdout, so it comes after the last read of it.
		b.exitErr = cmd.Wait()
		close(b.exited)
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

// exitedEarly reports how the child ended if it did before stop was
// called, and nil while it runs.
func (b *brokerProcess) exitedEarly() error {
	select {
	case <-b.exited:
		if b.stopping.Load() {
			return nil
		}
		if b.exitErr != nil {
			return b.exitErr
		}
		return errors.New("exit status 0")
	default:
		return nil
	}
}

// stop ends the child, once: closing its stdin asks it to stop; if it has
// not within brokerStopTimeout, it is killed.
func (b *brokerProcess) stop() {
	b.once.Do(func() {
		b.stopping.Store(b.exitedEarly() == nil)
		_ = b.stdin.Close()
		t := time.NewTimer(brokerStopTimeout)
		defer t.Stop()
		select {
		case <-b.exited:
		case <-t.C:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
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
