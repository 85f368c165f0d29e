package race

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// A run's topic is read back (checkValues) in a process of its own, the
// racereadback binary, and never in the harness's: a client's rusage
// maxrss, on Linux, starts at the harness's own peak. Go's os/exec starts
// a child with clone(CLONE_VM|CLONE_VFORK), so the child runs on the
// harness's memory map until it calls exec, and exec carries the
// high-water RSS of the map it leaves into the child's maxrss. Reading
// topics back in the harness lifted its peak, run by run, to 52 and then
// 89 MiB. The race now reports each client's own peak (VmHWM) where it
// can read one (peakOf), but falls back on the maxrss where it cannot
// (outside Linux), so whatever the harness does that needs memory still
// belongs in a child like this one.

// readBackRequest is what the racereadback process reads on its stdin: a
// run's topic, where it lies, and what it should hold.
type readBackRequest struct {
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	// ValueSize is the size of the driver's values (driver.Values) the
	// client sent, and Sent how many times it sent each (sentValues).
	ValueSize int   `json:"value_size"`
	Sent      []int `json:"sent"`
}

// readBackGrace is how much longer than readBackTimeout the harness waits
// for the racereadback process: its own timeout, which says how far it
// read, comes first.
const readBackGrace = time.Minute

// readBack runs the racereadback binary on req: nil if the topic holds
// each value as many times as it was sent, else the process's error.
func readBack(ctx context.Context, binary string, req readBackRequest) error {
	in, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("reading %s back: %w", req.Topic, err)
	}
	ctx, cancel := context.WithTimeout(ctx, readBackTimeout+readBackGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	var errOut bytes.Buffer
	cmd.Stdin, cmd.Stderr = bytes.NewReader(in), &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return errors.New(msg)
		}
		return fmt.Errorf("reading %s back: %w", req.Topic, err)
	}
	return nil
}

// ReadBack is the racereadback process: it reads a readBackRequest from
// in and checks the topic it names (checkValues).
func ReadBack(ctx context.Context, in io.Reader) error {
	var req readBackRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		return fmt.Errorf("reading the read-back request: %w", err)
	}
	if len(req.Sent) != driver.RingSize {
		return fmt.Errorf("the read-back request counts %d values, want one per value of the ring (%d)", len(req.Sent), driver.RingSize)
	}
	return checkValues(ctx, req.Brokers, req.Topic, driver.Values(req.ValueSize), req.Sent)
}
