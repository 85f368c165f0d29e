package race

import (
	"io"
	"os"
	"strconv"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// peakSampleEvery is how often the harness reads the Java producer's peak
// RSS while it runs, as the Go driver samples its senders' stacks.
const peakSampleEvery = driver.StackSampleEvery

// sampledPeak reads process pid's peak RSS (VmHWM, from /proc/PID/status)
// now and every peakSampleEvery until the returned stop is called, once
// the process has been waited for; stop returns the last value read, 0 if
// none could be.
//
// This is for the JVM, which cannot report its own peak as the Go driver
// does (driver.PeakRSS), and whose rusage maxrss starts at the harness's
// peak. VmHWM only grows, so the last sample before the process exits is
// its peak but for what it added in its last moments: a lower bound a
// sample interval from the truth, where the maxrss may be the harness's.
// Its exact peak would take a wrapper process between the harness and the
// JVM (whose own small peak would then be the floor of the maxrss) or
// stopping the JVM at its exit under ptrace; sampling costs the harness a
// read of one small file every 50 ms, none of it charged to the JVM.
//
// The status file is opened once, when the process has just been started:
// a read through that file finds the process it was opened for or nothing,
// never another that took its pid after it was waited for.
func sampledPeak(pid int) (stop func() int64) {
	status, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return func() int64 { return 0 }
	}
	// The first sample is taken here, before the caller waits for the
	// process: a goroutine scheduled late on a loaded machine could find
	// a short-lived process gone, and the caller would fall back to the
	// maxrss this replaces.
	var first int64
	if p, err := readPeak(status); err == nil {
		first = p
	}
	done, peak := make(chan struct{}), make(chan int64, 1)
	go func() {
		defer status.Close()
		tick := time.NewTicker(peakSampleEvery)
		defer tick.Stop()
		last := first
		for {
			select {
			case <-tick.C:
			case <-done:
				peak <- last
				return
			}
			if p, err := readPeak(status); err == nil {
				last = max(last, p)
			}
		}
	}()
	return func() int64 {
		close(done)
		return <-peak
	}
}

// readPeak reads VmHWM from an open /proc/PID/status, from its start.
func readPeak(status *os.File) (int64, error) {
	text, err := io.ReadAll(io.NewSectionReader(status, 0, 1<<20))
	if err != nil {
		return 0, err
	}
	return driver.ParseVmHWM(text)
}
