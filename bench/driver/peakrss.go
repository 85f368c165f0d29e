package driver

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// PeakRSS is this process's peak resident set size in bytes, Linux's VmHWM
// from /proc/self/status, or an error where there is none. Main reports it
// (Result.PeakRSS) because the rusage maxrss the harness gets on waiting
// for the process is not the client's own: Go's os/exec starts a child
// with clone(CLONE_VM|CLONE_VFORK), and exec carries the high-water RSS of
// the memory map it leaves, the harness's, into the child's maxrss. VmHWM
// belongs to the memory map exec made, so it starts from nothing.
func PeakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return ParseVmHWM(status)
}

// ParseVmHWM reads the peak RSS in bytes from the text of a /proc/PID/status
// file, whose "VmHWM:" line counts kB. A process that has exited and not
// yet been waited for has no such line: its memory map is gone.
func ParseVmHWM(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		kb, ok := bytes.CutSuffix(bytes.TrimSpace(rest), []byte(" kB"))
		if !ok {
			return 0, fmt.Errorf("VmHWM %q is not in kB", bytes.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(kb)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %w", bytes.TrimSpace(rest), err)
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM line")
}
