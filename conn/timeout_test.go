package conn

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
)

// A broker's quota pause (Paused) gives each request awaiting its answer
// the pause on top of its RequestTimeout: the broker reads none of them
// meanwhile.
func TestAPauseDefersTheTimeoutsOfTheRequestsInFlight(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)
	waiting := newOutcome()
	c.Send(context.Background(), metadataRequest(), waiting.done) // deadline t+5s
	bc.next(t)
	fake.Advance(4 * time.Second)
	c.Paused(3 * time.Second)     // deadline t+8s
	fake.Advance(2 * time.Second) // past the first deadline: the watcher looks
	extended, timeout := time.Unix(1008, 0), time.After(waitTime)
	for !slices.Contains(fake.Deadlines(), extended) {
		select {
		case res := <-waiting.ch:
			t.Fatalf("the request timed out within its pause: %v", res.err)
		case <-fake.Armed():
		case <-timeout:
			t.Fatal("the timeout watcher armed no timer for the deferred deadline within the wait time")
		}
	}
	fake.Advance(2 * time.Second)
	if res := waiting.wait(t, "the request past its pause"); !errors.Is(res.err, ErrRequestTimeout) {
		t.Fatalf("error %v, want ErrRequestTimeout", res.err)
	}
}

// A request sent during a broker's quota pause waits out what is left of
// it unread, like those already in flight (KIP-219: the broker mutes the
// connection), so its RequestTimeout counts from the pause's end; a
// request sent once the pause is over gets the usual deadline. Counted
// from its sending, a Metadata request sent in a pause longer than
// RequestTimeout timed out, and its timeout closed the connection with
// the Produce requests waiting out the pause on it.
func TestARequestSentDuringAPauseTimesOutOnlyARequestTimeoutAfterThePause(t *testing.T) {
	start := time.Unix(1000, 0)
	fake := clock.NewFake(start)
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)

	c.Paused(10 * time.Second) // until t+10s
	fake.Advance(time.Second)
	inPause := newOutcome()
	c.Send(context.Background(), metadataRequest(), inPause.done) // deadline t+15s
	r := bc.next(t)
	fake.Advance(13 * time.Second) // past t+6s, a timeout from the sending
	if _, ok := awaitTimerBetween(t, fake, start.Add(15*time.Second), start.Add(15*time.Second), c.Done()); !ok {
		t.Fatalf("the request sent during the pause timed out before a RequestTimeout after it: %v", c.Err())
	}
	bc.reply(r, metadataResponse())
	if res := inPause.wait(t, "the request sent during the pause"); res.err != nil {
		t.Fatalf("the request sent during the pause: %v", res.err)
	}

	after := newOutcome()
	c.Send(context.Background(), metadataRequest(), after.done) // at t+14s
	bc.next(t)
	if _, ok := awaitTimerBetween(t, fake, start.Add(19*time.Second), start.Add(19*time.Second), c.Done()); !ok {
		t.Fatalf("the connection closed before the request sent after the pause timed out: %v", c.Err())
	}
	fake.Advance(5 * time.Second)
	if res := after.wait(t, "the request sent after the pause"); !errors.Is(res.err, ErrRequestTimeout) {
		t.Fatalf("error %v, want ErrRequestTimeout a RequestTimeout after the sending", res.err)
	}
}

// A shorter quota pause reported while a longer one lasts does not cut
// the longer one short: a request sent during it keeps its RequestTimeout
// from the longer pause's end, rather than timing out, with the connection
// and every request on it, while the broker still holds it unread.
func TestAShorterPauseDoesNotShortenALongerOne(t *testing.T) {
	start := time.Unix(1000, 0)
	fake := clock.NewFake(start)
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)

	c.Paused(10 * time.Second) // until t+10s
	fake.Advance(time.Second)
	c.Paused(2 * time.Second) // until t+3s: inside the first
	o := newOutcome()
	c.Send(context.Background(), metadataRequest(), o.done) // due t+15s
	bc.next(t)
	fake.Advance(7 * time.Second) // t+8s: past a deadline from the shorter pause
	due := start.Add(15 * time.Second)
	if _, ok := awaitTimerBetween(t, fake, due, due, c.Done()); !ok {
		t.Fatalf("the request timed out before a RequestTimeout after the longer pause: %v", c.Err())
	}
}

// A quota pause holds up a write as it holds up a request: the broker
// reads nothing until it ends. So a write begun during the pause, like its
// request, has RequestTimeout from the pause's end, and a write in
// progress when the pause begins gets the pause on top. net.Pipe has no
// buffer: the write blocks until the broker, which reads nothing after the
// handshake, gives up.
func TestAQuotaPauseDefersTheTimeoutOfAStuckWrite(t *testing.T) {
	t.Run("begun during the pause", func(t *testing.T) {
		stuckWriteInPause(t, true)
	})
	t.Run("in progress as the pause begins", func(t *testing.T) {
		stuckWriteInPause(t, false)
	})
}

func stuckWriteInPause(t *testing.T, pauseFirst bool) {
	start := time.Unix(1000, 0)
	fake := clock.NewFake(start)
	client, server := net.Pipe()
	defer server.Close()
	go answerHandshakeOnly(t, server)
	cfg := Config{Clock: fake, RequestTimeout: 5 * time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
	c, err := Dial(context.Background(), "pipe", cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()

	// The pause lasts from t+1s to t+11s; the write begins at t+1s, due
	// at t+6s without the pause.
	fake.Advance(time.Second)
	if pauseFirst {
		c.Paused(10 * time.Second)
	}
	o := newOutcome()
	go c.Send(context.Background(), metadataRequest(), o.done)
	// The request is queued, with its deadline and its write's, as the
	// write begins.
	for begun := time.Now().Add(waitTime); c.InFlight() == 0; {
		if time.Now().After(begun) {
			t.Fatalf("the write did not begin within the wait time (%v)", c.Err())
		}
		time.Sleep(time.Millisecond)
	}
	if !pauseFirst {
		c.Paused(10 * time.Second)
	}
	fake.Advance(13 * time.Second) // past t+6s
	due := start.Add(16 * time.Second)
	if _, ok := awaitTimerBetween(t, fake, due, due, c.Done()); !ok {
		t.Fatalf("the stuck write timed out before a RequestTimeout after the pause: %v", c.Err())
	}
	fake.Advance(2 * time.Second)
	if res := o.wait(t, "the stuck write"); !errors.Is(res.err, ErrRequestTimeout) {
		t.Fatalf("error %v, want ErrRequestTimeout", res.err)
	}
}
