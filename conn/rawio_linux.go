//go:build linux && !race

package conn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// rawTCPConn is a plain TCP connection whose reads and writes are system
// calls the Go scheduler is not told of: syscall.RawSyscall, inside net's
// RawConn, which still parks the goroutine in the netpoller, deadlines and
// Close included, whenever the socket is not ready.
//
// Why: the scheduler treats every system call it is told of as one that
// may block. Once all of a process's Ps have been idle (a producer whose
// synchronous senders all wait for their acks), the next such call wakes
// the runtime's monitor thread (sysmon), which then wakes every 20µs for
// at least a millisecond; and a call that lasts across two of its wake-ups
// while goroutines wait to run has its P handed to another thread, which
// starts that millisecond again. Go's sockets are non-blocking, so a read
// or write here never sleeps in the kernel: telling the scheduler buys
// nothing and costs those wake-ups, about half the context switches of a
// producer with 1,000 synchronous senders (PERFORMANCE.md has the counts).
// A call still holds its P while the kernel copies, at most a socket
// buffer's worth, as any Go code holds it while it runs.
type rawTCPConn struct {
	*net.TCPConn
	raw syscall.RawConn

	// readMu and writeMu let one read and one write at a time use their
	// call. Each call's function is bound once, so that a read or a write
	// allocates nothing.
	readMu  sync.Mutex
	read    rawCall
	writeMu sync.Mutex
	write   rawCall
	// iovecs is room for a writev's list, kept for the next; guarded by
	// writeMu.
	iovecs []syscall.Iovec
}

// rawCall is one system call, made on the socket when RawConn finds it
// ready: its arguments, its result, and the function RawConn calls.
type rawCall struct {
	trap  uintptr        // SYS_READ, SYS_WRITE or SYS_WRITEV
	buf   unsafe.Pointer // the bytes, or the list of iovecs
	size  uintptr        // how many bytes, or iovecs
	n     uintptr
	errno syscall.Errno
	try   func(fd uintptr) bool
}

// do makes the call, again if a signal interrupted it; it returns false,
// for RawConn to wait until the socket is ready, if the call would block.
func (rc *rawCall) do(fd uintptr) bool {
	for {
		rc.n, _, rc.errno = syscall.RawSyscall(rc.trap, fd, uintptr(rc.buf), rc.size)
		if rc.errno != syscall.EINTR {
			return rc.errno != syscall.EAGAIN
		}
	}
}

// maxIovecs is how many buffers one writev takes (Linux's IOV_MAX).
const maxIovecs = 1024

// withRawIO returns nc as a rawTCPConn if it is a plain TCP connection,
// and nc itself otherwise.
func withRawIO(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &rawTCPConn{TCPConn: tc, raw: raw}
	c.read.try = c.read.do
	c.write.try = c.write.do
	return c
}

// Read is net.Conn's Read, with its errors as net's own reads return them.
func (c *rawTCPConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.readMu.Lock()
	defer c.readMu.Unlock()
	rc := &c.read
	rc.trap, rc.buf, rc.size = syscall.SYS_READ, unsafe.Pointer(&p[0]), uintptr(len(p))
	err := c.raw.Read(rc.try)
	rc.buf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case rc.errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", rc.errno))
	case rc.n == 0:
		return 0, io.EOF
	}
	return int(rc.n), nil
}

// Write is net.Conn's Write: it returns once all of b is written, or with
// the error that stopped it.
func (c *rawTCPConn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	rc := &c.write
	defer func() { rc.buf = nil }()
	written := 0
	for written < len(b) {
		rc.trap, rc.buf, rc.size = syscall.SYS_WRITE, unsafe.Pointer(&b[written]), uintptr(len(b)-written)
		err := c.raw.Write(rc.try)
		switch {
		case err != nil:
			return written, c.opError("write", err)
		case rc.errno != 0:
			return written, c.opError("write", os.NewSyscallError("write", rc.errno))
		}
		written += int(rc.n)
	}
	return written, nil
}

// writeBuffers writes every buffer of v in order, in as few writevs as the
// socket allows, and consumes v as it goes.
func (c *rawTCPConn) writeBuffers(v *net.Buffers) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	rc := &c.write
	defer func() {
		clear(c.iovecs) // keep no buffer alive past its write
		rc.buf = nil
	}()
	for {
		dropWritten(v, 0)
		if len(*v) == 0 {
			return nil
		}
		iov := c.iovecs[:0]
		for _, b := range *v {
			if len(iov) == maxIovecs {
				break
			}
			if len(b) > 0 {
				iov = append(iov, syscall.Iovec{Base: &b[0]})
				iov[len(iov)-1].SetLen(len(b))
			}
		}
		c.iovecs = iov
		rc.trap, rc.buf, rc.size = syscall.SYS_WRITEV, unsafe.Pointer(&iov[0]), uintptr(len(iov))
		err := c.raw.Write(rc.try)
		switch {
		case err != nil:
			return c.opError("writev", err)
		case rc.errno != 0:
			return c.opError("writev", os.NewSyscallError("writev", rc.errno))
		}
		dropWritten(v, int(rc.n))
	}
}

// dropWritten removes the first n bytes from v, and the empty buffers
// after them.
func dropWritten(v *net.Buffers, n int) {
	for len(*v) > 0 && n >= len((*v)[0]) {
		n -= len((*v)[0])
		(*v)[0] = nil
		*v = (*v)[1:]
	}
	if len(*v) > 0 {
		(*v)[0] = (*v)[0][n:]
	}
}

// opError is err as net reports a failed op on this connection: RawConn
// names its ops "raw-read" and "raw-write", and a system call's error
// comes bare.
func (c *rawTCPConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
