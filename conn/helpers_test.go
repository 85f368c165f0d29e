package conn

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
)

// outcome records a done callback's calls, so tests can check it ran
// exactly once and with what.
type outcome struct {
	calls atomic.Int32
	ch    chan result
}

type result struct {
	resp protocol.Response
	err  error
}

func newOutcome() *outcome { return &outcome{ch: make(chan result, 4)} }

func (o *outcome) done(resp protocol.Response, err error) {
	o.calls.Add(1)
	o.ch <- result{resp, err}
}

// wait returns the callback's result, failing if it does not come in time.
func (o *outcome) wait(t testing.TB, what string) result {
	t.Helper()
	select {
	case r := <-o.ch:
		return r
	case <-time.After(waitTime):
		t.Fatalf("%s: done was not called within the wait time", what)
	}
	return result{}
}

// dial connects to fb with cfg, failing the test on error, and closes the
// connection at cleanup.
func dial(t testing.TB, fb *fakeBroker, cfg Config) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	c, err := Dial(ctx, fb.addr(), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// assertStopped checks that c's reader and timeout watcher have exited.
// Close waits for them, so once it has returned this needs no waiting.
func assertStopped(t testing.TB, c *Conn) {
	t.Helper()
	for what, ch := range map[string]chan struct{}{"reader": c.readerDone, "timeout watcher": c.watcherDone} {
		select {
		case <-ch:
		default:
			t.Errorf("the connection's %s is still running", what)
		}
	}
}

// waitNoConnGoroutines fails unless every connection goroutine (reader or
// timeout watcher) of this package is gone within the wait time. Tests in
// this package do not run in parallel and close what they open, so none
// should remain; the wait covers only a goroutine's last instructions after
// it has signalled its exit, which is all Close waits for.
func waitNoConnGoroutines(t testing.TB, when string) {
	t.Helper()
	deadline := time.Now().Add(waitTime)
	for connGoroutines() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d connection goroutines still running", when, connGoroutines())
		}
		time.Sleep(time.Millisecond)
	}
}

// connGoroutines counts running goroutines of this package's connections
// (readers and timeout watchers), from a full stack dump.
func connGoroutines() int {
	stacks := bounded.Stacks()
	return strings.Count(stacks, "conn.(*Conn).readLoop(") + strings.Count(stacks, "conn.(*Conn).watchTimeouts(")
}

// waitClosed fails unless ch is closed within the wait time.
func waitClosed(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTime):
		t.Fatalf("%s: not closed within the wait time", what)
	}
}

func metadataRequest() *protocol.MetadataRequest {
	name := "events"
	return &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{{Name: &name}}}
}
