package oauthbearer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/testdeadline"
)

// wait bounds every wait for another goroutine.
const wait = 10 * time.Second

// fetcher is a counting TokenProvider: call n hands out "token<n>", valid
// for life from the fake clock's now (no Expiry if life is 0). With gated,
// each call first sends its ctx to entered and then waits for release.
type fetcher struct {
	clk     *clock.Fake
	life    time.Duration
	value   string // the token's value instead of "token<n>", if set
	err     error  // returned instead of a token, if set
	panics  any    // panicked with instead, if set
	calls   atomic.Int32
	gated   bool
	entered chan context.Context
	release chan struct{}
	stop    chan struct{} // closed at the test's end, so that no call is left waiting
}

func newFetcher(t *testing.T, clk *clock.Fake, life time.Duration, gated bool) *fetcher {
	f := &fetcher{clk: clk, life: life, gated: gated,
		entered: make(chan context.Context, 8), release: make(chan struct{}), stop: make(chan struct{})}
	t.Cleanup(func() { close(f.stop) })
	return f
}

func (f *fetcher) provide(ctx context.Context) (Token, error) {
	n := f.calls.Add(1)
	if f.gated {
		f.entered <- ctx
		select {
		case <-f.release:
		case <-f.stop:
		}
	}
	switch {
	case f.panics != nil:
		panic(f.panics)
	case f.err != nil:
		return Token{}, f.err
	}
	tok := Token{Value: fmt.Sprintf("token%d", n)}
	if f.value != "" {
		tok.Value = f.value
	}
	if f.life != 0 {
		tok.Expiry = f.clk.Now().Add(f.life)
	}
	return tok, nil
}

// cachedOn is Cached on clk's time, with jitter's draw in [0, 1] for the
// random part of the refresh point.
func cachedOn(clk *clock.Fake, f *fetcher, jitter float64) *tokenCache {
	return newTokenCache(f.provide, clk.Now, func() float64 { return jitter })
}

// expect calls c and checks the token it gives and how many fetches were
// made so far.
func expect(t *testing.T, c *tokenCache, f *fetcher, value string, calls int32, when string) {
	t.Helper()
	tok, err := c.token(context.Background())
	if err != nil || tok.Value != value || f.calls.Load() != calls {
		t.Fatalf("%s: %q, %v after %d fetches; want %s after %d", when, tok.Value, err, f.calls.Load(), value, calls)
	}
}

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A token is served until 80% of its lifetime (plus up to 5% of jitter),
// but no later than 5 minutes before it expires, unless its lifetime is
// under 6 minutes (Java's sasl.login.refresh.* defaults); then it is
// fetched again.
func TestCachedFetchesAgainOnlyAtTheRefreshPoint(t *testing.T) {
	for _, tc := range []struct {
		life    time.Duration
		jitter  float64
		refresh time.Duration
	}{
		{time.Hour, 0, 48 * time.Minute},
		{time.Hour, 1, 51 * time.Minute},
		{10 * time.Minute, 0, 5 * time.Minute}, // the 5 minutes' buffer
		{6 * time.Minute, 0, time.Minute},      // just long enough for the buffer, as in Java
		{5 * time.Minute, 0, 4 * time.Minute},  // too short for the buffer and the minimum period
	} {
		t.Run(fmt.Sprintf("%v jitter %v", tc.life, tc.jitter), func(t *testing.T) {
			clk := clock.NewFake(start)
			f := newFetcher(t, clk, tc.life, false)
			c := cachedOn(clk, f, tc.jitter)
			expect(t, c, f, "token1", 1, "first call")
			clk.Advance(tc.refresh - time.Nanosecond)
			expect(t, c, f, "token1", 1, "just before the refresh point")
			clk.Advance(time.Nanosecond)
			expect(t, c, f, "token2", 2, "at the refresh point")
			expect(t, c, f, "token2", 2, "after the refresh")
		})
	}
}

// waiting is how many callers wait for the fetch under way.
func (c *tokenCache) waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetching == nil {
		return 0
	}
	return c.fetching.waiters
}

// Callers that come while a fetch is under way wait for it rather than
// start their own.
func TestCachedSharesOneFetchAmongConcurrentCallers(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, true)
	c := cachedOn(clk, f, 0)
	const callers = 5
	results := make(chan string, callers)
	for range callers {
		go func() {
			tok, err := c.token(context.Background())
			results <- fmt.Sprint(tok.Value, err)
		}()
	}
	bounded.Receive(t, f.entered, wait, "the first caller's fetch")
	require.Eventually(t, func() bool { return c.waiting() == callers }, wait, time.Millisecond,
		"%d callers waiting for the fetch", callers)
	close(f.release)
	for i := range callers {
		if got := bounded.Receive(t, results, wait, fmt.Sprintf("caller %d's token", i)); got != "token1<nil>" {
			t.Errorf("caller %d: %s, want token1", i, got)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d fetches for %d concurrent callers, want 1", n, callers)
	}
}

// A failed fetch is not remembered: the next caller asks the provider
// again.
func TestCachedDoesNotKeepAnError(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, false)
	c := cachedOn(clk, f, 0)
	boom := errors.New("identity provider: 503")
	f.err = boom
	for i := int32(1); i <= 2; i++ {
		if _, err := c.token(context.Background()); !errors.Is(err, boom) || f.calls.Load() != i {
			t.Fatalf("call %d: %v after %d fetches, want %v after %d", i, err, f.calls.Load(), boom, i)
		}
	}
	f.err = nil
	expect(t, c, f, "token3", 3, "once the provider answers")
	expect(t, c, f, "token3", 3, "then")
}

// A refresh that fails while the token kept before has not expired gives
// that token, as the Java client goes on with its credential while its
// refresh retries; every call asks the provider again meanwhile. Once the
// token has expired, the failure is the caller's. Before, a failed
// refresh failed every connection at once, with a fifth of the token's
// lifetime left.
func TestAFailedRefreshGivesTheTokenNotExpiredYet(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, false)
	c := cachedOn(clk, f, 0)
	expect(t, c, f, "token1", 1, "the first call")
	boom := errors.New("identity provider: 503")
	f.err = boom
	clk.Advance(50 * time.Minute) // past the refresh point, 48 minutes in
	expect(t, c, f, "token1", 2, "a refresh that failed, the token valid for 10 minutes more")
	expect(t, c, f, "token1", 3, "and again: each call asks the provider")
	clk.Advance(10 * time.Minute)
	if _, err := c.token(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("a refresh that failed once the token expired: %v, want %v", err, boom)
	}
}

// A fetch stuck in a provider that takes no timeout ends at the first
// caller's deadline, though callers that came later still wait: callers
// whose attempts overlap, dials to several brokers with their backoffs,
// would otherwise keep it alive for ever, every later caller waiting for
// it until its own ctx ended.
//
// The first caller notices its deadline only when the test lets it, once
// the later caller waits too: with a ctx that ends at the deadline, a
// later caller scheduled after it would find the first gone and the fetch
// cancelled with it, and start a fetch of its own.
func TestAStuckFetchEndsAtTheFirstCallersDeadline(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, true)
	c := cachedOn(clk, f, 0)
	firstDeadline := time.Now().Add(20 * time.Millisecond)
	first := testdeadline.New(firstDeadline)
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.token(first)
		firstErr <- err
	}()
	fetchCtx := bounded.Receive(t, f.entered, wait, "the fetch")
	if deadline, _ := fetchCtx.Deadline(); !deadline.Equal(firstDeadline) {
		t.Fatalf("the fetch's deadline: %v, want the first caller's, %v", deadline, firstDeadline)
	}
	later := make(chan error, 1)
	go func() {
		_, err := c.token(context.Background())
		later <- err
	}()
	require.Eventually(t, func() bool { return c.waiting() == 2 }, wait, time.Millisecond, "two callers waiting")
	bounded.Receive(t, fetchCtx.Done(), wait, "the fetch's end at the first caller's deadline, both callers waiting")
	first.Pass()
	if err := bounded.Receive(t, firstErr, wait, "the first caller"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the first caller: %v, want its deadline", err)
	}
	close(f.release) // the provider, which ignores its ctx, returns at last
	bounded.Receive(t, later, wait, "the later caller")
}

// A token whose expiry is unknown, already past, or one the broker's format
// refuses is used for the call that fetched it only.
func TestCachedDoesNotKeepATokenItCannotTime(t *testing.T) {
	for name, tc := range map[string]struct {
		life  time.Duration
		value string
	}{
		"no expiry":       {0, ""},
		"already expired": {-time.Second, ""},
		"invalid":         {time.Hour, "not a b64token"},
	} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(start)
			f := newFetcher(t, clk, tc.life, false)
			f.value = tc.value
			c := cachedOn(clk, f, 0)
			for i := int32(1); i <= 2; i++ {
				if _, err := c.token(context.Background()); err != nil || f.calls.Load() != i {
					t.Fatalf("call %d: %v after %d fetches, want %d", i, err, f.calls.Load(), i)
				}
			}
		})
	}
}

// A caller whose ctx ends stops waiting with its ctx's error and cause; the
// fetch goes on for the others, its ctx not ended.
func TestACallerWhoseCtxEndsStopsWaitingButTheFetchGoesOn(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, true)
	c := cachedOn(clk, f, 0)
	closing := errors.New("connection closed")
	quitter, quit := context.WithCancelCause(context.Background())
	quitErr := make(chan error, 1)
	go func() {
		_, err := c.token(quitter)
		quitErr <- err
	}()
	fetchCtx := bounded.Receive(t, f.entered, wait, "the fetch")
	other := make(chan string, 1)
	go func() {
		tok, err := c.token(context.Background())
		other <- fmt.Sprint(tok.Value, err)
	}()
	require.Eventually(t, func() bool { return c.waiting() == 2 }, wait, time.Millisecond, "two callers waiting")

	quit(closing)
	err := bounded.Receive(t, quitErr, wait, "the caller whose ctx ended")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, closing) {
		t.Fatalf("caller whose ctx ended: %v, want context.Canceled and its cause", err)
	}
	if err := fetchCtx.Err(); err != nil {
		t.Fatalf("the fetch's ctx ended with one caller's: %v", err)
	}
	close(f.release)
	if got := bounded.Receive(t, other, wait, "the other caller's token"); got != "token1<nil>" {
		t.Fatalf("the other caller: %s, want token1", got)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

// A fetch that every caller stopped waiting for is cancelled, so that a
// provider stuck on an identity provider holds up no later caller, which
// fetches anew.
func TestAFetchNobodyWaitsForIsCancelled(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, true)
	c := cachedOn(clk, f, 0)
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := c.token(ctx)
		errs <- err
	}()
	fetchCtx := bounded.Receive(t, f.entered, wait, "the fetch")
	require.Eventually(t, func() bool { return c.waiting() == 1 }, wait, time.Millisecond, "the caller waiting")
	cancel()
	if err := bounded.Receive(t, errs, wait, "the caller"); !errors.Is(err, context.Canceled) {
		t.Fatalf("caller: %v, want context.Canceled", err)
	}
	bounded.Receive(t, fetchCtx.Done(), wait, "the fetch's ctx to end once nobody waits")

	next := make(chan string, 1)
	go func() {
		tok, err := c.token(context.Background())
		next <- fmt.Sprint(tok.Value, err)
	}()
	bounded.Receive(t, f.entered, wait, "a new fetch for the next caller")
	close(f.release) // both fetches return
	if got := bounded.Receive(t, next, wait, "the next caller's token"); got != "token2<nil>" {
		t.Fatalf("the next caller: %s, want token2", got)
	}
}

// A fetch that every caller left, and that returns while a newer fetch is
// under way, changes nothing: callers still wait for the newer one, and its
// token is the one kept. Were it to clear the newer fetch's place as it
// ended, the next caller would start a third fetch beside the second,
// and the identity provider be asked twice at once.
func TestAFetchEveryCallerLeftLeavesTheNewerOneInPlace(t *testing.T) {
	clk := clock.NewFake(start)
	var calls atomic.Int32
	entered := make(chan int32, 3)
	releaseFirst, releaseOthers, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop) })
	c := newTokenCache(func(context.Context) (Token, error) {
		n := calls.Add(1)
		entered <- n
		release := releaseOthers
		if n == 1 {
			release = releaseFirst // a provider that ignores its ctx
		}
		select {
		case <-release:
		case <-stop:
		}
		return Token{Value: fmt.Sprintf("token%d", n), Expiry: clk.Now().Add(time.Hour)}, nil
	}, clk.Now, func() float64 { return 0 })

	ctx, cancel := context.WithCancel(context.Background())
	left := make(chan error, 1)
	go func() {
		_, err := c.token(ctx)
		left <- err
	}()
	bounded.Receive(t, entered, wait, "the first fetch")
	c.mu.Lock()
	first := c.fetching
	c.mu.Unlock()
	cancel()
	bounded.Receive(t, left, wait, "the caller that left")

	tokens := make(chan string, 2)
	get := func() {
		tok, err := c.token(context.Background())
		tokens <- fmt.Sprint(tok.Value, err)
	}
	go get()
	if n := bounded.Receive(t, entered, wait, "the second fetch"); n != 2 {
		t.Fatalf("fetch %d started, want the second", n)
	}
	require.Eventually(t, func() bool { return c.waiting() == 1 }, wait, time.Millisecond, "a caller waiting for the second fetch")
	close(releaseFirst)
	bounded.Receive(t, first.done, wait, "the first fetch's end")
	if n := c.waiting(); n != 1 {
		t.Fatalf("%d callers wait for the fetch under way once the first ended, want the second fetch's one", n)
	}

	go get()
	require.Eventually(t, func() bool { return c.waiting() == 2 }, wait, time.Millisecond, "the next caller waiting for the second fetch")
	close(releaseOthers)
	for i := range 2 {
		if got := bounded.Receive(t, tokens, wait, fmt.Sprintf("caller %d's token", i)); got != "token2<nil>" {
			t.Errorf("caller %d: %s, want token2", i, got)
		}
	}
	if tok, err := c.token(context.Background()); err != nil || tok.Value != "token2" || calls.Load() != 2 {
		t.Fatalf("then: %q, %v after %d fetches; want token2 from the cache after 2", tok.Value, err, calls.Load())
	}
}

// A provider's panic reaches the caller, as it would uncached (the
// connection recovers and logs it), and is not remembered.
func TestAProvidersPanicReachesItsCallersAndIsNotKept(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFetcher(t, clk, time.Hour, false)
	c := cachedOn(clk, f, 0)
	bug := errors.New("sdk bug")
	f.panics = bug
	func() {
		defer func() {
			v := recover()
			if err, ok := v.(error); !ok || !errors.Is(err, bug) {
				t.Fatalf("the caller recovered %v, want an error wrapping the provider's panic", v)
			}
		}()
		c.token(context.Background())
		t.Fatal("the caller did not panic")
	}()
	f.panics = nil
	expect(t, c, f, "token2", 2, "after the panic")
}

// Cached(nil) is nil, so that New refuses it as it refuses a nil provider.
func TestCachedNilIsANilProvider(t *testing.T) {
	if err := New(Cached(nil)).Validate(); !errors.Is(err, errNoProvider) {
		t.Fatalf("Validate: %v, want errNoProvider", err)
	}
}
