//go:build !unix

package main

import "os/exec"

// detach does nothing here; the child ignores Ctrl-C itself (serveBroker).
func detach(*exec.Cmd) {}
