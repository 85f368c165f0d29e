//go:build linux && !race && (amd64 || arm64)

package conn

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gokafka/producer/internal/testcerts"
)

// tcpPair is a rawTCPConn and the plain *net.TCPConn at its other end.
func tcpPair(t *testing.T) (*rawTCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := ln.Accept()
		accepted <- nc
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var peer net.Conn
	select {
	case peer = <-accepted:
	case <-time.After(waitTime):
		t.Fatal("the listener accepted no connection")
	}
	if peer == nil {
		t.Fatal("the listener's Accept failed")
	}
	raw, ok := withRawIO(nc).(*rawTCPConn)
	if !ok {
		t.Fatalf("withRawIO(%T) is not a rawTCPConn", nc)
	}
	// The peer first: its Close ends a call a regression left stuck in the
	// kernel, which raw's Close would wait for.
	t.Cleanup(func() { peer.Close(); raw.Close() })
	return raw, peer.(*net.TCPConn)
}

// A list longer than one writev takes, empty buffers among the full ones
// and more bytes than the socket holds, then one buffer larger still: the
// peer reads every byte in order, and the list is consumed.
func TestARawConnWritesEveryBufferInOrderAcrossPartialWrites(t *testing.T) {
	raw, peer := tcpPair(t)
	var want []byte
	var v net.Buffers
	for i := range 3 * maxIovecs {
		b := bytes.Repeat([]byte{byte(i)}, i%7*1000) // every seventh empty
		v = append(v, b)
		want = append(want, b...)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	raw.SetWriteDeadline(time.Now().Add(waitTime)) // a regression fails rather than hangs
	if err := raw.writeBuffers(&v); err != nil {
		t.Fatalf("writeBuffers: %v", err)
	}
	if len(v) != 0 {
		t.Errorf("writeBuffers left %d buffers of its list", len(v))
	}
	end := make([]byte, 8<<20) // Write, too, across partial writes
	for i := range end {
		end[i] = byte(i / 4093)
	}
	if n, err := raw.Write(end); n != len(end) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(end))
	}
	want = append(want, end...)
	raw.Close()
	select {
	case b := <-got:
		if !bytes.Equal(b, want) {
			t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want))
		}
	case <-time.After(waitTime):
		t.Fatal("the peer did not read to the end")
	}
}

// A write the peer never reads waits, past EAGAIN, until its deadline, and
// fails as net's own write would: a timeout, naming the op and addresses.
func TestARawConnWriteTheSocketCannotTakeEndsAtItsDeadline(t *testing.T) {
	raw, _ := tcpPair(t)
	raw.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	v := net.Buffers{make([]byte, 64<<20)} // more than any socket buffer
	err := raw.writeBuffers(&v)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writeBuffers: %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("writeBuffers: %v is not a net.Error that timed out", err)
	}
	want := "writev tcp " + raw.LocalAddr().String() + "->" + raw.RemoteAddr().String() + ": i/o timeout"
	if err.Error() != want {
		t.Errorf("writeBuffers: %q, want %q", err, want)
	}
	if len(v) != 1 || len(v[0]) == 0 {
		t.Errorf("the list holds %d buffers: want the one the socket did not take all of", len(v))
	}
}

// Close ends a write in progress and a read waiting for bytes, as it ends
// net's own.
func TestClosingARawConnEndsItsWriteAndItsRead(t *testing.T) {
	raw, peer := tcpPair(t)
	errs := make(chan error, 2)
	go func() {
		_, err := raw.Write(make([]byte, 64<<20)) // more than any socket buffer
		errs <- err
	}()
	go func() {
		_, err := raw.Read(make([]byte, 10))
		errs <- err
	}()
	// A byte at the peer: the write has begun, and waits for room.
	peer.SetReadDeadline(time.Now().Add(waitTime))
	if _, err := peer.Read(make([]byte, 1)); err != nil {
		t.Fatalf("the peer read nothing of the write: %v", err)
	}
	raw.Close()
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("after Close: %v, want net.ErrClosed", err)
			}
		case <-time.After(waitTime):
			t.Fatal("Close did not end the write and the read")
		}
	}
}

// Read returns what arrives, io.EOF when the peer closes, and a reset as
// net's own read reports it.
func TestARawConnReadsAsNetDoes(t *testing.T) {
	raw, peer := tcpPair(t)
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if n, err := raw.Read(nil); n != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v; want 0, nil", n, err)
	}
	b, err := io.ReadAll(io.LimitReader(raw, 5))
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v; want \"hello\"", b, err)
	}
	peer.Close()
	if n, err := raw.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("after the peer closed: Read = %d, %v; want 0, io.EOF", n, err)
	}

	raw, peer = tcpPair(t)
	peer.SetLinger(0) // close with a reset
	peer.Close()
	_, err = raw.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after a reset: Read error %v, want ECONNRESET", err)
	}
	want := "read tcp " + raw.LocalAddr().String() + "->" + raw.RemoteAddr().String() + ": read: connection reset by peer"
	if err.Error() != want {
		t.Errorf("after a reset: %q, want %q", err, want)
	}
}

// Every connection Dial makes over TCP reads and writes through a
// rawTCPConn, beneath TLS too.
func TestDialedConnectionsUseRawIO(t *testing.T) {
	c := dial(t, newFakeBroker(t), Config{})
	defer c.Close()
	if _, ok := c.nc.(*rawTCPConn); !ok {
		t.Errorf("a plain TCP connection is a %T, not a rawTCPConn", c.nc)
	}

	s := newTLSSetup(t, testcerts.Valid("broker", time.Hour, "127.0.0.1"), tls.NoClientCert, nil)
	tc, err := dialTLS(s.fb.addr(), &tls.Config{RootCAs: s.ca.Pool()})
	if err != nil {
		t.Fatalf("Dial over TLS: %v", err)
	}
	defer tc.Close()
	tlsConn, ok := tc.nc.(*tls.Conn)
	if !ok {
		t.Fatalf("a TLS connection is a %T", tc.nc)
	}
	if _, ok := tlsConn.NetConn().(*rawTCPConn); !ok {
		t.Errorf("TLS runs over a %T, not a rawTCPConn", tlsConn.NetConn())
	}
}

// setBlocking puts the socket of c in blocking mode, as os.File's Fd does
// to a socket a Config.Dial took a File of.
func setBlocking(t *testing.T, c *rawTCPConn) {
	t.Helper()
	var err error
	if cerr := c.raw.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), false) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// A socket left in blocking mode (a Config.Dial that took its File, say)
// still never makes a call wait in the kernel, holding its P where no
// deadline, Close or stop-the-world can reach it: with nothing to read,
// and no room to write, each waits in the netpoller until its deadline.
// One at a time, so that a call stuck in the kernel holds one P of two
// and the test can still say so (the peer's Close in Cleanup ends it).
func TestARawConnNeverWaitsInTheKernelOnABlockingSocket(t *testing.T) {
	raw, _ := tcpPair(t) // the peer never reads or writes
	setBlocking(t, raw)
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"read", func() error { _, err := raw.Read(make([]byte, 10)); return err }},
		{"write", func() error { _, err := raw.Write(make([]byte, 64<<20)); return err }}, // more than any socket buffer
	} {
		raw.SetDeadline(time.Now().Add(50 * time.Millisecond))
		errc := make(chan error, 1)
		go func() { errc <- call.do() }()
		select {
		case err := <-errc:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("a %s on a blocking socket: %v, want os.ErrDeadlineExceeded", call.name, err)
			}
		case <-time.After(waitTime):
			t.Fatalf("a %s on a blocking socket waited in the kernel past its deadline", call.name)
		}
	}
}

// One call reads at most maxRawBytes, however much is waiting: the time a
// call holds its P, unpreemptible, is bounded.
func TestARawConnReadsAtMostMaxRawBytesACall(t *testing.T) {
	raw, peer := tcpPair(t)
	go peer.Write(make([]byte, 4*maxRawBytes))
	queued := func() int {
		var n int32
		raw.raw.Control(func(fd uintptr) {
			syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
		})
		return int(n)
	}
	for deadline := time.Now().Add(waitTime); queued() <= maxRawBytes; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes reached the socket", queued())
		}
	}
	if n, err := raw.Read(make([]byte, 4*maxRawBytes)); n != maxRawBytes || err != nil {
		t.Fatalf("with %d bytes waiting, Read = %d, %v; want %d, nil", queued()+n, n, err, maxRawBytes)
	}
}

// A write keeps none of its buffers reachable once it returns, whatever
// room for iovecs earlier, longer writes left.
func TestARawConnKeepsNoBufferPastItsWrite(t *testing.T) {
	raw, peer := tcpPair(t)
	go io.Copy(io.Discard, peer)
	long := make(net.Buffers, 3*maxIovecs/2)
	for i := range long {
		long[i] = []byte{byte(i)}
	}
	short := net.Buffers{[]byte("one"), []byte("two")}
	for _, v := range []net.Buffers{long, short} {
		if err := raw.writeBuffers(&v); err != nil {
			t.Fatalf("writeBuffers: %v", err)
		}
	}
	for i, iov := range raw.iovecs[:cap(raw.iovecs)] {
		if iov.Base != nil {
			t.Fatalf("iovec %d of %d still points at a written buffer", i, cap(raw.iovecs))
		}
	}
	if raw.msg.Iov != nil {
		t.Error("the message still points at the iovecs")
	}
}

// An empty Write on a closed connection fails, as net's does.
func TestARawConnsEmptyWriteAfterCloseFails(t *testing.T) {
	raw, _ := tcpPair(t)
	raw.Close()
	if _, err := raw.Write(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write(nil) after Close: %v, want net.ErrClosed", err)
	}
}

// One call writes at most maxRawBytes, however much the socket would
// take: the time a call holds its P, unpreemptible, is bounded for writes
// as for reads. (Unbounded, one call on the loopback took a megabyte.)
func TestARawConnWritesAtMostMaxRawBytesACall(t *testing.T) {
	raw, peer := tcpPair(t)
	go io.Copy(io.Discard, peer)
	largest := 0
	raw.write.try = func(fd uintptr) bool {
		done := raw.write.do(fd)
		if done && raw.write.errno == 0 {
			largest = max(largest, int(raw.write.n))
		}
		return done
	}
	raw.SetWriteDeadline(time.Now().Add(waitTime))
	if _, err := raw.Write(make([]byte, 16*maxRawBytes)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	v := net.Buffers{make([]byte, 5*maxRawBytes), make([]byte, 3), make([]byte, 8*maxRawBytes)}
	if err := raw.writeBuffers(&v); err != nil {
		t.Fatalf("writeBuffers: %v", err)
	}
	if largest > maxRawBytes {
		t.Errorf("one call wrote %d bytes, more than maxRawBytes (%d)", largest, maxRawBytes)
	}
}

// An empty Read on a closed connection fails, as net's does.
func TestARawConnsEmptyReadAfterCloseFails(t *testing.T) {
	raw, _ := tcpPair(t)
	raw.Close()
	if _, err := raw.Read(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read(nil) after Close: %v, want net.ErrClosed", err)
	}
}
