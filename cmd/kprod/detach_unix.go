//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// detach puts the child in a process group of its own, out of reach of the
// SIGINT a terminal sends to its foreground group on Ctrl-C.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
