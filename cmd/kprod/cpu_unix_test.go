//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// The cpu line is the user plus system time of the process: a producer
// spends much of its time in the kernel, writing to sockets, and user
// time alone would print it cheaper than it is. Read between two readings
// of the process's usage, cpuTime lies between their sums of user and
// system time; system time is spent first, by asking the kernel something
// until it has counted at least a millisecond of it, so that a cpuTime
// without it would fall below the first sum.
func TestCPUTimeCountsUserAndSystemTime(t *testing.T) {
	usage := func() (user, system time.Duration) {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	}
	for _, system := usage(); system < time.Millisecond; _, system = usage() {
		for range 1000 {
			_ = os.Getppid()
		}
	}
	user0, system0 := usage()
	cpu := cpuTime()
	user1, system1 := usage()
	if cpu < user0+system0 || cpu > user1+system1 {
		t.Errorf("cpuTime %v, want between %v (user %v + system %v) and %v (user %v + system %v)",
			cpu, user0+system0, user0, system0, user1+system1, user1, system1)
	}
}
