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

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
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

// tearingDial is a Config.Dial that dials TCP and keeps the tearingConn it
// returns in tc; its torn writes fail with a reset.
func tearingDial(tc *atomic.Pointer[tearingConn]) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		torn := &tearingConn{Conn: nc, err: errors.New("connection reset by peer")}
		tc.Store(torn)
		return torn, nil
	}
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

// The connection a failed write killed is torn down once the writer has
// let go of the write lock: Events.Closed and the done callbacks of the
// requests its death fails, the torn one's and one's in flight before it,
// run outside the lock, as no callback runs under it. A writer that tore
// the connection down first ran them all under the lock, and a callback
// that sent again waited for it for ever. Once dead, the connection awaits
// nothing: InFlight is 0, the requests its death failed forgotten.
func TestTheCallbacksOfAFailedWriteRunOutsideTheWriteLock(t *testing.T) {
	fb := newFakeBroker(t)
	var c atomic.Pointer[Conn]
	lockHeld := func() bool { return len(c.Load().writeLock) != 0 }
	closedUnderLock := make(chan bool, 1)
	var tc atomic.Pointer[tearingConn]
	cfg := Config{RequestTimeout: time.Hour, Dial: tearingDial(&tc),
		Events: Events{Closed: func(int32, string, error) { closedUnderLock <- lockHeld() }}}
	c.Store(dial(t, fb, cfg))
	bc := fb.conn(t)

	type ending struct {
		err       error
		underLock bool
	}
	endings := make(chan ending, 2)
	done := func(_ protocol.Response, err error) { endings <- ending{err, lockHeld()} }
	c.Load().Send(context.Background(), metadataRequest(), done)
	expect(t, bc, protocol.Metadata) // left unanswered
	tc.Load().tear.Store(true)
	c.Load().Send(context.Background(), metadataRequest(), done)
	for range 2 {
		e := bounded.Receive(t, endings, waitTime, "the done of a request the failed write failed")
		if !errors.Is(e.err, ErrDisconnected) || errors.Is(e.err, ErrNotSent) {
			t.Errorf("a request failed with %v, want ErrDisconnected, possibly written", e.err)
		}
		if e.underLock {
			t.Error("a request's done ran under the write lock")
		}
	}
	if bounded.Receive(t, closedUnderLock, waitTime, "Events.Closed") {
		t.Error("Events.Closed ran under the write lock")
	}
	if n := c.Load().InFlight(); n != 0 {
		t.Errorf("InFlight = %d on the dead connection, want 0", n)
	}
}
