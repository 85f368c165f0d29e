package main

import (
	"syscall"
	"time"
)

// wallMicros is the wall clock in microseconds since the Unix epoch, read
// through gettimeofday, which Go calls through the vDSO on linux/amd64: one
// clock reading, cheaper there than time.Now's two and than the monotonic
// clock alone (time.Since), whose reading goes through the runtime. The
// library reads a record's timestamp the same way.
func wallMicros() int64 {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return time.Now().UnixMicro()
	}
	return tv.Sec*1_000_000 + int64(tv.Usec)
}
