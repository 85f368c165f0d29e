package conn

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
)

func TestRequestRoundTrip(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	go func() {
		r := bc.next(t)
		bc.reply(r, metadataResponse())
	}()
	resp, err := c.Request(context.Background(), metadataRequest())
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	md := resp.(*protocol.MetadataResponse)
	if len(md.Topics) != 1 || *md.Topics[0].Name != "events" {
		t.Errorf("decoded %+v", md)
	}
}

func TestPipelining(t *testing.T) {
	const n = 4
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{MaxInFlight: n})
	bc := fb.conn(t)

	outs := make([]*outcome, n)
	for i := range outs {
		outs[i] = newOutcome()
		c.Send(context.Background(), metadataRequest(), outs[i].done)
	}
	// Every request reaches the broker before it answers any.
	reqs := make([]request, n)
	for i := range reqs {
		reqs[i] = bc.next(t)
		if i > 0 && reqs[i].corr <= reqs[i-1].corr {
			t.Errorf("correlation ids not increasing: %d after %d", reqs[i].corr, reqs[i-1].corr)
		}
	}
	if got := c.InFlight(); got != n {
		t.Errorf("InFlight = %d, want %d", got, n)
	}
	for i, r := range reqs {
		resp := metadataResponse()
		resp.ControllerID = int32(i) // tells the answers apart
		bc.reply(r, resp)
	}
	for i, o := range outs {
		res := o.wait(t, "pipelined request")
		if res.err != nil {
			t.Fatalf("request %d: %v", i, res.err)
		}
		if got := res.resp.(*protocol.MetadataResponse).ControllerID; got != int32(i) {
			t.Errorf("request %d got answer %d", i, got)
		}
	}
	if got := c.InFlight(); got != 0 {
		t.Errorf("InFlight = %d after all answers, want 0", got)
	}
}

func TestMaxInFlightBlocksSend(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{MaxInFlight: 2})
	bc := fb.conn(t)
	first, second := newOutcome(), newOutcome()
	c.Send(context.Background(), metadataRequest(), first.done)
	c.Send(context.Background(), metadataRequest(), second.done)
	r1 := bc.next(t)
	r2 := bc.next(t)

	// A third Send blocks; its context ending releases it unsent.
	ctx, cancel := context.WithCancel(context.Background())
	blocked := newOutcome()
	returned := make(chan struct{})
	go func() {
		c.Send(ctx, metadataRequest(), blocked.done)
		close(returned)
	}()
	select {
	case <-returned:
		t.Fatal("Send returned while MaxInFlight requests awaited answers")
	case <-time.After(50 * time.Millisecond): // checks absence; nothing waits on it
	}
	cancel()
	res := blocked.wait(t, "blocked Send")
	if !errors.Is(res.err, context.Canceled) || !strings.Contains(res.err.Error(), "not sent") {
		t.Fatalf("blocked Send ended with %v, want context.Canceled before sending", res.err)
	}
	waitClosed(t, returned, "blocked Send")

	// Another Send waits for a slot and goes out once an answer frees one.
	fourth := newOutcome()
	go c.Send(context.Background(), metadataRequest(), fourth.done)
	bc.reply(r1, metadataResponse())
	if res := first.wait(t, "first"); res.err != nil {
		t.Fatalf("first: %v", res.err)
	}
	r4 := bc.next(t)
	bc.reply(r2, metadataResponse())
	bc.reply(r4, metadataResponse())
	for _, o := range []*outcome{second, fourth} {
		if res := o.wait(t, "request after a slot freed"); res.err != nil {
			t.Fatalf("%v", res.err)
		}
	}
}

// A request whose ctx has ended is never written, even with a slot and the
// write lock free: its caller has been told it was not sent, so a write
// would deliver what the caller may send again. Go's select picks at
// random among ready cases, so one try would catch a lapse now and then
// only; 64 miss it about once in 10^8.
func TestSendWithEndedContextWritesNothing(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 64 {
		o := newOutcome()
		c.Send(ctx, metadataRequest(), o.done)
		if res := o.wait(t, "Send with an ended context"); !errors.Is(res.err, context.Canceled) || IsRetriable(res.err) || !errors.Is(res.err, ErrNotSent) {
			t.Fatalf("try %d: error %v, want context.Canceled and ErrNotSent, not retriable", i, res.err)
		}
	}
	// The next request is the first the broker sees.
	next := newOutcome()
	c.Send(context.Background(), metadataRequest(), next.done)
	r := bc.next(t)
	bc.reply(r, metadataResponse())
	if res := next.wait(t, "next request"); res.err != nil {
		t.Fatalf("next request: %v", res.err)
	}
	if c.InFlight() != 0 {
		t.Errorf("InFlight = %d, want 0", c.InFlight())
	}
}

// A response out of step kills the connection and fails every pending
// request, each named once: the one answered out of turn by the
// connection's error, which names it, the others by their own name before
// it. The one answered out of turn was named twice, "Metadata v13
// (correlation id 1): disconnected: ... answered correlation id 2,
// expected 1 (Metadata v13): ...".
func TestWrongCorrelationIDKillsConnection(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	a, b := newOutcome(), newOutcome()
	c.Send(context.Background(), metadataRequest(), a.done)
	c.Send(context.Background(), metadataRequest(), b.done)
	ra := bc.next(t)
	rb := bc.next(t)
	bc.reply(rb, metadataResponse()) // answers the second first

	outOfTurn := fmt.Sprintf("%v: %s answered Metadata v%d (correlation id %d) with correlation id %d: responses out of step",
		ErrDisconnected, fb.addr(), ra.version, ra.corr, rb.corr)
	for i, o := range []*outcome{a, b} {
		res := o.wait(t, "request on a connection out of step")
		if i == 0 && res.err.Error() != outOfTurn {
			t.Errorf("error %q, want %q, naming the request once", res.err, outOfTurn)
		}
		if !errors.Is(res.err, ErrDisconnected) || !strings.Contains(res.err.Error(), "correlation id") {
			t.Errorf("error %v, want ErrDisconnected naming the correlation id", res.err)
		}
		if !IsRetriable(res.err) {
			t.Errorf("error %v should be retriable", res.err)
		}
	}
	waitClosed(t, c.Done(), "Done after a wrong correlation id")
}

func TestBrokerHangsUpMidRequest(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	o := newOutcome()
	c.Send(context.Background(), metadataRequest(), o.done)
	bc.next(t)
	bc.nc.Close()
	res := o.wait(t, "request whose connection closed")
	if !errors.Is(res.err, ErrDisconnected) || !IsRetriable(res.err) {
		t.Fatalf("error %v, want a retriable ErrDisconnected", res.err)
	}
	if errors.Is(res.err, ErrNotSent) {
		t.Errorf("error %v: the request was written, its effect is unknown, not ErrNotSent", res.err)
	}
	waitClosed(t, c.Done(), "Done after the broker hung up")
	// Later requests fail at once with the same cause, and never left.
	later := newOutcome()
	c.Send(context.Background(), metadataRequest(), later.done)
	if res := later.wait(t, "request on a dead connection"); !errors.Is(res.err, ErrDisconnected) || !errors.Is(res.err, ErrNotSent) {
		t.Errorf("error %v, want ErrDisconnected and ErrNotSent", res.err)
	}
}

func TestMalformedResponseFailsOnlyItsRequest(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	v, _ := c.Version(protocol.Metadata)
	o := newOutcome()
	c.Send(context.Background(), metadataRequest(), o.done)
	r := bc.next(t)
	body := metadataResponse().AppendTo(nil, r.version)
	bc.replyRaw(r.corr, r.api, r.version, body[:len(body)-3]) // cut short

	res := o.wait(t, "truncated response")
	var de *protocol.DecodeError
	if !errors.As(res.err, &de) {
		t.Fatalf("error %v, want a *protocol.DecodeError", res.err)
	}
	if de.API != protocol.Metadata || de.Version != v || de.Offset <= 0 || de.Offset > len(body) {
		t.Errorf("decode error names %s v%d at byte %d; want Metadata v%d within the %d-byte body", de.API, de.Version, de.Offset, v, len(body))
	}
	if IsRetriable(res.err) {
		t.Errorf("a decode error is not retriable: %v", res.err)
	}
	for _, want := range []string{"Metadata", "byte"} {
		if !strings.Contains(res.err.Error(), want) {
			t.Errorf("error %q does not mention %q", res.err, want)
		}
	}

	// The frame was consumed whole, so the connection is still in step.
	ok := newOutcome()
	c.Send(context.Background(), metadataRequest(), ok.done)
	bc.reply(bc.next(t), metadataResponse())
	if res := ok.wait(t, "request after a malformed response"); res.err != nil {
		t.Fatalf("connection unusable after a malformed body: %v", res.err)
	}
}

func TestOversizedFrameKillsConnection(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	o := newOutcome()
	c.Send(context.Background(), metadataRequest(), o.done)
	bc.next(t)
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], MaxResponseSize+1)
	bc.write(size[:])
	res := o.wait(t, "request answered with an oversized frame")
	if !errors.Is(res.err, ErrDisconnected) || errors.Is(res.err, ErrNotKafka) || !strings.Contains(res.err.Error(), "size") {
		t.Fatalf("error %v, want ErrDisconnected about the size", res.err)
	}
}

func TestUnsolicitedResponseKillsConnection(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	bc.replyRaw(77, protocol.Metadata, 9, nil)
	waitClosed(t, c.Done(), "Done after an unsolicited response")
	if err := c.Err(); !errors.Is(err, ErrDisconnected) {
		t.Errorf("Err() = %v, want ErrDisconnected", err)
	}
}

func TestAcksZeroCompletesOnWrite(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	produce := &protocol.ProduceRequest{Acks: 0, TimeoutMs: 1000, Topics: []protocol.ProduceRequestTopic{{
		Name: "events", Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: []byte{}}},
	}}}
	o := newOutcome()
	c.Send(context.Background(), produce, o.done)
	if res := o.wait(t, "acks=0 produce"); res.resp != nil || res.err != nil {
		t.Fatalf("acks=0 done(%v, %v), want done(nil, nil)", res.resp, res.err)
	}
	if n := c.InFlight(); n != 0 {
		t.Errorf("InFlight = %d after an acks=0 request, want 0", n)
	}
	if r := bc.next(t); r.api != protocol.Produce {
		t.Fatalf("broker got %s, want Produce", r.api)
	}
	// The next response matches the next request, not the unanswered one.
	md := newOutcome()
	c.Send(context.Background(), metadataRequest(), md.done)
	bc.reply(bc.next(t), metadataResponse())
	if res := md.wait(t, "request after acks=0"); res.err != nil {
		t.Fatalf("request after acks=0: %v", res.err)
	}
}

// A request Kafka does not answer gives its in-flight slot back once it is
// written: nothing else would, as no answer comes to free it. Kept, each
// acks=0 request took one of MaxInFlight for good, and once they were all
// taken every later request on the connection waited for ever, a producer
// with acks=0 stalling after its first few batches.
func TestAcksZeroRequestsDoNotUseUpTheInFlightSlots(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{MaxInFlight: 1})
	bc := fb.conn(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	for i := range 3 {
		produce := &protocol.ProduceRequest{Acks: 0, TimeoutMs: 1000, Topics: []protocol.ProduceRequestTopic{{
			Name: "events", Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: []byte{}}},
		}}}
		o := newOutcome()
		c.Send(ctx, produce, o.done)
		if res := o.wait(t, "acks=0 produce"); res.err != nil {
			t.Fatalf("acks=0 produce %d of 3 on one slot: %v", i+1, res.err)
		}
		if r := bc.next(t); r.api != protocol.Produce {
			t.Fatalf("broker got %s, want Produce", r.api)
		}
	}
	md := newOutcome()
	c.Send(ctx, metadataRequest(), md.done)
	bc.reply(bc.next(t), metadataResponse())
	if res := md.wait(t, "request after three acks=0 requests"); res.err != nil {
		t.Fatalf("request after three acks=0 requests on one slot: %v", res.err)
	}
}

func TestRequestTimeout(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)

	first, second := newOutcome(), newOutcome()
	c.Send(context.Background(), metadataRequest(), first.done) // deadline t+5s
	r1 := bc.next(t)
	fake.Advance(3 * time.Second)
	c.Send(context.Background(), metadataRequest(), second.done) // deadline t+8s
	bc.next(t)
	bc.reply(r1, metadataResponse())
	if res := first.wait(t, "first request"); res.err != nil {
		t.Fatalf("first request: %v", res.err)
	}

	// At t+6s the first request's deadline has passed but it was answered;
	// the second has two seconds left. The watcher arms its timer for the
	// second's deadline once it is done with the first's, and only then
	// does the look below mean anything: a request failed at t+6s fails on
	// the watcher's goroutine, most often after that look.
	fake.Advance(3 * time.Second)
	if _, armed := awaitTimerBetween(t, fake, time.Unix(1008, 0), time.Unix(1008, 0), c.Done()); !armed {
		t.Fatalf("the connection closed at t+6s, before any deadline passed: %v", c.Err())
	}
	select {
	case res := <-second.ch:
		t.Fatalf("second request ended early: %v", res.err)
	case <-c.Done():
		t.Fatal("connection closed before any deadline passed")
	default:
	}
	fake.Advance(2 * time.Second)
	res := second.wait(t, "timed-out request")
	if !errors.Is(res.err, ErrRequestTimeout) || !IsRetriable(res.err) {
		t.Fatalf("error %v, want a retriable ErrRequestTimeout", res.err)
	}
	waitClosed(t, c.Done(), "Done after a request timeout")
	if second.calls.Load() != 1 {
		t.Errorf("done called %d times", second.calls.Load())
	}
}

// The timeout watcher rearms its timer at the deadline of the request it
// watches, so an Advance that lands between its reading of the clock and
// the rearming (here every time: the fake runs it just before) still ends
// the request at its deadline. Rearmed for the time left, read before the
// Advance, the timer counted the Advance again: in TestRequestTimeout's
// steps, the second request, due at t+8s, was watched for t+13s, and with
// the clock at t+8s it never timed out (as TestRequestTimeout and
// TestTimeoutFailsEveryPendingRequest did not, now and then).
func TestTheWatcherArmsAtTheDeadlineThoughTheClockMovedBeforeItsTimer(t *testing.T) {
	start := time.Unix(1000, 0)
	fake := clock.NewFake(start)
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)

	first, second := newOutcome(), newOutcome()
	c.Send(context.Background(), metadataRequest(), first.done) // deadline t+5s
	r1 := bc.next(t)
	fake.Advance(3 * time.Second)
	c.Send(context.Background(), metadataRequest(), second.done) // deadline t+8s
	bc.next(t)
	// Once the first is answered, the watcher rearms for the second's
	// deadline; the clock reaches it just before.
	var once sync.Once
	fake.BeforeArm(func(deadline time.Time) {
		if deadline.Equal(start.Add(8 * time.Second)) {
			once.Do(func() { fake.Advance(5 * time.Second) })
		}
	})
	bc.reply(r1, metadataResponse())
	if res := first.wait(t, "first request"); res.err != nil {
		t.Fatalf("first request: %v", res.err)
	}
	res := second.wait(t, "the second request, at its deadline")
	if !errors.Is(res.err, ErrRequestTimeout) {
		t.Fatalf("error %v, want ErrRequestTimeout", res.err)
	}
}

// A timeout fails every pending request, each named once: the one that
// timed out by the timeout's error, the others by their own name before
// it. The one that timed out was named twice, "Metadata v12 (correlation
// id 1): request timed out: Metadata v12 (correlation id 1) to ...".
func TestTimeoutFailsEveryPendingRequest(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{Clock: fake, RequestTimeout: time.Second})
	bc := fb.conn(t)
	outs := []*outcome{newOutcome(), newOutcome(), newOutcome()}
	var corrs []int32
	for _, o := range outs {
		c.Send(context.Background(), metadataRequest(), o.done)
		corrs = append(corrs, bc.next(t).corr)
	}
	fake.Advance(time.Second)
	for i, o := range outs {
		res := o.wait(t, "pending request")
		if !errors.Is(res.err, ErrRequestTimeout) {
			t.Errorf("error %v, want ErrRequestTimeout", res.err)
		}
		own := fmt.Sprintf("(correlation id %d)", corrs[i])
		if n := strings.Count(res.err.Error(), own); n != 1 {
			t.Errorf("request %d named %d times: %v", i, n, res.err)
		}
	}
}

func TestCloseFailsPendingRequestsOnce(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	outs := []*outcome{newOutcome(), newOutcome(), newOutcome()}
	for _, o := range outs {
		c.Send(context.Background(), metadataRequest(), o.done)
	}
	reqs := []request{bc.next(t), bc.next(t), bc.next(t)}

	// The broker answers while we close: each request completes once,
	// answered or failed, never both.
	go func() {
		for _, r := range reqs {
			bc.reply(r, metadataResponse())
		}
	}()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, o := range outs {
		res := o.wait(t, "request pending at Close")
		if res.err != nil && !errors.Is(res.err, ErrClosed) {
			t.Errorf("error %v, want ErrClosed or an answer", res.err)
		}
	}
	for i, o := range outs {
		if n := o.calls.Load(); n != 1 {
			t.Errorf("request %d: done called %d times", i, n)
		}
	}
	assertStopped(t, c)

	after := newOutcome()
	c.Send(context.Background(), metadataRequest(), after.done)
	if res := after.wait(t, "Send after Close"); !errors.Is(res.err, ErrClosed) || !IsRetriable(res.err) {
		t.Errorf("Send after Close: %v, want a retriable ErrClosed", res.err)
	}
}

func TestCloseWithoutResponsesFailsAll(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	outs := []*outcome{newOutcome(), newOutcome()}
	for _, o := range outs {
		c.Send(context.Background(), metadataRequest(), o.done)
		bc.next(t)
	}
	c.Close()
	for _, o := range outs {
		if res := o.wait(t, "pending at Close"); !errors.Is(res.err, ErrClosed) || errors.Is(res.err, ErrNotSent) {
			t.Errorf("error %v, want ErrClosed of a written request, not ErrNotSent", res.err)
		}
	}
	waitClosed(t, c.Done(), "Done after Close")
}

func TestSendVersionOutsideOurRange(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	o := newOutcome()
	c.SendVersion(context.Background(), metadataRequest(), 99, o.done)
	if res := o.wait(t, "unsupported version"); !errors.Is(res.err, protocol.ErrUnsupportedVersion) || !errors.Is(res.err, ErrNotSent) {
		t.Fatalf("error %v, want ErrUnsupportedVersion and ErrNotSent", res.err)
	}
}

func TestSendVersionUsesTheGivenVersion(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	produce := &protocol.ProduceRequest{Acks: -1, TimeoutMs: 1000}
	o := newOutcome()
	c.SendVersion(context.Background(), produce, 7, o.done)
	r := bc.next(t)
	if r.version != 7 {
		t.Fatalf("sent at v%d, want v7", r.version)
	}
	bc.reply(r, &protocol.ProduceResponse{})
	if res := o.wait(t, "produce v7"); res.err != nil {
		t.Fatalf("produce v7: %v", res.err)
	}
}

func TestRequestReturnsWhenContextEnds(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	bc := fb.conn(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Request(ctx, metadataRequest())
		errc <- err
	}()
	bc.next(t) // written; never answered
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Request error %v, want context.Canceled", err)
		}
	case <-time.After(waitTime):
		t.Fatal("Request did not return when its context ended")
	}
}

// TestAProduceRequestIsWrittenWithItsBatchesInPlace sends a Produce request
// over TCP, where its batches are written from where they are (writev): the
// broker must read exactly the request AppendTo encodes.
func TestAProduceRequestIsWrittenWithItsBatchesInPlace(t *testing.T) {
	fb := newFakeBroker(t)
	c := dial(t, fb, Config{})
	if !c.writev {
		t.Fatal("a plain TCP connection does not write a Produce request's batches in place")
	}
	bc := fb.conn(t)
	produce := &protocol.ProduceRequest{Acks: -1, TimeoutMs: 1000, Topics: []protocol.ProduceRequestTopic{
		{Name: "events", Partitions: []protocol.ProduceRequestPartition{
			{Index: 0, Records: bytes.Repeat([]byte("a"), 1000)},
			{Index: 1},
			{Index: 2, Records: []byte("second batch")},
		}},
		{Name: "audit", Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: []byte("third")}}},
	}}
	c.Send(context.Background(), produce, func(protocol.Response, error) {})
	r := bc.next(t)
	if r.api != protocol.Produce {
		t.Fatalf("broker got %s, want Produce", r.api)
	}
	if want := produce.AppendTo(nil, r.version); !bytes.Equal(r.body, want) {
		t.Fatalf("the broker read %d bytes of Produce v%d, not the %d AppendTo encodes", len(r.body), r.version, len(want))
	}
}
