package oauthbearer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gokafka/producer/internal/ctxerr"
)

// When a cached token is fetched again: Java's login refresh defaults
// (sasl.login.refresh.window.factor 0.8, .window.jitter 0.05,
// .min.period.seconds 60, .buffer.seconds 300). Java ignores the minimum
// period and the buffer together when they add up to more than the
// token's lifetime; otherwise, at a factor of 0.8, the minimum period never
// binds (80% of a lifetime of 6 minutes or more is over a minute), so only
// the buffer is applied here.
const (
	refreshFactor    = 0.8
	refreshJitter    = 0.05
	refreshMinPeriod = time.Minute
	refreshBuffer    = 5 * time.Minute
)

// Cached returns a TokenProvider that calls provider only when it has no
// fresh token, so that every connection to every broker, and every
// re-authentication, shares one token rather than asking the identity
// provider each time. It is Java's login refresh with its defaults: a token
// is fresh until 80% of its lifetime (from when it was fetched to its
// Expiry) has passed, plus a random up to 5% so that producers started
// together do not refresh together, and at the latest 5 minutes before it
// expires (not for a token that lives under 6 minutes, where Java drops
// that buffer too). A token without an Expiry, already expired, or that
// breaks Token's rules serves only the call that fetched it.
//
// Callers that find no fresh token share one fetch. Each waits for it only
// until its own ctx ends, returning ctx's error; the fetch goes on for the
// others, under the first caller's ctx values and deadline but not its
// cancellation, and is cancelled once no caller waits for it or that
// deadline passes, so that a provider stuck in a call without a timeout
// holds up no caller past the first one's deadline, however the callers
// overlap. An error is never kept: the next call fetches again (at a new
// connection, after the reconnect backoff). A fetch that fails while the
// token kept before it has not expired yet gives its callers that token,
// as the Java client goes on with its credential while its refresh
// retries: an identity provider down for a minute fails no connection. A
// panic in provider is raised again in each caller waiting for that
// fetch, as it would be uncached.
//
// Unlike Java's login module, Cached refreshes when a token is asked for,
// not on a timer of its own: it starts no goroutine and needs no Close.
// Cached(nil) is nil, which New refuses.
func Cached(provider TokenProvider) TokenProvider {
	if provider == nil {
		return nil
	}
	return newTokenCache(provider, time.Now, rand.Float64).token
}

// tokenCache is Cached's state.
type tokenCache struct {
	provider TokenProvider
	now      func() time.Time
	jitter   func() float64 // a draw in [0, 1), for each token fetched

	mu       sync.Mutex
	tok      Token
	refresh  time.Time // tok is served before this; zero: no token kept
	fetching *fetch    // the fetch under way, if any
}

// fetch is one call of the provider, awaited by every caller that found no
// fresh token while it ran.
type fetch struct {
	done    chan struct{}
	tok     Token
	err     error
	panic   any // what the provider panicked with, if it did
	waiters int // callers waiting; the fetch is cancelled when none is left
	cancel  context.CancelFunc
}

func newTokenCache(provider TokenProvider, now func() time.Time, jitter func() float64) *tokenCache {
	return &tokenCache{provider: provider, now: now, jitter: jitter}
}

// token is the cached provider.
func (c *tokenCache) token(ctx context.Context) (Token, error) {
	c.mu.Lock()
	if c.now().Before(c.refresh) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	f := c.fetching
	if f == nil {
		f = c.startFetch(ctx)
	}
	f.waiters++
	c.mu.Unlock()

	select {
	case <-f.done:
		if f.panic != nil {
			panic(f.panic)
		}
		if f.err != nil {
			if tok, ok := c.unexpired(); ok {
				return tok, nil
			}
		}
		return f.tok, f.err
	case <-ctx.Done():
		c.leave(f)
		return Token{}, ctxerr.Of(ctx)
	}
}

// unexpired is the token kept before, while it has not expired: what a
// caller gets when its refresh failed.
func (c *tokenCache) unexpired() (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tok, !c.tok.Expiry.IsZero() && c.now().Before(c.tok.Expiry)
}

// startFetch calls the provider on a goroutine of its own, so that no one
// caller's ctx ends it for the others; the first caller's deadline bounds
// it. c.mu is held.
func (c *tokenCache) startFetch(ctx context.Context) *fetch {
	fctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(nil)
	if deadline, ok := ctx.Deadline(); ok {
		fctx, cancel = context.WithDeadline(fctx, deadline)
	} else {
		fctx, cancel = context.WithCancel(fctx)
	}
	f := &fetch{done: make(chan struct{}), cancel: cancel}
	c.fetching = f
	go c.run(fctx, f, c.now())
	return f
}

// leave is a caller giving up on f. The last one cancels it and lets the
// next caller start a fetch of its own, rather than wait behind a provider
// that may never answer.
func (c *tokenCache) leave(f *fetch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && c.fetching == f {
		c.fetching = nil
		f.cancel()
	}
}

// run calls the provider, keeps a token it can time, and tells f's
// callers. The result of a fetch everyone left is dropped: a newer fetch
// may have begun since.
func (c *tokenCache) run(ctx context.Context, f *fetch, started time.Time) {
	defer close(f.done)
	defer f.cancel()
	f.tok, f.panic, f.err = c.call(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fetching != f {
		return
	}
	c.fetching = nil
	c.refresh = time.Time{}
	if f.err != nil || f.panic != nil || f.tok.Expiry.IsZero() {
		return
	}
	if _, err := initialResponse(f.tok); err != nil {
		return // refused at every Start: the provider may do better next time
	}
	if at := refreshAt(started, f.tok.Expiry, c.jitter()); c.now().Before(at) {
		c.tok, c.refresh = f.tok, at
	}
}

// call is the provider's call, with a panic recovered: it runs on run's
// goroutine, where nobody could recover it, and is raised again in the
// callers. The panic's own stack would be lost there, so it goes with it.
func (c *tokenCache) call(ctx context.Context) (tok Token, panicked any, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = providerPanic(v, debug.Stack())
		}
	}()
	tok, err = c.provider(ctx)
	return tok, nil, err
}

// providerPanic is what the callers panic with for a provider that
// panicked with v: an error, wrapping v if it was one.
func providerPanic(v any, stack []byte) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("OAUTHBEARER: token provider panicked: %w\n\n%s", err, stack)
	}
	return fmt.Errorf("OAUTHBEARER: token provider panicked: %v\n\n%s", v, stack)
}

// refreshAt is when a token fetched at fetched and expiring at expiry
// stops being fresh; u is a draw in [0, 1) for the jitter.
func refreshAt(fetched, expiry time.Time, u float64) time.Time {
	life := expiry.Sub(fetched)
	at := fetched.Add(time.Duration(float64(life) * (refreshFactor + refreshJitter*u)))
	if life < refreshMinPeriod+refreshBuffer {
		return at
	}
	if latest := expiry.Add(-refreshBuffer); at.After(latest) {
		return latest
	}
	return at
}
