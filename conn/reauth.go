package conn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gokafka/producer/internal/backoff"
)

// minReauthInterval is the least time Kafka lets pass between the starts of
// two re-authentications of one connection (KafkaChannel's
// MIN_REAUTH_INTERVAL_ONE_SECOND_NANOS); it answers the SaslHandshake of one
// begun sooner ILLEGAL_SASL_STATE. The first authentication does not count.
const minReauthInterval = time.Second

// reauthenticate keeps the connection's SASL session alive (KIP-368): the
// broker closes a connection whose session expired at its next request, so
// the client authenticates again before that, at a random point between 85%
// and 95% of the lifetime as the Java client does, so that connections made
// together do not re-authenticate together (counted from when the exchange
// that opened the session began, as its expiry is). The first session
// expires at expires. A refusal kills the connection with the *AuthError;
// so does a broken exchange, with its retriable error; a mechanism that
// cannot start is given until the session expires (see renewSession).
//
// No re-authentication begins within minReauthInterval of the end of the
// last (which the broker began before it answered): a session of about a
// second (connections.max.reauth.ms=1000, or an OAUTHBEARER token reused
// near its expiry, which the broker grants only the token's remaining time)
// would otherwise have each one begin too soon, and the broker refuse it.
// When the session expires before the next may begin, the connection
// lapses instead (see lapse).
func (c *Conn) reauthenticate(lifetime time.Duration, expires time.Time) {
	defer close(c.reauthDone)
	// The exchange's context ends with the connection.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.dead:
			cancel()
		case <-ctx.Done():
		}
	}()
	var reauthenticated time.Time // when the last re-authentication ended; zero before the first
	for lifetime > 0 {
		// The share of the session is counted from its start, as expires
		// is: counted from now, the end of the exchange, one that took a
		// while (SCRAM's key stretching on a busy machine, a slow token
		// provider) pushed the next past the expiry, and a session of
		// seconds lapsed where it could be renewed.
		began := expires.Add(-lifetime)
		next := began.Add(time.Duration(float64(lifetime) * (0.85 + 0.1*rand.Float64())))
		if !reauthenticated.IsZero() {
			next = later(next, reauthenticated.Add(minReauthInterval))
		}
		if !next.Before(expires) {
			c.lapse(lifetime, expires)
			return
		}
		if !c.sleepUntil(next) {
			return
		}
		var err error
		lifetime, expires, err = c.renewSession(ctx, expires)
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				c.log.Warn("kafka re-authentication failed", "mechanism", c.cfg.SASL.Name(), "err", err)
			}
			c.fail(err)
			return
		}
		reauthenticated = c.cfg.Clock.Now()
		c.log.Debug("kafka connection re-authenticated", "mechanism", c.cfg.SASL.Name(), "session_lifetime", lifetime)
	}
}

// lapse lets a session of lifetime that is too short to renew run out:
// the connection closes as it expires, a retriable disconnect, as when a
// re-authentication cannot start in time, and the next dial authenticates
// afresh. Its requests fail retriably then, rather than on the broker's
// refusal of a re-authentication begun too soon.
func (c *Conn) lapse(lifetime time.Duration, expires time.Time) {
	c.log.Debug("kafka SASL session too short to re-authenticate; the connection closes as it expires",
		"mechanism", c.cfg.SASL.Name(), "session_lifetime", lifetime, "min_reauth_interval", minReauthInterval)
	if !c.sleepUntil(expires) {
		return
	}
	c.fail(fmt.Errorf("%w: the SASL %s session with %s expired: a session of %v leaves no room to re-authenticate, which Kafka allows once per %v",
		ErrDisconnected, c.cfg.SASL.Name(), c.addr, lifetime, minReauthInterval))
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// renewSession re-authenticates c, whose current session expires at
// expires, and returns the new session's lifetime and expiry. When the
// mechanism cannot start (an OAUTHBEARER token provider whose identity
// provider is briefly unreachable), nothing was written and the current
// session still holds, so failing the connection would only fail what is in
// flight and send the redial into the same error. It tries again instead,
// paced by the reconnect backoff (the pace of those redials), as the Java
// client keeps its token and retries the refresh until the token expires.
// It gives up, with the mechanism's error (retriable, see couldNotStart),
// once the next try would come after the session expires; a refusal, a
// broken exchange or a dead connection end it at once. A Start that judged
// its credentials invalid (sasl.ErrInvalidCredentials) is retried alike,
// since the provider may hand a sound token next and the session holds
// meanwhile; it ends the connection as refused, an *AuthError, only as the
// session runs out.
func (c *Conn) renewSession(ctx context.Context, expires time.Time) (time.Duration, time.Time, error) {
	pace := backoff.Exponential{Base: c.cfg.ReconnectBackoff, Max: c.cfg.ReconnectBackoffMax}
	for failures := 1; ; failures++ {
		// The broker counts the lifetime from later, when it accepts the
		// exchange: an expiry counted from now errs on the early side.
		began := c.cfg.Clock.Now()
		lifetime, exchanged, err := c.authenticate(ctx, true)
		if err == nil {
			return lifetime, began.Add(lifetime), nil
		}
		if exchanged || c.Err() != nil {
			return 0, time.Time{}, err
		}
		now := c.cfg.Clock.Now()
		wait := pace.Delay(failures)
		left := expires.Sub(now)
		if wait >= left {
			return 0, time.Time{}, err
		}
		c.log.Warn("kafka re-authentication could not start; the session still holds, retrying",
			"mechanism", c.cfg.SASL.Name(), "err", err, "retry_in", wait, "session_left", left)
		if !c.sleepUntil(now.Add(wait)) {
			return 0, time.Time{}, c.Err()
		}
	}
}

// sleepUntil waits until deadline on the connection's clock and reports
// whether the connection is still alive: false as soon as it dies.
func (c *Conn) sleepUntil(deadline time.Time) bool {
	timer := c.cfg.Clock.NewTimerAt(deadline)
	defer timer.Stop()
	select {
	case <-timer.C():
		return true
	case <-c.dead:
		return false
	}
}
