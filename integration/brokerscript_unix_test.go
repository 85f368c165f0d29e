//go:build unix

package integration

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// killGroupOnCancel has cmd lead a process group of its own, and kills the
// whole group when cmd's context ends: killing a script alone would leave
// what it started (mvn fetching jars, a half-started broker) running,
// adopted by init, after the test has failed.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// processGone says whether process pid has exited: it is gone, or a zombie
// that its new parent has not reaped yet (Linux's /proc says so).
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	// The state follows the command's closing parenthesis.
	_, after, found := strings.Cut(string(stat), ") ")
	return err == nil && found && strings.HasPrefix(after, "Z")
}
