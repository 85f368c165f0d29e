//go:build unix

package integration

import "syscall"

// freeze stops process pid (SIGSTOP) without killing it: it keeps its
// sockets and handles nothing.
func freeze(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }

// thaw lets a process that freeze stopped run again (SIGCONT).
func thaw(pid int) error { return syscall.Kill(pid, syscall.SIGCONT) }
