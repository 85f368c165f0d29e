package clock

import (
	"syscall"
	"time"
)

// wallMillis reads the wall clock through gettimeofday, which Go calls
// through the vDSO on linux/amd64: one clock read, where time.Now makes
// two (wall and monotonic), half the cost of a record's timestamp.
func wallMillis() int64 {
	var tv syscall.Timeval
	if err := syscall.Gettimeofday(&tv); err != nil {
		return time.Now().UnixMilli()
	}
	return tv.Sec*1000 + int64(tv.Usec)/1000
}
