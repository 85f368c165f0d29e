//go:build linux && !race

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
	t.Cleanup(func() { raw.Close(); peer.Close() })
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
	if len(v) != 1 || len(v[0]) == 0 || len(v[0]) == 64<<20 {
		t.Errorf("the list holds %d buffers, the first %d bytes: want what the socket did not take", len(v), len(v[0]))
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
