// Package child runs an embedded broker in a process of its own, so that
// the producer's CPU time and memory are its own and not the broker's too,
// and the two do not share a garbage collector. kprod and the race in
// bench/ start their brokers through it.
//
// Parent and child keep three rules:
//   - the child prints its addresses on one line, prefix then
//     host:port[,host:port...], once it serves;
//   - it serves until its stdin closes, which happens when the parent stops
//     it or exits, however it exits;
//   - what it prints after that line is the parent's to read once the child
//     has exited (the race's broker reports its request count so).
package child

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Process is a running child broker.
type Process struct {
	// Addrs is where the child serves, from its first line.
	Addrs []string

	cmd      *exec.Cmd
	stdin    io.WriteCloser
	logs     tail
	exited   chan struct{} // closed once the child has exited and been waited for
	exitErr  error         // cmd.Wait's result, set before exited closes
	after    []string      // the lines after the addresses, set before exited closes
	stopping atomic.Bool   // set by Stop: an exit after it is expected
	killed   atomic.Bool   // set by Stop before it kills the child: that exit is Stop's
	once     sync.Once
	stopErr  error
}

// Start starts cmd, which must be new, with its stdin, stdout and stderr
// taken by the Process, and waits up to wait, or until ctx ends, for the
// line that begins with prefix. On failure the child is killed and the
// error carries the end of its stderr, quoted.
func Start(ctx context.Context, cmd *exec.Cmd, prefix string, wait time.Duration) (*Process, error) {
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	cmd.Stderr = &p.logs
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addrs := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		served := false
		for sc.Scan() {
			if served {
				p.after = append(p.after, sc.Text())
			} else if a, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				addrs <- strings.Split(a, ",")
				served = true
			}
		}
		close(addrs)
		// Wait closes stdout, so it comes after the last read of it.
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case a, ok := <-addrs:
		if ok {
			p.Addrs = a
			return p, nil
		}
		err = errors.New("the broker exited before it served")
	case <-timer.C:
		err = fmt.Errorf("the broker did not serve within %v", wait)
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	p.stopping.Store(true)
	_ = cmd.Process.Kill()
	<-p.exited
	if l := strings.TrimSpace(p.logs.String()); l != "" {
		err = fmt.Errorf("%w; its output:\n%s", err, quoted(l))
	}
	return nil, err
}

// ExitedEarly reports how the child ended if it ended on its own, and nil
// while it runs or once it has stopped as Stop asked. On its own is before
// Stop was called, or by a signal or an error exit that Stop did not cause:
// a child stops cleanly when its stdin closes, and a death just before
// Stop may be noticed only after Stop has begun.
func (p *Process) ExitedEarly() error {
	select {
	case <-p.exited:
		switch {
		case p.killed.Load():
			return nil
		case p.exitErr != nil:
			return p.exitErr
		case p.stopping.Load():
			return nil
		}
		return errors.New("exit status 0")
	default:
		return nil
	}
}

// Exited is closed once the child has exited, on its own or stopped, and
// been waited for; ExitedEarly then tells which. A parent watches it to
// stop using a broker the moment it dies, rather than learn it from its
// requests' timeouts.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop ends the child, once: closing its stdin asks it to stop; if it has
// not within wait, it is killed. The error is how it ended, if not well.
func (p *Process) Stop(wait time.Duration) error {
	p.once.Do(func() {
		early := p.ExitedEarly()
		// An exit already over stays early for ExitedEarly.
		p.stopping.Store(early == nil)
		_ = p.stdin.Close()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-p.exited:
		case <-t.C:
			p.killed.Store(true)
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.stopErr = fmt.Errorf("the broker did not stop within %v; killed", wait)
			return
		}
		switch {
		case early != nil:
			p.stopErr = fmt.Errorf("the broker exited before it was stopped: %w", early)
		case p.exitErr != nil:
			p.stopErr = p.exitErr
		}
		if p.stopErr != nil {
			if l := strings.TrimSpace(p.logs.String()); l != "" {
				p.stopErr = fmt.Errorf("%w; its output:\n%s", p.stopErr, quoted(l))
			}
		}
	})
	return p.stopErr
}

// quoted is the child's output as an error quotes it: each line indented
// by two spaces, so that it reads as the child's, not as the parent's own
// (a parent that prefixes its lines leaves indented ones alone).
func quoted(output string) string {
	return "  " + strings.ReplaceAll(output, "\n", "\n  ")
}

// Output is what the child printed after its addresses, line by line;
// complete once Stop has returned.
func (p *Process) Output() []string {
	select {
	case <-p.exited:
		return p.after
	default:
		return nil
	}
}

// tail keeps the end of a child's stderr, written by exec's copier
// goroutine and read by the parent.
type tail struct {
	mu sync.Mutex
	b  []byte
}

// maxTail bounds what a long run keeps of the broker's output.
const maxTail = 64 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > maxTail {
		t.b = append(t.b[:0], t.b[len(t.b)-maxTail/2:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
