package conn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
	"github.com/gokafka/producer/sasl/plain"
	"github.com/gokafka/producer/sasl/scram"
)

const testPassword = "pw-never-printed"

// dialAsync dials fb with cfg on another goroutine, so that the test can
// play the broker's side of the handshake.
func dialAsync(t *testing.T, fb *fakeBroker, cfg Config) <-chan result2 {
	return dialAsyncWithin(t, fb, cfg, waitTime)
}

// dialAsyncWithin is dialAsync with a Dial whose ctx ends after d.
func dialAsyncWithin(t *testing.T, fb *fakeBroker, cfg Config, d time.Duration) <-chan result2 {
	ch := make(chan result2, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		c, err := Dial(ctx, fb.addr(), cfg)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		ch <- result2{c, err}
	}()
	return ch
}

// awaitReauthTimer waits, bounded, until the connection has armed its
// re-authentication timer for a session of lifetime that began at start:
// a timer due between 85% and 95% of it. (Request timeouts, the other
// timers, are 30s: outside that window for the lifetimes used here.) It
// returns when the timer is due.
func awaitReauthTimer(t *testing.T, fake *clock.Fake, start time.Time, lifetime time.Duration) time.Time {
	t.Helper()
	due, _ := awaitTimerBetween(t, fake, start.Add(lifetime*85/100), start.Add(lifetime*95/100), nil)
	return due
}

// awaitTimerBetween waits, bounded, until a timer due between from and to
// is armed, and returns when it is due; or until dead is closed, and then
// returns false.
func awaitTimerBetween(t *testing.T, fake *clock.Fake, from, to time.Time, dead <-chan struct{}) (time.Time, bool) {
	t.Helper()
	timeout := time.After(waitTime)
	for {
		for _, d := range fake.Deadlines() {
			if !d.Before(from) && !d.After(to) {
				return d, true
			}
		}
		select {
		case <-fake.Armed():
		case <-dead:
			return time.Time{}, false
		case <-timeout:
			t.Fatalf("no timer due between %v and %v armed within the wait time", from, to)
		}
	}
}

type result2 struct {
	c   *Conn
	err error
}

// expect reads the next request and checks its API.
func expect(t *testing.T, bc *brokerConn, api protocol.APIKey) request {
	t.Helper()
	r := bc.next(t)
	if r.api != api {
		t.Fatalf("broker got %s, want %s", r.api, api)
	}
	return r
}

// authBytes decodes a SaslAuthenticate request's token.
func authBytes(t *testing.T, r request) []byte {
	t.Helper()
	var req protocol.SaslAuthenticateRequest
	if err := req.ReadFrom(r.body, r.version); err != nil {
		t.Fatal(err)
	}
	return req.AuthBytes
}

// expectHandshake reads the next request and checks that it is a
// SaslHandshake v1 naming mech.
func expectHandshake(t *testing.T, bc *brokerConn, mech string) request {
	t.Helper()
	hs := expect(t, bc, protocol.SaslHandshake)
	var hreq protocol.SaslHandshakeRequest
	if err := hreq.ReadFrom(hs.body, hs.version); err != nil || hreq.Mechanism != mech || hs.version != 1 {
		t.Fatalf("handshake v%d for %q (%v), want v1 %s", hs.version, hreq.Mechanism, err, mech)
	}
	return hs
}

// acceptPlain plays a broker that accepts PLAIN credentials u/p and grants
// a session of lifetime.
func acceptPlain(t *testing.T, bc *brokerConn, lifetime time.Duration) {
	t.Helper()
	hs := expectHandshake(t, bc, "PLAIN")
	bc.reply(hs, &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	if got := string(authBytes(t, ar)); got != "\x00u\x00"+testPassword {
		t.Fatalf("PLAIN token %q", got)
	}
	bc.reply(ar, &protocol.SaslAuthenticateResponse{AuthBytes: []byte{}, SessionLifetimeMs: lifetime.Milliseconds()})
}

func TestSASLAfterApiVersions(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
	acceptPlain(t, fb.conn(t), 0)
	if r := <-done; r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
}

// assertRefused checks that a Dial error is a non-retriable *AuthError
// naming the mechanism and the broker, and quoting no secret.
func assertRefused(t *testing.T, err error, mech, addr string, cause error) {
	t.Helper()
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAuthentication) || IsRetriable(err) {
		t.Fatalf("error %v: want a non-retriable *AuthError", err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Errorf("error %v does not match %v", err, cause)
	}
	msg := err.Error()
	if !strings.Contains(msg, mech) || !strings.Contains(msg, addr) {
		t.Errorf("error %q does not name mechanism %s and broker %s", msg, mech, addr)
	}
	if strings.Contains(msg, testPassword) {
		t.Errorf("error %q quotes the password", msg)
	}
	// Still not retriable once the Broker wraps it in its backoff.
	if IsRetriable(&BackoffError{Addr: addr, Err: err}) {
		t.Error("a backoff after an authentication failure is retriable")
	}
}

func TestSASLRefusedCredentials(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: scram.SHA512("u", testPassword)})
	bc := fb.conn(t)
	hs := expectHandshake(t, bc, "SCRAM-SHA-512")
	bc.reply(hs, &protocol.SaslHandshakeResponse{})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512"
	bc.reply(ar, &protocol.SaslAuthenticateResponse{ErrorCode: kerr.SASLAuthenticationFailed.Code, ErrorMessage: &msg, AuthBytes: []byte{}})
	r := <-done
	assertRefused(t, r.err, "SCRAM-SHA-512", fb.addr(), kerr.SaslAuthenticationFailed)
	if !strings.Contains(r.err.Error(), "invalid credentials") {
		t.Errorf("error %q lacks the broker's message", r.err)
	}
	waitNoConnGoroutines(t, "after a refused authentication")
}

// A broker that hangs up in the middle of the SASL exchange, a request of
// the exchange awaiting its answer, fails the Dial at once, retriably: the
// producer dials again rather than hang on a connection that is gone. The
// error names the mechanism as well as the broker, as a refusal's does:
// which of a producer's mechanisms, or which of a fleet's, was under way
// is what the reader of a log looks for.
func TestABrokerHangingUpMidSASLFailsTheDial(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: scram.SHA512("u", testPassword)})
	bc := fb.conn(t)
	expect(t, bc, protocol.SaslHandshake)
	bc.nc.Close()
	r := bounded.Receive(t, done, 2*waitTime, "Dial after the broker hung up mid-SASL")
	if !errors.Is(r.err, ErrDisconnected) || !IsRetriable(r.err) {
		t.Fatalf("Dial error %v, want a retriable ErrDisconnected", r.err)
	}
	if msg := r.err.Error(); !strings.Contains(msg, "SCRAM-SHA-512") || !strings.Contains(msg, fb.addr()) {
		t.Fatalf("Dial error %v, want it to name SCRAM-SHA-512 and %s", r.err, fb.addr())
	}
}

func TestSASLUnsupportedMechanism(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
	bc := fb.conn(t)
	hs := expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{ErrorCode: kerr.UnsupportedSASLMechanism.Code, Mechanisms: []string{"SCRAM-SHA-256", "GSSAPI"}})
	r := <-done
	assertRefused(t, r.err, "PLAIN", fb.addr(), kerr.UnsupportedSASLMechanism)
	if !strings.Contains(r.err.Error(), "SCRAM-SHA-256, GSSAPI") {
		t.Errorf("error %q does not list the broker's mechanisms", r.err)
	}
}

// A broker that answers SCRAM with a server signature that does not verify
// does not know the credentials: the client refuses the connection.
func TestSCRAMWrongServerSignature(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: scram.SHA256("u", testPassword)})
	bc := fb.conn(t)
	hs := expectHandshake(t, bc, "SCRAM-SHA-256")
	bc.reply(hs, &protocol.SaslHandshakeResponse{})
	first := expect(t, bc, protocol.SaslAuthenticate)
	_, nonce, ok := strings.Cut(string(authBytes(t, first)), ",r=")
	if !ok {
		t.Fatalf("client-first %q", authBytes(t, first))
	}
	salt := base64.StdEncoding.EncodeToString([]byte("salt-of-16-bytes"))
	bc.reply(first, &protocol.SaslAuthenticateResponse{AuthBytes: []byte("r=" + nonce + "srv,s=" + salt + ",i=4096")})
	final := expect(t, bc, protocol.SaslAuthenticate)
	if !strings.Contains(string(authBytes(t, final)), ",p=") {
		t.Fatalf("client-final %q has no proof", authBytes(t, final))
	}
	forged := base64.StdEncoding.EncodeToString(make([]byte, 32))
	bc.reply(final, &protocol.SaslAuthenticateResponse{AuthBytes: []byte("v=" + forged)})
	r := <-done
	assertRefused(t, r.err, "SCRAM-SHA-256", fb.addr(), sasl.ErrServerVerification)
}

// A re-authentication (KIP-368) waits for the requests already written to
// be answered, in order, and holds back the ones sent meanwhile until it
// is over, so that nothing fails and nothing is reordered.
func TestReauthenticationKeepsRequestsInOrder(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := 10 * time.Second
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword), Clock: fake, MaxInFlight: 2})
	bc := fb.conn(t)
	acceptPlain(t, bc, lifetime)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	c := r.c
	awaitReauthTimer(t, fake, fake.Now(), lifetime)

	// Two requests in flight, unanswered: MaxInFlight is full.
	before := []*outcome{newOutcome(), newOutcome()}
	for _, o := range before {
		c.Send(context.Background(), &protocol.MetadataRequest{}, o.done)
	}
	inFlight := []request{expect(t, bc, protocol.Metadata), expect(t, bc, protocol.Metadata)}

	// The session nears its end: the re-authentication starts on its own
	// goroutine, beyond MaxInFlight, behind the two requests.
	fake.Advance(lifetime * 96 / 100)
	hs := expect(t, bc, protocol.SaslHandshake)

	// A request sent now must wait for the exchange to end.
	after := newOutcome()
	go c.Send(context.Background(), &protocol.MetadataRequest{}, after.done)

	// The broker answers in order: the two requests, then the exchange.
	for _, r := range inFlight {
		bc.reply(r, metadataResponse())
	}
	for i, o := range before {
		if res := o.wait(t, "request written before the re-authentication"); res.err != nil {
			t.Fatalf("request %d failed: %v", i, res.err)
		}
	}
	bc.reply(hs, &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	if got := string(authBytes(t, ar)); got != "\x00u\x00"+testPassword {
		t.Fatalf("re-authentication token %q", got)
	}
	select {
	case res := <-after.ch:
		t.Fatalf("the request sent during re-authentication completed early: %v", res.err)
	default:
	}
	bc.reply(ar, &protocol.SaslAuthenticateResponse{AuthBytes: []byte{}, SessionLifetimeMs: lifetime.Milliseconds()})

	// Only now does the held-back request reach the broker.
	m := expect(t, bc, protocol.Metadata)
	bc.reply(m, metadataResponse())
	if res := after.wait(t, "request sent during re-authentication"); res.err != nil {
		t.Fatalf("it failed: %v", res.err)
	}
	if c.Err() != nil {
		t.Fatalf("connection died: %v", c.Err())
	}

	// The next session is renewed too.
	awaitReauthTimer(t, fake, fake.Now(), lifetime)
	fake.Advance(lifetime * 96 / 100)
	acceptPlain(t, bc, 0)
	select {
	case <-c.reauthDone:
	case <-time.After(waitTime):
		t.Fatal("re-authentication goes on after a session without lifetime")
	}
}

// dueForReauthentication dials fb with cfg on the fake clock, accepts
// its PLAIN authentication for a session of a minute, and moves the clock
// to the session's re-authentication: the connection, and the broker's
// side of it, which connected is told of first if not nil.
func dueForReauthentication(t *testing.T, fake *clock.Fake, fb *fakeBroker, cfg Config, connected func(*brokerConn)) (*Conn, *brokerConn) {
	t.Helper()
	cfg.Clock = fake
	done := dialAsync(t, fb, cfg)
	bc := fb.conn(t)
	if connected != nil {
		connected(bc)
	}
	acceptPlain(t, bc, time.Minute)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	awaitReauthTimer(t, fake, fake.Now(), time.Minute)
	fake.Advance(time.Minute)
	return r.c, bc
}

// A refused re-authentication kills the connection with the *AuthError.
func TestReauthenticationRefused(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c, bc := dueForReauthentication(t, fake, fb, Config{SASL: plain.New("u", testPassword)}, nil)
	hs := expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	bc.reply(ar, &protocol.SaslAuthenticateResponse{ErrorCode: kerr.SASLAuthenticationFailed.Code, AuthBytes: []byte{}})
	select {
	case <-c.Done():
	case <-time.After(waitTime):
		t.Fatal("the connection outlived a refused re-authentication")
	}
	assertRefused(t, c.Err(), "PLAIN", fb.addr(), kerr.SaslAuthenticationFailed)
}

// A request waiting for the write lock while a re-authentication is
// refused fails unwritten (ErrNotSent, wrapping the *AuthError): the
// connection dies before the exchange lets go of the lock. Before, the lock
// went first, and the request could be written behind the refusal, where
// the broker reads nothing more, failing then as if the broker might have
// acted on it. The log of the failure, which came between the two, holds
// that window open here until the request reaches the broker or the
// connection closes.
func TestARequestQueuedBehindARefusedReauthenticationIsNotSent(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	log := &heldLog{message: "kafka re-authentication failed", behind: make(chan request, 1)}
	c, bc := dueForReauthentication(t, fake, fb, Config{SASL: plain.New("u", testPassword), Logger: slog.New(log)},
		func(bc *brokerConn) { log.bc = bc })
	hs := expect(t, bc, protocol.SaslHandshake)
	queued := newOutcome()
	go c.Send(context.Background(), &protocol.MetadataRequest{}, queued.done)
	bc.reply(hs, &protocol.SaslHandshakeResponse{})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	bc.reply(ar, &protocol.SaslAuthenticateResponse{ErrorCode: kerr.SASLAuthenticationFailed.Code, AuthBytes: []byte{}})

	res := queued.wait(t, "the request queued behind the re-authentication")
	if !errors.Is(res.err, ErrNotSent) {
		t.Errorf("the queued request failed with %v: want ErrNotSent", res.err)
	}
	assertRefused(t, res.err, "PLAIN", fb.addr(), kerr.SaslAuthenticationFailed)
	select {
	case req := <-log.behind:
		t.Errorf("%s written behind the refusal", req.api)
	default:
	}
}

// heldLog is a slog.Handler that holds up the record of message until bc's
// broker reads another request, which it passes on to behind, or bc closes.
type heldLog struct {
	message string
	bc      *brokerConn
	behind  chan request
}

func (h *heldLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *heldLog) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *heldLog) WithGroup(string) slog.Handler { return h }

func (h *heldLog) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != h.message {
		return nil
	}
	select {
	case req, ok := <-h.bc.requests:
		if ok {
			h.behind <- req
		}
	case <-time.After(waitTime): // the test fails on the outcome's wait
	}
	return nil
}

// errProviderDown is a token provider's error while its identity provider
// cannot be reached.
var errProviderDown = errors.New("identity provider unreachable")

// flakyStart is a mechanism whose starts, counted from 1, fail with
// errProviderDown from the from-th up to the one before the until-th.
type flakyStart struct {
	sasl.Mechanism
	from, until int32
	starts      atomic.Int32
}

func (m *flakyStart) Start(ctx context.Context, broker string) (sasl.Session, error) {
	if n := m.starts.Add(1); n >= m.from && n < m.until {
		return nil, errProviderDown
	}
	return m.Mechanism.Start(ctx, broker)
}

// retryPace is a reconnect backoff of one second, ±20%: the pace of the
// retries of a re-authentication that could not start.
const retryPace = time.Second

// dialForRetries dials fb with mech, paced by retryPace, and accepts its
// credentials for a session of lifetime.
func dialForRetries(t *testing.T, fb *fakeBroker, fake *clock.Fake, mech sasl.Mechanism, lifetime time.Duration) (*Conn, *brokerConn) {
	t.Helper()
	done := dialAsync(t, fb, Config{SASL: mech, Clock: fake, ReconnectBackoff: retryPace, ReconnectBackoffMax: retryPace})
	bc := fb.conn(t)
	acceptPlain(t, bc, lifetime)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.c, bc
}

// A re-authentication whose mechanism cannot start wrote nothing, and the
// session still holds: the connection goes on serving requests and tries
// again after the backoff, rather than failing what is in flight.
func TestAReauthenticationThatCouldNotStartIsRetried(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := time.Minute
	mech := &flakyStart{Mechanism: plain.New("u", testPassword), from: 2, until: 3}
	c, bc := dialForRetries(t, fb, fake, mech, lifetime)
	due := awaitReauthTimer(t, fake, fake.Now(), lifetime)
	fake.Advance(due.Sub(fake.Now()))

	retry, ok := awaitTimerBetween(t, fake, due.Add(retryPace*8/10), due.Add(retryPace*12/10), c.Done())
	if !ok {
		t.Fatalf("the connection failed when the token fetch did: %v", c.Err())
	}
	// Meanwhile the connection serves requests, and the broker saw nothing
	// of an exchange: its next request is this one.
	o := newOutcome()
	c.Send(context.Background(), &protocol.MetadataRequest{}, o.done)
	bc.reply(expect(t, bc, protocol.Metadata), metadataResponse())
	if res := o.wait(t, "a request sent while the re-authentication waits"); res.err != nil {
		t.Fatalf("it failed: %v", res.err)
	}

	fake.Advance(retry.Sub(fake.Now()))
	acceptPlain(t, bc, lifetime)
	awaitReauthTimer(t, fake, fake.Now(), lifetime)
	if err := c.Err(); err != nil {
		t.Fatalf("connection died: %v", err)
	}
	if n := mech.starts.Load(); n != 3 {
		t.Fatalf("the mechanism was started %d times, want 3: the dial, the failure, the retry", n)
	}
}

// A mechanism that keeps failing to start is retried until the next try
// would come after the session expires; only then does the connection
// fail, with the mechanism's error.
func TestAReauthenticationThatNeverStartsFailsTheConnectionAsTheSessionEnds(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := time.Minute
	expires := fake.Now().Add(lifetime)
	mech := &flakyStart{Mechanism: plain.New("u", testPassword), from: 2, until: math.MaxInt32}
	c, _ := dialForRetries(t, fb, fake, mech, lifetime)
	// The first try comes 57s into the session at the latest, and the
	// next ones 1.2s apart at most: 3 tries or more before it expires.
	due := awaitReauthTimer(t, fake, fake.Now(), lifetime)
	for try := 0; ; try++ {
		if try > 20 {
			t.Fatalf("still retrying at %v, past the session's end at %v", due, expires)
		}
		fake.Advance(due.Sub(fake.Now()))
		var ok bool
		due, ok = awaitTimerBetween(t, fake, due.Add(retryPace*8/10), due.Add(retryPace*12/10), c.Done())
		if !ok {
			break
		}
	}
	if n := mech.starts.Load(); n < 4 {
		t.Fatalf("the connection failed after %d tries to re-authenticate, want 3 or more", n-1)
	}
	if left := expires.Sub(fake.Now()); left <= 0 || left > retryPace*12/10 {
		t.Fatalf("the connection failed %v before the session's end, want a backoff's length at most", left)
	}
	assertCouldNotStart(t, c.Err(), "PLAIN", fb.addr(), errProviderDown)
}

// assertCouldNotStart checks that err is a mechanism's failure to start,
// cause: a retriable disconnect naming the mechanism and the broker, not
// an *AuthError, since nothing was written and the broker refused nothing.
func assertCouldNotStart(t *testing.T, err error, mech, addr string, cause error) {
	t.Helper()
	var ae *AuthError
	if errors.As(err, &ae) || errors.Is(err, ErrAuthentication) || !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
		t.Fatalf("error %v: want a retriable ErrDisconnected, not an authentication failure", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("error %v does not match %v", err, cause)
	}
	want := "SASL " + mech + " to " + addr + ": could not start: "
	if msg := err.Error(); !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
	if !IsRetriable(&BackoffError{Addr: addr, Err: err}) {
		t.Error("a backoff after a mechanism that could not start is not retriable")
	}
}

// A dial whose mechanism cannot start (a token provider whose identity
// provider answered 503) fails retriably, and the broker sees no exchange:
// the next dial may well get its token. It was an *AuthError, on which the
// producer failed every record bound for the broker at once, as refused.
func TestADialWhoseMechanismCannotStartIsRetriable(t *testing.T) {
	fb := newFakeBroker(t)
	mech := &flakyStart{Mechanism: plain.New("u", testPassword), from: 1, until: 2}
	done := dialAsync(t, fb, Config{SASL: mech})
	bc := fb.conn(t)
	r := <-done
	if r.c != nil {
		t.Fatal("Dial returned a connection")
	}
	assertCouldNotStart(t, r.err, "PLAIN", fb.addr(), errProviderDown)
	assertNothingExchanged(t, bc)

	done = dialAsync(t, fb, Config{SASL: mech})
	acceptPlain(t, fb.conn(t), 0)
	if r := <-done; r.err != nil {
		t.Fatalf("the next dial: %v", r.err)
	}
}

// A token provider whose own HTTP client timed out (net/http's timeout
// matches context.DeadlineExceeded) fails the dial as a mechanism that
// could not start, its error kept as text: a dial's failure matches ctx's
// error only if ctx ended, and this one's is alive. It was wrapped, so a
// producer's record failed as if its caller's ctx had ended.
func TestATokenProvidersOwnTimeoutIsNotTheDialsCtxError(t *testing.T) {
	fb := newFakeBroker(t)
	mech := oauthbearer.New(func(context.Context) (oauthbearer.Token, error) {
		return oauthbearer.Token{}, fmt.Errorf("identity provider: %w", context.DeadlineExceeded)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	_, err := Dial(ctx, fb.addr(), Config{SASL: mech})
	if ctx.Err() != nil {
		t.Fatalf("the dial outlived its ctx: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
		t.Fatalf("error %v: want a retriable ErrDisconnected that does not match context.DeadlineExceeded", err)
	}
	want := "could not start: OAUTHBEARER: token provider: identity provider: context deadline exceeded"
	if msg := err.Error(); !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
}

// assertNothingExchanged fails t unless bc, the broker's side of a dial
// whose mechanism failed to start, got no request before it closed.
func assertNothingExchanged(t *testing.T, bc *brokerConn) {
	t.Helper()
	select {
	case req, ok := <-bc.requests:
		if ok {
			t.Fatalf("the broker got %s from a mechanism that could not start", req.api)
		}
	case <-time.After(waitTime):
		t.Fatal("the connection outlived its failed dial")
	}
}

// A dial whose mechanism judges the credentials it was given invalid (an
// OAUTHBEARER extension name with a hyphen) is refused, an *AuthError, and
// the broker sees no exchange: every dial would be judged alike. It was a
// retriable ErrDisconnected, retried until the records' delivery timeout.
func TestADialWithInvalidCredentialsIsRefused(t *testing.T) {
	fb := newFakeBroker(t)
	mech := oauthbearer.New(func(context.Context) (oauthbearer.Token, error) {
		return oauthbearer.Token{Value: "eyJhbGciOiJub25lIn0.e30.", Extensions: map[string]string{"trace-id": "x"}}, nil
	})
	done := dialAsync(t, fb, Config{SASL: mech})
	bc := fb.conn(t)
	r := <-done
	if r.c != nil {
		t.Fatal("Dial returned a connection")
	}
	assertRefused(t, r.err, "OAUTHBEARER", fb.addr(), sasl.ErrInvalidCredentials)
	assertNothingExchanged(t, bc)
}

// stalledStart is a mechanism whose starts, from the from-th on, wait for
// their context to end: a token fetch from an identity provider that does
// not answer.
type stalledStart struct {
	sasl.Mechanism
	from    int32
	starts  atomic.Int32
	stalled chan struct{}
}

func (m *stalledStart) Start(ctx context.Context, broker string) (sasl.Session, error) {
	if m.starts.Add(1) < m.from {
		return m.Mechanism.Start(ctx, broker)
	}
	m.stalled <- struct{}{}
	<-ctx.Done()
	return nil, fmt.Errorf("fetching a token: %w", ctx.Err())
}

func (m *stalledStart) awaitStall(t *testing.T) {
	t.Helper()
	select {
	case <-m.stalled:
	case <-time.After(waitTime):
		t.Fatal("the mechanism was not started within the wait time")
	}
}

// A dial given up while the mechanism starts (a token fetch under way) is
// not a refusal: the broker refused nothing, and a caller that stops at
// the first ErrAuthentication would not try the next broker. It was an
// *AuthError wrapping the context's error.
func TestADialGivenUpWhileTheMechanismStartsIsNotARefusal(t *testing.T) {
	fb := newFakeBroker(t)
	mech := &stalledStart{Mechanism: plain.New("u", testPassword), from: 1, stalled: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		c, err := Dial(ctx, fb.addr(), Config{SASL: mech})
		if c != nil {
			c.Close()
		}
		done <- err
	}()
	mech.awaitStall(t)
	cancel()
	select {
	case err := <-done:
		if errors.Is(err, ErrAuthentication) || !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v: want the dial's context.Canceled, not an authentication failure", err)
		}
	case <-time.After(waitTime):
		t.Fatal("Dial outlived its context")
	}
}

// assertExchangeTimedOut checks that an exchange that outlived
// RequestTimeout failed as a request that timed out: retriable, since the
// broker refused nothing.
func assertExchangeTimedOut(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrRequestTimeout) || !IsRetriable(err) || errors.Is(err, ErrAuthentication) {
		t.Fatalf("error %v: want a retriable ErrRequestTimeout, not an authentication failure", err)
	}
}

// awaitDialTimedOut waits, bounded, for a Dial whose what took longer than
// RequestTimeout to fail as assertExchangeTimedOut wants.
func awaitDialTimedOut(t *testing.T, done <-chan result2, what string) {
	t.Helper()
	select {
	case r := <-done:
		if r.c != nil {
			t.Fatal("Dial returned a connection")
		}
		assertExchangeTimedOut(t, r.err)
	case <-time.After(waitTime):
		t.Fatalf("Dial outlived %s that took longer than RequestTimeout", what)
	}
}

// A token fetch that hangs as a re-authentication starts holds up none of
// the connection's requests, and the exchange gives up after
// RequestTimeout; with the session over by then, the connection fails, and
// the producer dials again.
func TestReauthenticationWhoseTokenFetchHangs(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	mech := &stalledStart{Mechanism: plain.New("u", testPassword), from: 2, stalled: make(chan struct{}, 1)}
	c, bc := dueForReauthentication(t, fake, fb, Config{SASL: mech, RequestTimeout: 5 * time.Second}, nil)
	mech.awaitStall(t)

	o := newOutcome()
	c.Send(context.Background(), &protocol.MetadataRequest{}, o.done)
	bc.reply(expect(t, bc, protocol.Metadata), metadataResponse())
	if res := o.wait(t, "a request sent while the token is fetched"); res.err != nil {
		t.Fatalf("it failed: %v", res.err)
	}

	fake.Advance(5 * time.Second)
	select {
	case <-c.Done():
	case <-time.After(waitTime):
		t.Fatal("the connection outlived a re-authentication that took longer than RequestTimeout")
	}
	assertExchangeTimedOut(t, c.Err())
}

// A token fetch that hangs as a connection is first made fails the dial
// after RequestTimeout, so that the next dial tries again.
func TestDialWhoseTokenFetchHangs(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	mech := &stalledStart{Mechanism: plain.New("u", testPassword), from: 1, stalled: make(chan struct{}, 1)}
	done := dialAsync(t, fb, Config{SASL: mech, Clock: fake, RequestTimeout: 5 * time.Second})
	fb.conn(t)
	mech.awaitStall(t)
	fake.Advance(5 * time.Second)
	awaitDialTimedOut(t, done, "an authentication")
}

// stalledStep is a mechanism whose steps wait for their context to end.
type stalledStep struct {
	stalled chan struct{}
}

func (m *stalledStep) Name() string { return "PLAIN" }

func (m *stalledStep) Start(context.Context, string) (sasl.Session, error) { return m, nil }

func (m *stalledStep) Step(ctx context.Context, _ []byte) ([]byte, bool, error) {
	m.stalled <- struct{}{}
	<-ctx.Done()
	return nil, false, ctx.Err()
}

// RequestTimeout bounds each of the mechanism's calls from its start, not
// the exchange as a whole: a handshake answered late, as on a busy
// connection, leaves the step that follows its full time.
func TestAStepThatHangsFailsTheDialAfterItsOwnRequestTimeout(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	mech := &stalledStep{stalled: make(chan struct{}, 1)}
	done := dialAsync(t, fb, Config{SASL: mech, Clock: fake, RequestTimeout: 5 * time.Second})
	bc := fb.conn(t)
	hs := expect(t, bc, protocol.SaslHandshake)
	fake.Advance(4 * time.Second)
	bc.reply(hs, &protocol.SaslHandshakeResponse{})
	select {
	case <-mech.stalled:
	case <-time.After(waitTime):
		t.Fatal("the mechanism took no step within the wait time")
	}
	// The step's bound is armed before the step is called, so it is there
	// now. A Dial that ended at 5s into the exchange would end on a
	// goroutine of its own after the Advance below, most often after the
	// check of done, which alone let that through.
	stepEnds := fake.Now().Add(5 * time.Second)
	if !slices.Contains(fake.Deadlines(), stepEnds) {
		t.Fatalf("no timer armed for RequestTimeout from the step's start (%v); armed: %v", stepEnds, fake.Deadlines())
	}
	fake.Advance(4 * time.Second) // 8s into the exchange, 4s into the step
	select {
	case r := <-done:
		t.Fatalf("Dial ended before the step's own RequestTimeout: %v", r.err)
	default:
	}
	fake.Advance(time.Second)
	awaitDialTimedOut(t, done, "a step")
}

// deafMechanism is a mechanism whose Start, or whose first Step with
// inStep, blocks without watching its ctx until the test ends: a token
// provider stuck in an SDK call that takes no ctx.
type deafMechanism struct {
	inStep  bool
	stalled chan struct{}
	release chan struct{}
}

func newDeafMechanism(t *testing.T, inStep bool) *deafMechanism {
	m := &deafMechanism{inStep: inStep, stalled: make(chan struct{}, 1), release: make(chan struct{})}
	t.Cleanup(func() { close(m.release) })
	return m
}

func (m *deafMechanism) Name() string { return "PLAIN" }

func (m *deafMechanism) Start(context.Context, string) (sasl.Session, error) {
	if !m.inStep {
		m.stall()
	}
	return m, nil
}

func (m *deafMechanism) Step(context.Context, []byte) ([]byte, bool, error) {
	m.stall()
	return nil, false, errors.New("released at the test's end")
}

func (m *deafMechanism) stall() {
	m.stalled <- struct{}{}
	<-m.release
}

// A mechanism call that ignores its ctx fails the dial at RequestTimeout
// all the same, as one that watches it does: the exchange waits for the
// call or for its ctx, whichever ends first. Before, the dial waited for
// the call, and with it the Broker's Close, and so the producer's.
func TestAMechanismThatIgnoresItsCtxFailsTheDialAtRequestTimeout(t *testing.T) {
	for _, call := range []struct {
		name   string
		inStep bool
	}{{"Start", false}, {"Step", true}} {
		t.Run(call.name, func(t *testing.T) {
			fake := clock.NewFake(time.Unix(1000, 0))
			fb := newFakeBroker(t)
			mech := newDeafMechanism(t, call.inStep)
			done := dialAsync(t, fb, Config{SASL: mech, Clock: fake, RequestTimeout: 5 * time.Second})
			bc := fb.conn(t)
			if call.inStep {
				bc.reply(expect(t, bc, protocol.SaslHandshake), &protocol.SaslHandshakeResponse{})
			}
			select {
			case <-mech.stalled:
			case <-time.After(waitTime):
				t.Fatal("the mechanism was not called within the wait time")
			}
			fake.Advance(5 * time.Second)
			awaitDialTimedOut(t, done, "a mechanism call")
		})
	}
}

// reauthenticatedOnce dials fb with PLAIN on fake, granting sessions of
// lifetime, and plays the connection's first re-authentication: the
// connection, the broker's side of it, and when the re-authentication
// ended.
func reauthenticatedOnce(t *testing.T, fake *clock.Fake, fb *fakeBroker, lifetime time.Duration) (*Conn, *brokerConn, time.Time) {
	t.Helper()
	c, bc := dueToReauthenticate(t, fake, fb, lifetime)
	acceptPlain(t, bc, lifetime)
	return c, bc, fake.Now()
}

// dueToReauthenticate dials with PLAIN, the broker granting a session of
// lifetime, and moves the fake clock to the first re-authentication, which
// the caller answers.
func dueToReauthenticate(t *testing.T, fake *clock.Fake, fb *fakeBroker, lifetime time.Duration) (*Conn, *brokerConn) {
	t.Helper()
	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword), Clock: fake})
	bc := fb.conn(t)
	acceptPlain(t, bc, lifetime)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	due := awaitReauthTimer(t, fake, fake.Now(), lifetime)
	fake.Advance(due.Sub(fake.Now()))
	return r.c, bc
}

// assertLapsed checks that c closed as its session expired: a retriable
// disconnect, not an authentication failure, with nothing more sent.
func assertLapsed(t *testing.T, c *Conn, bc *brokerConn) {
	t.Helper()
	// The broker's readLoop closes requests once the connection closes,
	// and a receive from it then yields a zero request (api 0, which reads
	// "Produce"): only a request received with ok was sent.
	select {
	case <-c.Done():
	case req, ok := <-bc.requests:
		if ok {
			t.Fatalf("the broker got %s where the session should have lapsed", req.api)
		}
		waitClosed(t, c.Done(), "Done after the session lapsed")
	case <-time.After(waitTime):
		t.Fatal("the connection outlived its session")
	}
	err := c.Err()
	if errors.Is(err, ErrAuthentication) || !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
		t.Fatalf("error %v: want a retriable ErrDisconnected, not an authentication failure", err)
	}
	if !strings.Contains(err.Error(), "expired") {
		t.Errorf("error %q does not say the session expired", err)
	}
}

// Kafka refuses a re-authentication begun within a second of the last one.
// With sessions of a second (connections.max.reauth.ms=1000), the next one
// cannot begin before the session ends, so the connection lapses as it
// expires, retriably, and the next dial authenticates afresh. Before, the
// second re-authentication began 0.85-0.95s after the first, and the
// broker's ILLEGAL_SASL_STATE killed the connection with an *AuthError.
func TestASessionTooShortToReauthenticateLapses(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := time.Second
	c, bc, first := reauthenticatedOnce(t, fake, fb, lifetime)
	// The session's end, or (before) the next re-authentication.
	due, _ := awaitTimerBetween(t, fake, first.Add(lifetime*85/100), first.Add(lifetime), nil)
	fake.Advance(due.Sub(fake.Now()))
	assertLapsed(t, c, bc)
	if got := fake.Now().Sub(first); got != lifetime {
		t.Errorf("the connection closed %v after the re-authentication, want as its session of %v expired", got, lifetime)
	}
}

// A session a little longer than a second is renewed, a second after the
// last re-authentication rather than at 85-95% of it (0.89-1s), which Kafka
// would refuse.
func TestAReauthenticationBeginsNoSoonerThanASecondAfterTheLast(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := 1050 * time.Millisecond
	c, bc, first := reauthenticatedOnce(t, fake, fb, lifetime)
	due, _ := awaitTimerBetween(t, fake, first.Add(minReauthInterval), first.Add(minReauthInterval), nil)
	fake.Advance(due.Sub(fake.Now()))
	acceptPlain(t, bc, time.Minute)
	awaitReauthTimer(t, fake, fake.Now(), time.Minute)
	if err := c.Err(); err != nil {
		t.Fatalf("connection died: %v", err)
	}
}

// A re-authentication whose exchange takes a while (SCRAM's key stretching
// on a busy machine, say) still leaves room for the next: the next begins
// at 85-95% of the session counted from its start, as its expiry is. Counted
// from the exchange's end, an exchange of 15% of a 2s session put the next
// at or past the expiry, and the session lapsed with requests in flight.
func TestASlowReauthenticationStillLeavesTimeForTheNext(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	lifetime := 2 * time.Second
	c, bc := dueToReauthenticate(t, fake, fb, lifetime)
	began := fake.Now()
	hs := expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	ar := expect(t, bc, protocol.SaslAuthenticate)
	fake.Advance(lifetime * 15 / 100)
	bc.reply(ar, &protocol.SaslAuthenticateResponse{AuthBytes: []byte{}, SessionLifetimeMs: lifetime.Milliseconds()})

	next, _ := awaitTimerBetween(t, fake, began.Add(lifetime*85/100), began.Add(lifetime), nil)
	if !next.Before(began.Add(lifetime)) {
		t.Fatalf("after an exchange of %v the session lapses at %v; the next re-authentication was due before it",
			lifetime*15/100, next.Sub(began))
	}
	fake.Advance(next.Sub(fake.Now()))
	acceptPlain(t, bc, lifetime)
	awaitReauthTimer(t, fake, fake.Now(), lifetime)
	if err := c.Err(); err != nil {
		t.Fatalf("connection died: %v", err)
	}
}

// ILLEGAL_SASL_STATE answered to a re-authentication's handshake refuses its
// timing, not the credentials: the connection fails retriably, to be dialed
// again, where it was an *AuthError that failed the producer's records as
// refused. Answered to a first authentication, it is still a refusal.
func TestIllegalSASLStateAtAReauthenticationIsRetriable(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c, bc := dueForReauthentication(t, fake, fb, Config{SASL: plain.New("u", testPassword)}, nil)
	hs := expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{ErrorCode: kerr.IllegalSASLState.Code, Mechanisms: []string{"PLAIN"}})
	select {
	case <-c.Done():
	case <-time.After(waitTime):
		t.Fatal("the connection outlived a refused re-authentication")
	}
	err := c.Err()
	if errors.Is(err, ErrAuthentication) || !errors.Is(err, ErrDisconnected) || !IsRetriable(err) {
		t.Fatalf("error %v: want a retriable ErrDisconnected, not an authentication failure", err)
	}
	if !errors.Is(err, kerr.IllegalSASLState) {
		t.Errorf("error %v does not match ILLEGAL_SASL_STATE", err)
	}

	done := dialAsync(t, fb, Config{SASL: plain.New("u", testPassword)})
	bc = fb.conn(t)
	hs = expect(t, bc, protocol.SaslHandshake)
	bc.reply(hs, &protocol.SaslHandshakeResponse{ErrorCode: kerr.IllegalSASLState.Code, Mechanisms: []string{"PLAIN"}})
	assertRefused(t, (<-done).err, "PLAIN", fb.addr(), kerr.IllegalSASLState)
}

// Any other error answered to a re-authentication's handshake is a
// refusal, as at a first authentication: a broker that no longer enables
// the mechanism (UNSUPPORTED_SASL_MECHANISM, its listener reconfigured)
// would refuse every redial alike, so the connection dies with an
// *AuthError, on which the producer fails the records bound for it, rather
// than a retriable disconnect, redialed until their delivery timeout.
func TestAReauthenticationsHandshakeRefusedForAnythingButItsTimingIsARefusal(t *testing.T) {
	fake := clock.NewFake(time.Unix(1000, 0))
	fb := newFakeBroker(t)
	c, bc := dueForReauthentication(t, fake, fb, Config{SASL: plain.New("u", testPassword)}, nil)
	hs := expectHandshake(t, bc, "PLAIN")
	bc.reply(hs, &protocol.SaslHandshakeResponse{ErrorCode: kerr.UnsupportedSASLMechanism.Code, Mechanisms: []string{"SCRAM-SHA-512"}})
	waitClosed(t, c.Done(), "Done after a refused re-authentication")
	assertRefused(t, c.Err(), "PLAIN", fb.addr(), kerr.UnsupportedSASLMechanism)
}

// endlessMechanism is never satisfied: it answers every message from the
// broker with another.
type endlessMechanism struct{}

func (endlessMechanism) Name() string { return "PLAIN" }

func (m endlessMechanism) Start(context.Context, string) (sasl.Session, error) { return m, nil }

func (endlessMechanism) Step(context.Context, []byte) ([]byte, bool, error) {
	return []byte("more"), false, nil
}

// An exchange that never ends, a mechanism and a broker answering each
// other for ever, is refused as a protocol error after maxSASLRounds
// SaslAuthenticate requests. Unbounded, it held the connection's write
// lock for as long as the two went on: each round is bounded by
// RequestTimeout, but the rounds together only by the caller's ctx, which
// for a re-authentication ends with the connection.
func TestAnExchangeThatNeverEndsIsRefusedAfterItsRounds(t *testing.T) {
	fb := newFakeBroker(t)
	done := dialAsync(t, fb, Config{SASL: endlessMechanism{}})
	bc := fb.conn(t)
	bc.reply(expectHandshake(t, bc, "PLAIN"), &protocol.SaslHandshakeResponse{Mechanisms: []string{"PLAIN"}})
	for range maxSASLRounds {
		bc.reply(expect(t, bc, protocol.SaslAuthenticate), &protocol.SaslAuthenticateResponse{AuthBytes: []byte("again")})
	}
	r := bounded.Receive(t, done, 2*waitTime, "Dial after the exchange's last round")
	assertRefused(t, r.err, "PLAIN", fb.addr(), sasl.ErrProtocol)
}

// brokerRecorder is PLAIN that records the broker each Start is given.
type brokerRecorder struct {
	sasl.Mechanism
	brokers chan string
}

func (m *brokerRecorder) Start(ctx context.Context, broker string) (sasl.Session, error) {
	m.brokers <- broker
	return m.Mechanism.Start(ctx, broker)
}

// The mechanism is started with the address of the broker it
// authenticates to, as sasl.Mechanism promises: a mechanism that signs its
// message for one host (a cloud's IAM signature) or asks for a token per
// broker has nothing else to tell them apart.
func TestTheMechanismIsStartedWithTheBrokersAddress(t *testing.T) {
	fb := newFakeBroker(t)
	mech := &brokerRecorder{Mechanism: plain.New("u", testPassword), brokers: make(chan string, 1)}
	done := dialAsync(t, fb, Config{SASL: mech})
	acceptPlain(t, fb.conn(t), 0)
	if r := bounded.Receive(t, done, 2*waitTime, "Dial"); r.err != nil {
		t.Fatalf("Dial: %v", r.err)
	}
	if got := bounded.Receive(t, mech.brokers, waitTime, "the mechanism's start"); got != fb.addr() {
		t.Fatalf("the mechanism was started for broker %q, want %q", got, fb.addr())
	}
}
