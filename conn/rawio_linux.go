//go:build linux && !race && (amd64 || arm64)

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
// calls the Go scheduler is not told of: syscall.RawSyscall6, inside net's
// RawConn, which still parks the goroutine in the netpoller, deadlines and
// Close included, whenever the socket is not ready.
//
// Why: the scheduler treats every system call it is told of as one that
// may block. Once all of a process's Ps have been idle (a producer whose
// synchronous senders all wait for their acks), the next such call wakes
// the runtime's monitor thread (sysmon), which then wakes every 20µs while
// any P is busy, until it has found nothing to do for about a millisecond;
// and a call that lasts across two of its wake-ups, while goroutines wait
// in its P's queue or no other P is idle, has its P handed to another
// thread, which starts that millisecond again. These calls never wait for
// the socket: each asks the kernel not to (MSG_DONTWAIT), whatever mode a
// Config.Dial left the socket in, and returns EAGAIN instead. Telling the
// scheduler of them costs those wake-ups and buys little: about half the
// context switches of a producer with 1,000 synchronous senders (see "The
// scheduler's monitor thread" in PERFORMANCE.md).
//
// What it gives up: a call holds its P while the kernel copies (and, for a
// read, while a write on the same socket holds the socket's lock), and
// unlike Go code it cannot be preempted, so a stop-the-world waits for it.
// maxRawBytes bounds that time.
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
	// iovecs and msg are room for a sendmsg's list of buffers, kept for
	// the next; guarded by writeMu.
	iovecs []syscall.Iovec
	msg    syscall.Msghdr
}

// maxRawBytes is the most one call reads or writes: about 40µs of copying
// on a loopback socket, where the kernel also does the receiving side's
// work. A larger request takes one call per 64 KiB, each a few hundred
// nanoseconds of system call beside its copy.
const maxRawBytes = 64 << 10

// maxIovecs is how many buffers one sendmsg takes (Linux's IOV_MAX).
const maxIovecs = 1024

const (
	recvFlags = syscall.MSG_DONTWAIT
	// A send to a peer that has gone fails with EPIPE, without SIGPIPE.
	sendFlags = syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL
)

// rawCall is one system call on the socket, made when RawConn finds the
// socket ready: its arguments after the socket, its result, and the
// function RawConn calls.
type rawCall struct {
	trap  uintptr        // SYS_RECVFROM, SYS_SENDTO or SYS_SENDMSG
	ptr   unsafe.Pointer // the bytes, or the message
	a2    uintptr        // recvfrom and sendto: how many bytes; sendmsg: the flags
	a3    uintptr        // recvfrom and sendto: the flags
	n     uintptr
	errno syscall.Errno
	try   func(fd uintptr) bool
}

// do makes the call, again if a signal interrupted it; it returns false,
// for RawConn to wait until the socket is ready, if the call would block.
func (rc *rawCall) do(fd uintptr) bool {
	for {
		rc.n, _, rc.errno = syscall.RawSyscall6(rc.trap, fd, uintptr(rc.ptr), rc.a2, rc.a3, 0, 0)
		if rc.errno != syscall.EINTR {
			return rc.errno != syscall.EAGAIN
		}
	}
}

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

// Read is net.Conn's Read, with its errors as net's own reads return them
// (the system call named "read", as net names it).
func (c *rawTCPConn) Read(p []byte) (int, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if len(p) == 0 {
		// Nothing to read, but a closed connection says so, as net's does.
		if err := c.raw.Read(func(uintptr) bool { return true }); err != nil {
			return 0, c.opError("read", err)
		}
		return 0, nil
	}
	rc := &c.read
	rc.trap, rc.ptr, rc.a2, rc.a3 = syscall.SYS_RECVFROM, unsafe.Pointer(&p[0]), uintptr(min(len(p), maxRawBytes)), recvFlags
	err := c.raw.Read(rc.try)
	rc.ptr = nil
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
// the error that stopped it, as net's own writes do.
func (c *rawTCPConn) Write(b []byte) (int, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if len(b) == 0 {
		// Nothing to send, but a closed connection says so, as net's does.
		if err := c.raw.Write(func(uintptr) bool { return true }); err != nil {
			return 0, c.opError("write", err)
		}
		return 0, nil
	}
	rc := &c.write
	defer func() { rc.ptr = nil }()
	written := 0
	for written < len(b) {
		rc.trap, rc.ptr, rc.a2, rc.a3 = syscall.SYS_SENDTO, unsafe.Pointer(&b[written]), uintptr(min(len(b)-written, maxRawBytes)), sendFlags
		err := c.raw.Write(rc.try)
		switch {
		case err != nil:
			return written, c.opError("write", err)
		case rc.errno != 0:
			return written, c.opError("write", os.NewSyscallError("write", rc.errno))
		case rc.n == 0:
			return written, c.opError("write", io.ErrUnexpectedEOF)
		}
		written += int(rc.n)
	}
	return written, nil
}

// writeBuffers writes every buffer of v in order, as net.Buffers' WriteTo
// does with writev, and consumes v as it goes.
func (c *rawTCPConn) writeBuffers(v *net.Buffers) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	rc := &c.write
	defer func() { rc.ptr = nil }()
	for {
		dropWritten(v, 0)
		if len(*v) == 0 {
			return nil
		}
		iov := c.iovecs[:0]
		room := maxRawBytes
		for _, b := range *v {
			if len(iov) == maxIovecs || room == 0 {
				break
			}
			if len(b) > 0 {
				n := min(len(b), room)
				iov = append(iov, syscall.Iovec{Base: &b[0], Len: uint64(n)})
				room -= n
			}
		}
		c.iovecs = iov
		c.msg.Iov, c.msg.Iovlen = &iov[0], uint64(len(iov))
		rc.trap, rc.ptr, rc.a2, rc.a3 = syscall.SYS_SENDMSG, unsafe.Pointer(&c.msg), sendFlags, 0
		err := c.raw.Write(rc.try)
		clear(iov) // keep no buffer alive past its write
		c.msg.Iov = nil
		switch {
		case err != nil:
			return c.opError("writev", err)
		case rc.errno != 0:
			return c.opError("writev", os.NewSyscallError("writev", rc.errno))
		case rc.n == 0:
			return c.opError("writev", io.ErrUnexpectedEOF)
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
// comes bare. One difference stays: net names the network its caller
// dialed ("tcp4", say), which a connection does not remember; this is
// always "tcp".
func (c *rawTCPConn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
