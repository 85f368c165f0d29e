package race

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// embeddedBroker is a running racebroker process: a fresh kfake for one
// run, so that no run inherits another's data or memory.
type embeddedBroker struct {
	addrs  []string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // the rest of its stdout, line by line
	stderr *strings.Builder
}

const (
	brokersPrefix  = "RACE_BROKERS="
	requestsPrefix = "RACE_PRODUCE_REQUESTS="
	brokerWait     = 30 * time.Second
)

// startEmbedded starts the broker binary and waits for its addresses.
func startEmbedded(ctx context.Context, binary string) (*embeddedBroker, error) {
	cmd := exec.Command(binary)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	b := &embeddedBroker{cmd: cmd, stdin: stdin, lines: make(chan string, 4), stderr: &strings.Builder{}}
	cmd.Stderr = b.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the embedded broker: %w", err)
	}
	go func() {
		defer close(b.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
	}()
	timer := time.NewTimer(brokerWait)
	defer timer.Stop()
	select {
	case line, ok := <-b.lines:
		if !ok {
			err = errors.New("the embedded broker exited before it served")
			break
		}
		if a, found := strings.CutPrefix(line, brokersPrefix); found {
			b.addrs = strings.Split(a, ",")
			return b, nil
		}
		err = fmt.Errorf("the embedded broker printed %q, not its addresses", line)
	case <-timer.C:
		err = fmt.Errorf("the embedded broker did not serve within %v", brokerWait)
	case <-ctx.Done():
		err = ctx.Err()
	}
	// Kill it and read the rest of its stdout before Wait: the reader
	// goroutine must not block on a full channel for ever, and Wait closes
	// the pipe, so it comes after the last read of it.
	_ = cmd.Process.Kill()
	for range b.lines {
	}
	_ = cmd.Wait()
	return nil, fmt.Errorf("%w (stderr: %s)", err, strings.TrimSpace(b.stderr.String()))
}

// stop closes the broker's stdin, which ends it, and returns how many
// Produce requests it served. A broker that has not exited within
// brokerWait is killed.
func (b *embeddedBroker) stop() (int64, error) {
	_ = b.stdin.Close()
	killer := time.AfterFunc(brokerWait, func() { _ = b.cmd.Process.Kill() })
	var requests int64 = -1
	var err error
	for line := range b.lines {
		if n, found := strings.CutPrefix(line, requestsPrefix); found {
			requests, err = strconv.ParseInt(n, 10, 64)
		}
	}
	// Wait closes stdout, so it comes after the last read of it.
	werr := b.cmd.Wait()
	switch {
	case !killer.Stop():
		return -1, fmt.Errorf("the embedded broker did not stop within %v; killed", brokerWait)
	case werr != nil:
		return -1, fmt.Errorf("the embedded broker: %w (stderr: %s)", werr, strings.TrimSpace(b.stderr.String()))
	case err != nil:
		return -1, fmt.Errorf("the embedded broker's Produce request count: %w", err)
	case requests < 0:
		return -1, errors.New("the embedded broker did not report its Produce requests")
	}
	return requests, nil
}
