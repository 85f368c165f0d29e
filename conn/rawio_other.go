//go:build !linux || race

package conn

import "net"

// withRawIO returns nc. Only on Linux does a connection read and write
// with system calls the scheduler is not told of (rawio_linux.go), and not
// under the race detector: net's own reads and writes tell the detector
// that what one goroutine did before its write happened before what
// another does after reading those bytes, and raw system calls cannot.
func withRawIO(nc net.Conn) net.Conn { return nc }
