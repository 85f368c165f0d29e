package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestNothingIsWrittenBehindAFailedWrite covers a write that fails after
// part of its frame reached the wire: the broker would read whatever
// followed as the rest of that frame, so nothing more may be written on
// the connection, and a request that was not written fails as such
// (ErrNotSent), which lets the sender know its batches were never sent.
//
// The second request is sent at the moment the connection first describes
// the failure (the write's error's Error), which it does before it lets go
// of the write lock. Were the lock let go first, as it once was, the
// request found the connection still alive and the lock free, and was
// written behind the torn frame.
func TestNothingIsWrittenBehindAFailedWrite(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	read := make(chan int64, 1)
	go func() {
		answerHandshakeOnly(t, server)
		n, _ := io.Copy(io.Discard, server)
		read <- n
	}()

	var c *Conn
	second := newOutcome()
	secondReturned := make(chan struct{})
	failure := &describedError{onDescribed: func() {
		lockFree := len(c.writeLock) == 0
		go func() {
			defer close(secondReturned)
			c.Send(context.Background(), metadataRequest(), second.done)
		}()
		if lockFree {
			// Nothing then keeps the second request from being written:
			// wait until it has been, or has failed.
			waitClosed(t, secondReturned, "the second request's Send, with the write lock free")
		}
	}}
	tc := &tearingConn{Conn: client, err: failure}
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	var err error
	c, err = Dial(ctx, "pipe", Config{RequestTimeout: time.Hour,
		Dial: func(context.Context, string, string) (net.Conn, error) { return tc, nil }})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	tc.tear.Store(true)
	first := newOutcome()
	c.Send(context.Background(), metadataRequest(), first.done)
	if r := first.wait(t, "the torn request"); !errors.Is(r.err, ErrDisconnected) || errors.Is(r.err, ErrNotSent) {
		t.Errorf("the torn request failed with %v, want ErrDisconnected, possibly written", r.err)
	}
	if r := second.wait(t, "the request sent as the write failed"); !errors.Is(r.err, ErrNotSent) {
		t.Errorf("the request sent as the write failed ended with %v, want ErrNotSent", r.err)
	}
	waitClosed(t, c.Done(), "Done after a failed write")
	c.Close() // the broker's side reads to the end
	select {
	case n := <-read:
		if want := tc.torn.Load(); n != want {
			t.Errorf("the broker read %d bytes after the handshake, want the %d of the torn frame alone", n, want)
		}
	case <-time.After(waitTime):
		t.Fatal("the broker's side never saw the connection end")
	}
}

// tearingConn is a net.Conn whose write, once tear is set, writes half of
// its bytes and fails with err, as a connection reset mid-frame does.
type tearingConn struct {
	net.Conn
	err  error
	tear atomic.Bool
	torn atomic.Int64 // the bytes of the torn write that went out
}

func (tc *tearingConn) Write(b []byte) (int, error) {
	if !tc.tear.CompareAndSwap(true, false) {
		return tc.Conn.Write(b)
	}
	n, err := tc.Conn.Write(b[:len(b)/2])
	tc.torn.Store(int64(n))
	if err != nil {
		return n, err
	}
	return n, tc.err
}

// describedError is an error that calls onDescribed the first time its
// message is asked for.
type describedError struct {
	once        sync.Once
	onDescribed func()
}

func (e *describedError) Error() string {
	e.once.Do(e.onDescribed)
	return "connection reset by peer in the middle of a frame"
}
