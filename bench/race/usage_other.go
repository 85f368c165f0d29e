//go:build !unix

package race

import (
	"errors"
	"os"
	"time"
)

// usageOf needs a Unix rusage; elsewhere the race cannot measure a process.
func usageOf(*os.ProcessState) (time.Duration, int64, error) {
	return 0, 0, errors.New("measuring a process's CPU time and peak RSS needs a Unix rusage")
}
