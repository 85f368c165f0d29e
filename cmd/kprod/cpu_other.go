//go:build !unix

package main

import "time"

// cpuTime is unknown on this platform; the summary then reports zero CPU.
func cpuTime() time.Duration { return 0 }
