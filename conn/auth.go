package conn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl"
)

// maxSASLRounds bounds one exchange, so that a mechanism and a broker that
// keep answering each other cannot loop forever. The mechanisms Kafka
// offers need two rounds at most.
const maxSASLRounds = 16

// authenticate runs one SASL exchange on c: SaslHandshake v1 naming the
// mechanism, then the mechanism's messages in SaslAuthenticate requests
// (KIP-152) until it is satisfied. It returns the session the broker
// granted (KIP-368), of lifetime zero if it set no limit. Its steps, in
// order, are checkVersions, start, and under the write lock handshake and
// rounds, which share a saslExchange.
//
// The mechanism's session starts before the write lock is taken: starting
// may fetch a token from an identity provider, and a re-authentication
// runs on a connection whose requests must not wait for that. From the
// handshake to the last message it holds the write lock, because the
// broker accepts nothing else in between. Requests written before it keep
// their place and are answered first, since a broker answers in order;
// requests that come during it wait for the lock. That is what lets a
// re-authentication run on a busy connection without failing or
// reordering anything.
//
// Each of the mechanism's calls (Start, and each Step) must end within
// RequestTimeout, as each of the exchange's requests must. A token fetch
// that hung would otherwise hold up the connection, or on a first dial
// every dial of the broker, with nothing on the wire for the request
// timeout to catch. It then fails as a request that timed out, which is
// retriable: the broker refused nothing. The exchange stops waiting for
// the call then, whether or not the call watches its ctx (see callWithin).
// (The calls are bounded one by one, not the exchange as a whole: on a
// busy connection the handshake's answer comes after those of the requests
// written before it.) A Start that fails is retriable too (see
// couldNotStart), unless the mechanism judged its credentials invalid
// (sasl.ErrInvalidCredentials), which is a refusal, an *AuthError; a
// Step's failure is the mechanism refusing the broker's answer, an
// *AuthError too.
//
// An error means the exchange stopped half-way, so the connection is no
// longer usable: authenticate fails it with the error before it lets go of
// the write lock, and the caller closes it. A refusal is an *AuthError; a
// broken connection is the retriable error it was. The exception is an
// error with exchanged false: nothing was written (the mechanism could not
// start, its Start failing or timing out, or the connection died first), so
// the connection, with the session it already has, is as it was. A first
// authentication fails the dial all the same; a re-authentication tries
// again while that session lasts.
//
// reauth says the connection is authenticated already. Kafka answers the
// SaslHandshake of a re-authentication begun within a second of the last
// one ILLEGAL_SASL_STATE (see minReauthInterval): that refuses the timing,
// not the credentials, so it fails the connection retriably, to be dialed
// again. Answered to a first authentication, it stays a refusal.
func (c *Conn) authenticate(ctx context.Context, reauth bool) (g grant, exchanged bool, err error) {
	x := c.newSASLExchange(ctx)
	version, err := x.checkVersions()
	if err != nil {
		return grant{}, false, err
	}
	// The session may go on using Start's context through the exchange:
	// it ends with it.
	session, endStart, err := x.start()
	defer endStart()
	if err != nil {
		return grant{}, false, err
	}

	select {
	case c.writeLock <- struct{}{}:
	case <-ctx.Done():
		return grant{}, false, fmt.Errorf("%s: %w", x, context.Cause(ctx))
	case <-c.dead:
		return grant{}, false, c.Err()
	}
	// From here on, an error leaves the exchange half-way, and the
	// connection dies of it before the lock is let go: a request waiting
	// for the lock must not be written behind a refusal, where the broker
	// would not read it, and fail later as if it might have been written.
	// It fails unwritten instead (ErrNotSent), so its batches are known
	// never to have been sent. The connection's teardown, which runs the
	// callbacks of the requests its death fails, comes once the lock is let
	// go, as no callback runs under it.
	defer func() {
		td := x.killed
		if td == nil && err != nil {
			td = c.kill(err)
		}
		<-c.writeLock
		c.tearDown(td)
	}()
	if g.begunBy, err = x.handshake(reauth); err != nil {
		return grant{}, true, err
	}
	g, err = x.rounds(session, version, g)
	return g, true, err
}

// saslExchange is what the parts of one authenticate share, so that each
// part reads alone: the connection, the caller's ctx, which bounds the
// whole exchange, the mechanism, and timedOut, the error of one of the
// mechanism's calls that outlasted RequestTimeout: one value, made once,
// so that failed tells that timeout from any other end by comparing the
// call's cause with it.
type saslExchange struct {
	c        *Conn
	ctx      context.Context
	mech     sasl.Mechanism
	timedOut error
	// killed is the teardown of the connection a write of the exchange
	// killed, which authenticate runs once it has let go of the lock.
	killed *teardown
}

// newSASLExchange makes timedOut once for the exchange: failed tells a
// call's own timeout from any other end by comparing causes with it.
func (c *Conn) newSASLExchange(ctx context.Context) *saslExchange {
	mech := c.cfg.SASL
	return &saslExchange{
		c:    c,
		ctx:  ctx,
		mech: mech,
		timedOut: fmt.Errorf("SASL %s authentication to %s: %w: the mechanism took longer than %v",
			mech.Name(), c.addr, ErrRequestTimeout, c.cfg.RequestTimeout),
	}
}

// String names the exchange in its errors: the mechanism and the broker,
// as an *AuthError names them, so that every failure of the exchange, not
// only a refusal, says which mechanism was under way.
func (x *saslExchange) String() string {
	return "SASL " + x.mech.Name() + " authentication to " + x.c.addr
}

// refused makes err a refusal, an *AuthError, which fails every record
// waiting for the broker at once (see couldNotStart): for what every try
// would meet alike.
func (x *saslExchange) refused(err error) error {
	return &AuthError{Addr: x.c.addr, Mechanism: x.mech.Name(), Err: err}
}

// bounded is the context of one of the mechanism's calls, ending at
// RequestTimeout with timedOut as its cause.
func (x *saslExchange) bounded() (context.Context, context.CancelFunc) {
	return clock.WithTimeoutCause(x.ctx, x.c.cfg.Clock, x.c.cfg.RequestTimeout, x.timedOut)
}

// failed is the error of a call made within call, a context of bounded's:
// the call's timeout, whatever the mechanism made of it; the connection's
// end or the caller's giving up, which the broker did not refuse either;
// or else the call's own failure, as otherwise words it: a Start that
// failed, or a Step's refusal.
func (x *saslExchange) failed(call context.Context, err error, otherwise func(error) error) error {
	switch {
	case context.Cause(call) == x.timedOut:
		return x.timedOut
	case x.ctx.Err() != nil:
		select {
		case <-x.c.dead:
			return x.c.Err()
		default:
			return fmt.Errorf("%s: %w", x, context.Cause(x.ctx))
		}
	}
	return otherwise(err)
}

// checkVersions returns the SaslAuthenticate version to speak, or a
// refusal if the broker does not speak what the exchange needs: checked
// before the mechanism starts, so that a broker that could never accept
// its messages costs no token fetch.
func (x *saslExchange) checkVersions() (int16, error) {
	if v, err := x.c.versions.For(protocol.SaslHandshake); err != nil || v < 1 {
		// v0 would make the tokens bare frames, which we do not speak.
		return 0, x.refused(fmt.Errorf("the broker does not speak SaslHandshake v1 (Kafka 1.0+): %w", errOr(err, protocol.ErrUnsupportedVersion)))
	}
	version, err := x.c.versions.For(protocol.SaslAuthenticate)
	if err != nil {
		return 0, x.refused(err)
	}
	return version, nil
}

// start starts the mechanism's session before authenticate takes the
// write lock, since it may fetch a token. It returns end, which ends
// Start's context, for the caller to defer to the exchange's end, failed
// or not: the session may go on using that context. A failure is
// retriable (see couldNotStart) unless the mechanism judged its
// credentials invalid.
func (x *saslExchange) start() (session sasl.Session, end context.CancelFunc, err error) {
	startCtx, end := x.bounded()
	session, err = callWithin(startCtx, recoverMechanism(x.c.log, func() (sasl.Session, error) {
		return x.mech.Start(startCtx, x.c.addr)
	}), nil)
	if err != nil {
		return nil, end, x.failed(startCtx, err, func(err error) error {
			if errors.Is(err, sasl.ErrInvalidCredentials) {
				return x.refused(err)
			}
			return couldNotStart(x.c.addr, x.mech.Name(), err)
		})
	}
	return session, end, nil
}

// handshake names the mechanism to the broker, under the write lock, and
// returns when its answer came: the broker began the exchange before it
// answered, and Kafka counts its second between re-authentications from
// then (grant.begunBy).
func (x *saslExchange) handshake(reauth bool) (begunBy time.Time, err error) {
	resp, err := x.roundTrip(&protocol.SaslHandshakeRequest{Mechanism: x.mech.Name()}, 1)
	if err != nil {
		return time.Time{}, err
	}
	begunBy = x.c.cfg.Clock.Now()
	if hs := resp.(*protocol.SaslHandshakeResponse); hs.ErrorCode != 0 {
		// The broker's words are quoted and cut short (brokertext): nothing
		// has proven yet who sent them.
		err := fmt.Errorf("%w (the broker enables %s)", kerr.ForCode(hs.ErrorCode), brokertext.Quote(strings.Join(hs.Mechanisms, ", ")))
		if reauth && hs.ErrorCode == kerr.IllegalSASLState.Code {
			return time.Time{}, fmt.Errorf("%w: SASL %s re-authentication to %s refused as too soon after the last: %w",
				ErrDisconnected, x.mech.Name(), x.c.addr, err)
		}
		return time.Time{}, x.refused(err)
	}
	return begunBy, nil
}

// rounds passes the mechanism's messages and the broker's answers to each
// other, under the write lock, until the mechanism is satisfied, and
// returns g with the session the broker granted. The session's expiry is
// counted from when the last SaslAuthenticate was written, as the broker
// starts it only after reading it.
func (x *saslExchange) rounds(session sasl.Session, version int16, g grant) (grant, error) {
	var challenge []byte
	for range maxSASLRounds {
		stepCtx, endStep := x.bounded()
		step, err := callWithin(stepCtx, recoverMechanism(x.c.log, func() (saslStep, error) {
			msg, done, err := session.Step(stepCtx, challenge)
			return saslStep{msg, done}, err
		}), nil)
		endStep()
		if err != nil {
			return grant{}, x.failed(stepCtx, err, x.refused)
		}
		if step.done {
			return g, nil
		}
		written := x.c.cfg.Clock.Now()
		resp, err := x.roundTrip(&protocol.SaslAuthenticateRequest{AuthBytes: step.msg}, version)
		if err != nil {
			return grant{}, err
		}
		ar := resp.(*protocol.SaslAuthenticateResponse)
		if ar.ErrorCode != 0 {
			err := kerr.ForCode(ar.ErrorCode)
			if ar.ErrorMessage != nil && *ar.ErrorMessage != "" {
				err = fmt.Errorf("%w (%s)", err, brokertext.Quote(*ar.ErrorMessage))
			}
			return grant{}, x.refused(err)
		}
		challenge = ar.AuthBytes
		g.lifetime = sessionLifetime(ar.SessionLifetimeMs)
		g.expires = written.Add(g.lifetime)
	}
	return grant{}, x.refused(fmt.Errorf("%w: no outcome after %d rounds", sasl.ErrProtocol, maxSASLRounds))
}

// sessionLifetime is the session lifetime a SaslAuthenticate answer grants
// (KIP-368), in ms; zero, no limit, for zero, for a negative one, and for
// one no time.Duration holds (over 292 years), which would wrap round to a
// session too short to renew and close every connection as it opened.
func sessionLifetime(ms int64) time.Duration {
	if ms <= 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// couldNotStart is the error of a mechanism whose Start failed: an
// OAUTHBEARER token provider whose identity provider answered 503, say.
// Nothing was written and no broker refused anything, so it is not an
// *AuthError, which would fail every record waiting for the broker at once,
// but a connection that could not be made (ErrDisconnected, retriable), as
// a Start that times out is: the reconnect backoff paces the next tries
// until the records' DeliveryTimeout, and the Java client too retries a
// failing token refresh rather than fail records for it. A mechanism whose
// configuration can never start says so at New (sasl.Validator); one that
// judges the credentials it was given invalid wraps
// sasl.ErrInvalidCredentials, and is refused instead, since every try
// would be judged alike. It is made only while the exchange's ctx, the
// caller's, is alive (saslExchange.failed sees to that), so a Start that
// failed of its own timeout (a token provider's HTTP client's) keeps only
// its text (notCtxError).
func couldNotStart(addr, mech string, err error) error {
	return fmt.Errorf("%w: SASL %s to %s: could not start: %w", ErrDisconnected, mech, addr, notCtxError(err))
}

// saslStep is what a Session's Step returns besides its error.
type saslStep struct {
	msg  []byte
	done bool
}

// recoverMechanism is call, one of the mechanism's calls, with a panic in
// it (a token provider's SDK with a bug) recovered and made its error (see
// mechanismPanicked), its stack logged to log. The call runs on a goroutine
// of callWithin's, where no caller could recover it, and it would end the
// process, as the producer keeps a Partitioner's panic on a drain's
// goroutine from doing.
func recoverMechanism[T any](log *slog.Logger, call func() (T, error)) func() (T, error) {
	return func() (value T, err error) {
		defer func() {
			if v := recover(); v != nil {
				log.Error("the SASL mechanism panicked; the authentication fails",
					"panic", v, "stack", string(debug.Stack()))
				err = mechanismPanicked(v)
			}
		}()
		return call()
	}
}

// errMechanismPanicked is the error of a mechanism's call that panicked:
// a Start's makes the mechanism one that could not start, retried as a
// passing fault; a Step's is a refusal of the broker's answer, as any
// other failure of a Step.
var errMechanismPanicked = errors.New("the SASL mechanism panicked")

// mechanismPanicked is the error of a call that panicked with v; a panic
// with an error wraps that error too.
func mechanismPanicked(v any) error {
	if err, ok := v.(error); ok {
		return fmt.Errorf("%w: %w", errMechanismPanicked, err)
	}
	return fmt.Errorf("%w: %v", errMechanismPanicked, v)
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// roundTrip writes one request of the exchange, under the write lock
// authenticate holds and outside MaxInFlight, and waits for its answer, or
// until the exchange's ctx ends. A write that fails kills the connection:
// its error comes at once, and the teardown, which runs the request's
// callback among others, is left to authenticate (killed).
func (x *saslExchange) roundTrip(req protocol.Request, version int16) (protocol.Response, error) {
	type result struct {
		resp protocol.Response
		err  error
	}
	ch := make(chan result, 1) // buffered: a late answer must not block the reader
	if killed := x.c.write(req, version, func(resp protocol.Response, err error) { ch <- result{resp, err} }, true); killed != nil {
		x.killed = killed
		return nil, fmt.Errorf("%s: %s: %w", x, req.Key(), killed.err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%s: %w", x, r.err)
		}
		return r.resp, nil
	case <-x.ctx.Done():
		return nil, fmt.Errorf("%s: %s: %w", x, req.Key(), context.Cause(x.ctx))
	}
}
