//go:build !linux || race || !(amd64 || arm64)

package conn

import "net"

// withRawIO returns nc: a connection reads and writes with system calls
// the scheduler is not told of (rawio_linux.go) only on Linux, on amd64
// and arm64, and not under the race detector. net's own Read and Write
// tell the detector that what one goroutine did before writing bytes
// happened before what another does after reading them, which the
// tests' fake brokers rely on, and raw calls cannot.
func withRawIO(nc net.Conn) net.Conn { return nc }
