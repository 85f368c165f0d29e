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

// grant is a session a SASL exchange opened, timed on our clock by two
// moments that bound the broker's own timing of it (KIP-368; Java's
// KafkaChannel and SaslServerAuthenticator). The broker begins a
// re-authentication when it reads the handshake, and counts the session
// from when it accepts the exchange's last message. On a busy connection
// it reads the exchange only after answering the requests written before
// it, which may take seconds (a quota's throttle, acks=all behind a slow
// follower), and the client ran the mechanism's Start and waited for the
// write lock before it wrote the handshake: a session counted from when the
// exchange began here is cut short by all those waits.
type grant struct {
	// lifetime is the session's, as the broker granted it; zero if it set
	// no limit.
	lifetime time.Duration
	// expires is lifetime after the exchange's last SaslAuthenticate was
	// written. The broker accepted that message after it was written, so
	// its session ends no sooner: renewed by expires, the session never
	// lapses at the broker first. It errs early by little: nothing was in
	// flight ahead of the message (the handshake's answer came after the
	// earlier requests'), so the broker read it at once.
	expires time.Time
	// begunBy is when the handshake's answer came. The broker began the
	// exchange before it answered, so a handshake written minReauthInterval
	// after begunBy reaches it no sooner than Kafka allows the next one.
	begunBy time.Time
}

// reauthenticate keeps the connection's SASL session alive (KIP-368): the
// broker closes a connection whose session expired at its next request, so
// the client authenticates again before that, at a random point between 85%
// and 95% of the lifetime as the Java client does, so that connections made
// together do not re-authenticate together. first is the session the dial
// opened. A refusal kills the connection with the *AuthError; so does a
// broken exchange, with its retriable error; a mechanism that cannot start
// is given until the session expires (see renewSession).
//
// No re-authentication begins within minReauthInterval of the last: a
// session of about a second (connections.max.reauth.ms=1000, or an
// OAUTHBEARER token reused near its expiry, which the broker grants only the
// token's remaining time) would otherwise have each one begin too soon, and
// the broker refuse it. When the session expires before the next may begin,
// the connection lapses instead (see lapse).
//
// The session's share, its expiry and the interval are counted from the
// moments that bound the broker's timing (see grant), not from when the
// exchange began or ended here: counted from its beginning, a
// re-authentication that waited 1.2s behind a slow answer was given a
// session of 2s that looked too short to renew, and the connection closed
// 0.8s into it, failing its requests in flight, though the broker held it
// and would have renewed it.
func (c *Conn) reauthenticate(first grant) {
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
	g, reauthenticated := first, false
	for g.lifetime > 0 {
		// The share of the session is counted from its start, as expires
		// is: counted from now, the end of the exchange, one that took a
		// while (SCRAM's key stretching on a busy machine, a slow token
		// provider) pushed the next past the expiry, and a session of
		// seconds lapsed where it could be renewed.
		began := g.expires.Add(-g.lifetime)
		next := began.Add(time.Duration(float64(g.lifetime) * (0.85 + 0.1*rand.Float64())))
		if reauthenticated {
			next = later(next, g.begunBy.Add(minReauthInterval))
		}
		if !next.Before(g.expires) {
			c.lapse(g.lifetime, g.expires)
			return
		}
		if !c.sleepUntil(next) {
			return
		}
		var err error
		g, err = c.renewSession(ctx, g.expires)
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				c.log.Warn("kafka re-authentication failed", "mechanism", c.cfg.SASL.Name(), "err", err)
			}
			c.fail(err)
			return
		}
		reauthenticated = true
		c.log.Debug("kafka connection re-authenticated", "mechanism", c.cfg.SASL.Name(), "session_lifetime", g.lifetime)
	}
}

// lapse lets a session of lifetime that is too short to renew run out (a
// second or less: the next re-authentication may begin a second after the
// handshake of the last was answered, and the session runs from later):
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
	c.fail(fmt.Errorf("%w: the SASL %s session with %s expired: a session of %v is too short to renew, as Kafka allows a re-authentication no sooner than %v after the last began",
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
// expires, and returns the new session (see grant). When the
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
func (c *Conn) renewSession(ctx context.Context, expires time.Time) (grant, error) {
	pace := backoff.Exponential{Base: c.cfg.ReconnectBackoff, Max: c.cfg.ReconnectBackoffMax}
	for failures := 1; ; failures++ {
		g, exchanged, err := c.authenticate(ctx, true)
		if err == nil {
			return g, nil
		}
		if exchanged || c.Err() != nil {
			return grant{}, err
		}
		now := c.cfg.Clock.Now()
		wait := pace.Delay(failures)
		left := expires.Sub(now)
		if wait >= left {
			return grant{}, err
		}
		c.log.Warn("kafka re-authentication could not start; the session still holds, retrying",
			"mechanism", c.cfg.SASL.Name(), "err", err, "retry_in", wait, "session_left", left)
		if !c.sleepUntil(now.Add(wait)) {
			return grant{}, c.Err()
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
