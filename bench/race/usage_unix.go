//go:build unix

package race

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"
)

// usageOf is a finished process's CPU time (user+sys) and peak RSS in
// bytes, from the rusage its parent collected when it was waited for.
func usageOf(ps *os.ProcessState) (time.Duration, int64, error) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, 0, fmt.Errorf("no rusage for process %d", ps.Pid())
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rss := int64(ru.Maxrss)
	if runtime.GOOS != "darwin" {
		rss *= 1024 // Linux and the BSDs count kilobytes, macOS bytes
	}
	return cpu, rss, nil
}
