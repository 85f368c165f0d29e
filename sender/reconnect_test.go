package sender

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
)

// downAtFirst fakes a conn.Broker whose first dials fail, each taking
// took on the fake clock: its reconnect backoff then allows the next
// attempt backoff after the failure, Connect refuses before that with a
// *conn.BackoffError, and dials again after.
type downAtFirst struct {
	r        *rig
	dials    int32         // how many dials fail
	took     time.Duration // how long each failed dial takes
	backoff  time.Duration
	attempts atomic.Int32 // calls to connect
	dialled  atomic.Int32 // of which not refused by the backoff
	next     atomic.Int64 // the next attempt allowed, in Unix ns; 0 at first
}

func (b *downAtFirst) connect(context.Context) (Conn, error) {
	b.attempts.Add(1)
	if until := b.nextAttempt(); b.r.clk.Now().Before(until) {
		return nil, &conn.BackoffError{Addr: "b1:9092", Until: until, Err: refused}
	}
	if b.dialled.Add(1) <= b.dials {
		b.r.clk.Advance(b.took)
		b.next.Store(b.r.clk.Now().Add(b.backoff).UnixNano())
		return nil, fmt.Errorf("%w: dialing b1:9092: %w", conn.ErrDisconnected, refused)
	}
	return b.r.conn, nil
}

func (b *downAtFirst) nextAttempt() time.Time {
	if n := b.next.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// newDownAtFirstRig returns a rig whose broker is down for its first dials
// (each failing at once, until took is set) and the reconnect backoff
// after each (50ms, the default ReconnectBackoff).
func newDownAtFirstRig(t *testing.T, dials int32, mod func(*Config)) (*rig, *downAtFirst) {
	b := &downAtFirst{dials: dials, backoff: 50 * time.Millisecond}
	b.r = newRig(t, func(c *Config) {
		c.Hooks.Connect = b.connect
		c.Hooks.NextAttempt = b.nextAttempt
		mod(c)
	})
	return b.r, b
}

// armings records the deadline of each timer the sender arms from now on.
func (r *rig) armings() <-chan time.Time {
	armed := make(chan time.Time, 64)
	r.clk.BeforeArm(func(deadline time.Time) {
		select {
		case armed <- deadline:
		default:
		}
	})
	return armed
}

// sentBy waits for the sender's next request, failing with why.
func (r *rig) sentBy(why string, args ...any) *call {
	r.t.Helper()
	select {
	case c := <-r.conn.requests:
		return c
	case <-time.After(10 * time.Second):
		r.t.Fatalf(why, args...)
		return nil
	}
}

// The broker's reconnect backoff (ReconnectBackoff), not RetryBackoff,
// paces the sender's connection attempts, as its doc says and as in the
// Java client, whose poll waits the node's connection delay: after a
// failed dial, a ready batch goes once the broker may be dialled again.
// Before, the sender waited RetryBackoff (here 1s, a common
// retry.backoff.ms) though the broker could be dialled after 50ms.
func TestAReadyBatchGoesOnceItsBrokersReconnectBackoffEnds(t *testing.T) {
	r, b := newDownAtFirstRig(t, 1, func(c *Config) {
		c.RetryBackoff, c.RetryBackoffMax = time.Second, time.Second
	})
	armed := r.armings()
	start := r.clk.Now()
	r.produce(parts[0], 1)
	var deadline time.Time
	select {
	case deadline = <-armed:
	case <-time.After(10 * time.Second):
		t.Fatal("the sender armed no timer within 10s of a failed dial")
	}
	until := b.nextAttempt()
	require.Equal(t, until, deadline,
		"after a failed dial the sender waits until +%v; the broker may be dialled again at +%v",
		deadline.Sub(start), until.Sub(start))

	r.clk.Advance(until.Sub(start))
	c := r.sentBy("the batch was not sent once the reconnect backoff ended (%d connection attempts)", b.attempts.Load())
	c.done(answer(c.req, 0, 7), nil)
	require.NoError(t, r.outcome(1).Err)
}

// Each wait after a failed dial ends when the broker's next attempt is
// due, counted from the pass that dialled, not from the arming of the
// sender's timer: a dial that fails slowly (a connection setup timeout)
// would push the attempt after it back by as long. The first wait arms a
// new timer and the next ones rearm it; rearmed from the clock's time at
// the arming, the wait after the second dial here ended a dial's length
// late.
func TestEveryWaitAfterASlowFailedDialEndsWhenTheNextAttemptIsDue(t *testing.T) {
	r, b := newDownAtFirstRig(t, 2, func(*Config) {})
	b.took = 30 * time.Millisecond // set before the first record wakes the sender
	armed := r.armings()
	r.produce(parts[0], 1)
	// Every wait, after a dial or a refusal within the backoff, ends when
	// the next attempt is due; the clock moves there, and no further.
	for {
		select {
		case deadline := <-armed:
			until := b.nextAttempt()
			require.Equal(t, until, deadline, "after %d dials the sender waits until %v past the next attempt",
				b.dialled.Load(), deadline.Sub(until))
			r.clk.Advance(until.Sub(r.clk.Now()))
			continue
		case c := <-r.conn.requests:
			require.Equal(t, int32(3), b.dialled.Load(), "two dials failed, the third connected")
			c.done(answer(c.req, 0, 7), nil)
			require.NoError(t, r.outcome(1).Err)
		case <-time.After(10 * time.Second):
			t.Fatalf("the batch was not sent within 10s (%d dials, %d connection attempts)", b.dialled.Load(), b.attempts.Load())
		}
		return
	}
}

// Connections the reconnect backoff refuses at once (no dial happened:
// each wake within it, a record starting a batch, a metadata update) are
// no failures, and do not push the next attempt back. Before, each
// counted as one, doubling the sender's wait each time up to
// RetryBackoffMax: here, with RetryBackoff 10ms, the fourth wait passed
// the end of the 50ms backoff, and with the defaults a ready batch could
// wait 1s.
func TestRefusalsWithinTheReconnectBackoffDoNotPushTheNextAttemptBack(t *testing.T) {
	r, b := newDownAtFirstRig(t, 1, func(c *Config) {
		c.RetryBackoff = 10 * time.Millisecond // shorter than the backoff
	})
	armed := r.armings()
	start := r.clk.Now()
	r.produce(parts[0], 1)
	// Each wake makes at least one more pass, and each pass a connection
	// attempt and a wait: the failed dial, then refusals.
	for i := 1; i <= 6; i++ {
		var deadline time.Time
		select {
		case deadline = <-armed:
		case <-time.After(10 * time.Second):
			t.Fatalf("the sender armed no timer %d within 10s", i)
		}
		until := b.nextAttempt()
		require.False(t, deadline.After(until),
			"after %d connection attempts, all but the first refused by the backoff, the sender waits until +%v; the broker may be dialled again at +%v",
			b.attempts.Load(), deadline.Sub(start), until.Sub(start))
		r.s.Wake()
	}

	r.clk.Advance(b.nextAttempt().Sub(start))
	c := r.sentBy("the batch was not sent once the reconnect backoff ended (%d connection attempts)", b.attempts.Load())
	c.done(answer(c.req, 0, 7), nil)
	require.NoError(t, r.outcome(1).Err)
}

// A connection that fails with no later attempt named (here the broker was
// closed; or it moved, or another caller reconnected meanwhile, and the
// next attempt is due) is tried again after retryConnectAtLeast, not at
// once: a Connect that keeps failing so would make the sender spin.
func TestAFailedConnectionWithNoAttemptAheadIsNotRetriedAtOnce(t *testing.T) {
	var attempts atomic.Int32
	r := newRig(t, func(c *Config) {
		c.Hooks.Connect = func(context.Context) (Conn, error) {
			attempts.Add(1)
			return nil, fmt.Errorf("%w: broker 1", conn.ErrClosed)
		}
		c.Hooks.NextAttempt = func() time.Time { return time.Time{} }
	})
	armed := r.armings()
	start := r.clk.Now()
	r.produce(parts[0], 1)
	select {
	case deadline := <-armed:
		require.Equal(t, retryConnectAtLeast, deadline.Sub(start),
			"after %d failed connections, the sender waits %v", attempts.Load(), deadline.Sub(start))
	case <-time.After(10 * time.Second):
		t.Fatalf("the sender armed no timer within 10s (%d connection attempts)", attempts.Load())
	}
}
