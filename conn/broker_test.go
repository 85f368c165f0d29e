package conn

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
)

// dialer is a Config.Dial that counts attempts and fails until told to
// connect.
type dialer struct {
	attempts atomic.Int32
	connect  atomic.Bool
}

var errRefused = errors.New("connection refused (test)")

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.attempts.Add(1)
	if !d.connect.Load() {
		return nil, errRefused
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// wantBackoff checks that err is a *BackoffError whose Until lies within
// ±20% of wait after from.
func wantBackoff(t *testing.T, err error, from time.Time, wait time.Duration) time.Time {
	t.Helper()
	var be *BackoffError
	if !errors.As(err, &be) {
		t.Fatalf("error %v, want a *BackoffError", err)
	}
	if !errors.Is(err, ErrBackoff) || !IsRetriable(err) {
		t.Errorf("error %v should match ErrBackoff and be retriable", err)
	}
	lo, hi := from.Add(wait*8/10), from.Add(wait*12/10)
	if be.Until.Before(lo) || be.Until.After(hi) {
		t.Errorf("next attempt at +%v, want within ±20%% of +%v", be.Until.Sub(from), wait)
	}
	return be.Until
}

func TestBrokerBacksOffExponentially(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	d := &dialer{}
	b := NewBroker(1, fb.addr(), Config{Clock: fake, Dial: d.dial,
		ReconnectBackoff: 100 * time.Millisecond, ReconnectBackoffMax: 400 * time.Millisecond})
	defer b.Close()
	ctx := context.Background()

	_, err := b.Conn(ctx)
	if !errors.Is(err, ErrDisconnected) || !errors.Is(err, errRefused) || !IsRetriable(err) {
		t.Fatalf("first Conn: %v, want a retriable ErrDisconnected wrapping the dial error", err)
	}
	// Each failure doubles the wait, up to the maximum; within the wait,
	// Conn fails fast without dialing.
	for i, wait := range []time.Duration{100, 200, 400, 400} {
		wait *= time.Millisecond
		_, err := b.Conn(ctx)
		until := wantBackoff(t, err, fake.Now(), wait)
		if !errors.Is(err, errRefused) {
			t.Errorf("backoff error %v does not carry the last failure", err)
		}
		if got := d.attempts.Load(); got != int32(i+1) {
			t.Fatalf("%d dial attempts during backoff, want %d", got, i+1)
		}
		fake.Advance(until.Sub(fake.Now()))
		if _, err := b.Conn(ctx); !errors.Is(err, errRefused) {
			t.Fatalf("Conn after the backoff: %v, want a new dial failing", err)
		}
	}

	// A success resets the count.
	d.connect.Store(true)
	_, err = b.Conn(ctx)
	until := wantBackoff(t, err, fake.Now(), 400*time.Millisecond)
	fake.Advance(until.Sub(fake.Now()))
	c, err := b.Conn(ctx)
	if err != nil {
		t.Fatalf("Conn once the broker is reachable: %v", err)
	}
	if again, _ := b.Conn(ctx); again != c {
		t.Error("a live connection was not reused")
	}

	// Losing it right after connecting waits the base backoff, from when
	// that connection was dialed.
	dialedAt := fake.Now()
	fb.conn(t).nc.Close() // the only connection that got through
	waitClosed(t, c.Done(), "connection closed by the broker")
	_, err = b.Conn(ctx)
	until = wantBackoff(t, err, dialedAt, 100*time.Millisecond)
	if !errors.Is(err, ErrDisconnected) {
		t.Errorf("backoff after a lost connection should carry why it was lost: %v", err)
	}
	fake.Advance(until.Sub(fake.Now()))
	c2, err := b.Conn(ctx)
	if err != nil || c2 == c {
		t.Fatalf("reconnect: %v (same conn: %v)", err, c2 == c)
	}
}

// A connection that lived long is replaced at once when lost: its backoff
// counts from when it was dialed, so a broker restarted after hours of
// service is dialed again without a wait that would hold every record.
func TestALongLivedConnectionIsReplacedAtOnce(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	b := NewBroker(1, fb.addr(), Config{Clock: fake,
		ReconnectBackoff: 100 * time.Millisecond, ReconnectBackoffMax: 400 * time.Millisecond})
	defer b.Close()
	c, err := b.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fake.Advance(time.Hour)
	fb.conn(t).nc.Close()
	waitClosed(t, c.Done(), "connection closed by the broker")
	if c2, err := b.Conn(context.Background()); err != nil || c2 == c {
		t.Fatalf("Conn after a long-lived connection broke: %v; want a new connection at once", err)
	}
}

// NextAttempt tells, after a failed dial, when the backoff lets Conn dial
// again, the Until of the refusals before then (the sender waits for it),
// and, once the node moved, that a dial may start at once.
func TestBrokerNextAttemptIsWhenItsBackoffEnds(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	d := &dialer{}
	b := NewBroker(1, "127.0.0.1:1", Config{Clock: fake, Dial: d.dial})
	defer b.Close()
	if next := b.NextAttempt(); next.After(fake.Now()) {
		t.Fatalf("before any dial, the next attempt is at %v, after now (%v)", next, fake.Now())
	}
	if _, err := b.Conn(context.Background()); !errors.Is(err, errRefused) {
		t.Fatalf("first Conn: %v, want the dial failing", err)
	}
	next := b.NextAttempt()
	_, err := b.Conn(context.Background())
	if until := wantBackoff(t, err, fake.Now(), DefaultReconnectBackoff); !next.Equal(until) {
		t.Errorf("NextAttempt says %v, the refusal %v", next, until)
	}
	b.SetAddr("127.0.0.1:2")
	if next := b.NextAttempt(); next.After(fake.Now()) {
		t.Errorf("after a move, the next attempt is at %v, after now (%v)", next, fake.Now())
	}
}

// Readiness follows the Broker from dialable to dialling, backing off,
// dialable again once the backoff ends, and connected.
func TestBrokerReadinessSaysWhetherConnWouldWait(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	release, started := make(chan struct{}), make(chan struct{}, 1)
	var refuse atomic.Bool
	refuse.Store(true)
	b := NewBroker(1, fb.addr(), Config{Clock: fake, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		started <- struct{}{}
		<-release
		if refuse.Load() {
			return nil, errRefused
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}})
	defer b.Close()
	want := func(r Readiness, when string) {
		t.Helper()
		if got := b.Readiness(); got != r {
			t.Errorf("%s: Readiness %d, want %d", when, got, r)
		}
	}
	want(Dialable, "before any dial")
	errc := make(chan error, 1)
	go func() {
		_, err := b.Conn(context.Background())
		errc <- err
	}()
	bounded.Receive(t, started, waitTime, "no dial")
	want(Unready, "while dialling")
	close(release)
	if err := bounded.Receive(t, errc, waitTime, "the dial never ended"); !errors.Is(err, errRefused) {
		t.Fatalf("Conn: %v, want the dial refused", err)
	}
	want(Unready, "within the backoff")
	fake.Advance(b.NextAttempt().Sub(fake.Now()))
	want(Dialable, "once the backoff ended")
	refuse.Store(false)
	if _, err := b.Conn(context.Background()); err != nil {
		t.Fatalf("Conn: %v", err)
	}
	want(Connected, "connected")
	_, port, _ := net.SplitHostPort(fb.addr())
	b.SetAddr(net.JoinHostPort("localhost", port))
	want(Unready, "connected only to the address it moved from")
	b.SetAddr(fb.addr())
	want(Connected, "moved back to its connection's address")
	b.Close()
	want(Unready, "closed")
}

func TestBrokerConcurrentCallersShareOneDial(t *testing.T) {
	fb := newFakeBroker(t)
	d := &dialer{}
	d.connect.Store(true)
	b := NewBroker(1, fb.addr(), Config{Dial: d.dial})
	defer b.Close()

	const callers = 8
	conns := make([]*Conn, callers)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := b.Conn(context.Background())
			if err != nil {
				t.Errorf("Conn: %v", err)
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	for _, c := range conns {
		if c != conns[0] {
			t.Fatal("callers got different connections")
		}
	}
	if n := d.attempts.Load(); n != 1 {
		t.Errorf("%d dials for %d concurrent callers, want 1", n, callers)
	}
}

func TestBrokerCallerContextDoesNotCancelSharedDial(t *testing.T) {
	fb := newFakeBroker(t)
	release, started := make(chan struct{}), make(chan struct{})
	var attempts atomic.Int32
	b := NewBroker(1, fb.addr(), Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if attempts.Add(1) == 1 {
			close(started)
		}
		<-release
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}})
	defer b.Close()

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := b.Conn(ctx)
		errc <- err
	}()
	waitClosed(t, started, "dial start")
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned Conn: %v, want context.Canceled", err)
	}
	close(release)
	if _, err := b.Conn(context.Background()); err != nil {
		t.Fatalf("Conn: %v", err)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d dials, want the first to be shared", n)
	}
}

// A node the metadata gives a new address keeps its live connection: it
// reaches the same broker process, whose node id cannot have changed, and
// closed under its requests in flight it would fail requests the broker
// may still write, written twice when retried. The request in flight gets
// its answer, later requests go on the same connection, and only once it
// breaks is the new address dialed, at once: the loss at the old address
// says nothing of the new one.
func TestAMovedBrokerKeepsItsLiveConnectionUntilItBreaks(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fbA, fbB := newFakeBroker(t), newFakeBroker(t)
	b := NewBroker(1, fbA.addr(), Config{Clock: fake})
	defer b.Close()
	ctx := context.Background()

	old, err := b.Conn(ctx)
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	bcA := fbA.conn(t)
	inFlight := newOutcome()
	old.Send(ctx, metadataRequest(), inFlight.done)
	held := bcA.next(t)

	b.SetAddr(fbA.addr()) // same address: nothing happens
	b.SetAddr(fbB.addr())
	if b.Addr() != fbB.addr() {
		t.Errorf("Addr = %s, want %s", b.Addr(), fbB.addr())
	}
	bcA.reply(held, metadataResponse())
	if res := inFlight.wait(t, "request in flight as the broker moved"); res.err != nil {
		t.Fatalf("request in flight as the broker moved: %v, want its answer", res.err)
	}
	if c, err := b.Conn(ctx); c != old {
		t.Fatalf("Conn after the move: %v, %v; want the live connection", c, err)
	}
	later := newOutcome()
	old.Send(ctx, metadataRequest(), later.done)
	bcA.reply(bcA.next(t), metadataResponse())
	if res := later.wait(t, "request after the move"); res.err != nil {
		t.Fatalf("request after the move: %v", res.err)
	}

	bcA.nc.Close()
	waitClosed(t, old.Done(), "connection closed by the broker")
	c, err := b.Conn(ctx) // the fake clock stands still: no backoff
	if err != nil {
		t.Fatalf("Conn once the live connection broke: %v", err)
	}
	if c.Addr() != fbB.addr() {
		t.Errorf("new connection to %s, want %s", c.Addr(), fbB.addr())
	}
	fbB.conn(t)
}

func TestBrokerSetAddrSkipsBackoff(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	b := NewBroker(1, "127.0.0.1:1", Config{Clock: fake, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != fb.addr() {
			return nil, errRefused
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}})
	defer b.Close()
	if _, err := b.Conn(context.Background()); !errors.Is(err, errRefused) {
		t.Fatalf("Conn to the old address: %v", err)
	}
	b.SetAddr(fb.addr())
	if _, err := b.Conn(context.Background()); err != nil {
		t.Fatalf("Conn to the new address right away: %v", err)
	}
}

// A move starts the backoff afresh: the first failure at the new address
// waits ReconnectBackoff, not the grown backoff of the old address, which
// says nothing of the new one.
func TestAMoveResetsTheBackoffsGrowth(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	d := &dialer{}
	b := NewBroker(1, "127.0.0.1:1", Config{Clock: fake, Dial: d.dial,
		ReconnectBackoff: 100 * time.Millisecond, ReconnectBackoffMax: 10 * time.Second})
	defer b.Close()
	ctx := context.Background()
	for range 4 { // four failed dials at the old address
		b.Conn(ctx)
		fake.Advance(b.NextAttempt().Sub(fake.Now()))
	}
	b.SetAddr("127.0.0.1:2")
	if _, err := b.Conn(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("Conn to the new address: %v, want a dial refused", err)
	}
	_, err := b.Conn(ctx)
	wantBackoff(t, err, fake.Now(), 100*time.Millisecond)
}

// SetAddr with the address the broker has already (every metadata answer
// says it again) changes nothing: it neither ends the backoff after a
// failed dial nor dials again, which would hammer a broker that is down.
func TestSetAddrToTheSameAddressKeepsTheBackoff(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	d := &dialer{}
	b := NewBroker(1, "127.0.0.1:1", Config{Clock: fake, Dial: d.dial})
	defer b.Close()
	if _, err := b.Conn(context.Background()); !errors.Is(err, errRefused) {
		t.Fatalf("Conn: %v, want a dial refused", err)
	}
	b.SetAddr("127.0.0.1:1")
	_, err := b.Conn(context.Background())
	var be *BackoffError
	if !errors.As(err, &be) || d.attempts.Load() != 1 {
		t.Fatalf("Conn after SetAddr to the same address: %v, %d dials; want the backoff kept and no new dial", err, d.attempts.Load())
	}
}

// A node moves while a dial to its old host, which stopped answering, is
// under way: the caller waiting on that dial gets a connection to the new
// address at once, as SetAddr promises, rather than when the dial gives up
// at DialTimeout; the old dial ends, and counts as no failure.
func TestBrokerSetAddrAbandonsTheDialToTheOldAddress(t *testing.T) {
	fb := newFakeBroker(t)
	const old = "127.0.0.1:1" // never dialed for real
	started, abandoned := make(chan struct{}), make(chan struct{})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == old {
			close(started)
			<-ctx.Done() // a host that does not answer: only ctx ends the dial
			close(abandoned)
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	// Far beyond waitTime: a caller that waits out the old dial fails.
	b := NewBroker(1, old, Config{Dial: dial, DialTimeout: time.Minute})
	defer b.Close()

	type connected struct {
		c   *Conn
		err error
	}
	waiting := make(chan connected, 1)
	go func() {
		c, err := b.Conn(context.Background()) // the sender, wanting the node
		waiting <- connected{c, err}
	}()
	waitClosed(t, started, "dial to the old address")
	b.SetAddr(fb.addr())

	var got connected
	select {
	case got = <-waiting:
	case <-time.After(waitTime):
		t.Fatal("the caller waiting on the dial to the old address still waits after SetAddr")
	}
	if got.err != nil || got.c.Addr() != fb.addr() {
		t.Fatalf("Conn after SetAddr: %v, %v; want a connection to %s", got.c, got.err, fb.addr())
	}
	waitClosed(t, abandoned, "dial to the old address after SetAddr")
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	if c, err := b.Conn(ctx); c != got.c {
		t.Errorf("Conn once the old dial ended: %v, %v; want the connection to the new address", c, err)
	}
	b.Close() // waits for the old dial's goroutine
	if b.failures != 0 || b.lastErr != nil {
		t.Errorf("the abandoned dial counted as %d failures (%v)", b.failures, b.lastErr)
	}
}

func TestBrokerClose(t *testing.T) {
	fb := newFakeBroker(t)
	b := NewBroker(1, fb.addr(), Config{})
	c, err := b.Conn(context.Background())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	b.Close()
	b.Close()
	waitClosed(t, c.Done(), "connection after Broker.Close")
	assertStopped(t, c)
	if _, err := b.Conn(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Conn after Close: %v, want ErrClosed", err)
	}
}

func TestBrokerCloseAbandonsDial(t *testing.T) {
	started := make(chan struct{})
	b := NewBroker(1, "127.0.0.1:1", Config{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		close(started)
		<-ctx.Done() // a dial that hangs until abandoned
		return nil, ctx.Err()
	}})
	errc := make(chan error, 1)
	go func() {
		_, err := b.Conn(context.Background())
		errc <- err
	}()
	waitClosed(t, started, "dial start")
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	waitClosed(t, closed, "Broker.Close during a dial")
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Conn waiting on an abandoned dial: %v, want ErrClosed", err)
		}
	case <-time.After(waitTime):
		t.Fatal("Conn still waiting after Close")
	}
}

func TestBrokerUsableFromDoneCallback(t *testing.T) {
	// A failure's done callback runs on the dying connection's reader
	// goroutine; asking the Broker for a connection or moving it from there
	// must not wait for that goroutine.
	fake := clock.NewFake(time.Unix(1000, 0))
	fb, fb2 := newFakeBroker(t), newFakeBroker(t)
	b := NewBroker(1, fb.addr(), Config{Clock: fake})
	defer b.Close()
	c, err := b.Conn(context.Background())
	if err != nil {
		t.Fatalf("Conn: %v", err)
	}
	bc := fb.conn(t)
	finished := make(chan error, 1)
	c.Send(context.Background(), metadataRequest(), func(_ protocol.Response, err error) {
		_, connErr := b.Conn(context.Background()) // sees the dead conn: backs off
		b.SetAddr(fb2.addr())
		finished <- connErr
	})
	bc.next(t)
	bc.nc.Close()
	select {
	case err := <-finished:
		if !errors.Is(err, ErrBackoff) {
			t.Errorf("Conn from the callback: %v, want a backoff error", err)
		}
	case <-time.After(waitTime):
		t.Fatal("done callback using the Broker deadlocked")
	}
}
