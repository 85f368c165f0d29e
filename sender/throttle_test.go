package sender

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A broker over its quota answers Produce v6+ at once and asks for a
// pause, for which it reads nothing more from the connection: the sender
// sends it nothing until the pause ends, rather than pile requests behind
// it.
func TestAQuotaPauseHoldsTheNextRequest(t *testing.T) {
	// v6 is the first version whose answers ask for a pause (KIP-219).
	for _, version := range []int16{6, 11} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			r := newRig(t, nil)
			r.conn.produce = version
			r.produce(parts[0], 1)
			first := r.next()
			throttled := answer(first.req, 0, 0)
			throttled.ThrottleTimeMs = 1000
			first.done(throttled, nil)
			require.NoError(t, r.outcome(1).Err, "a throttled answer is still an answer")

			r.produce(parts[0], 2)
			require.Eventually(t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
				"the sender armed no timer for the pause within 10s")
			pauseEnd := r.clk.Now().Add(time.Second)
			r.clk.Advance(999 * time.Millisecond)
			// A look before the pause ends sends nothing either. The
			// sender looks on its own goroutine: the test waits until it
			// has re-armed its timer for the pause's end, which it does
			// after it would have sent.
			for len(r.clk.Armed()) > 0 {
				<-r.clk.Armed()
			}
			r.s.Wake()
			timeout := time.After(10 * time.Second)
			for rearmed := false; !rearmed; {
				select {
				case c := <-r.conn.requests:
					t.Fatalf("a request (%v) was sent during the broker's quota pause", c.req.Topics)
				case <-r.clk.Armed():
					rearmed = slices.ContainsFunc(r.clk.Deadlines(), pauseEnd.Equal)
				case <-timeout:
					t.Fatal("woken in the quota pause, the sender neither sent nor waited for its end within 10s")
				}
			}
			next := r.afterBackoff(time.Millisecond)
			require.Equal(t, []time.Duration{time.Second}, r.conn.paused(), "the connection's requests in flight get the pause")
			next.done(answer(next.req, 0, 1), nil)
			require.NoError(t, r.outcome(2).Err)
		})
	}
}

// A pause longer than the request's timeout (int32's maximum, 24 days,
// from a proxy or a bug) is taken as RequestTimeout: the connection's
// requests get that much more, and the sender waits that long. Before,
// they had 24 days more, and the broker got no Produce request for as long.
func TestAPauseIsAtMostTheRequestTimeout(t *testing.T) {
	r := newRig(t, nil) // Produce v11, Timeout 30s
	r.produce(parts[0], 1)
	first := r.next()
	throttled := answer(first.req, 0, 0)
	throttled.ThrottleTimeMs = math.MaxInt32
	first.done(throttled, nil)
	require.NoError(t, r.outcome(1).Err)
	require.Equal(t, []time.Duration{30 * time.Second}, r.conn.paused(), "the pause the connection was told of")

	r.produce(parts[0], 2)
	require.Eventually(t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
		"the sender armed no timer for the pause within 10s")
	next := r.afterBackoff(30 * time.Second)
	next.done(answer(next.req, 0, 1), nil)
	require.NoError(t, r.outcome(2).Err)
}

// Of two pauses asked for by the answers to requests in flight together,
// the longer holds: the broker reads nothing until the later of their
// ends. A shorter one handled after it ended the sender's hold early, and
// the requests sent then queued behind the muted broker, each waiting out
// a pause of its own.
func TestAShorterPauseDoesNotEndALongerOneEarly(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	first := r.next()
	r.produceFull(parts[1], 2) // full: it goes behind the first
	second := r.next()
	long := answer(first.req, 0, 0)
	long.ThrottleTimeMs = 1000
	first.done(long, nil)
	short := answer(second.req, 0, 0)
	short.ThrottleTimeMs = 100
	second.done(short, nil)
	require.NoError(t, r.outcome(1).Err)
	require.NoError(t, r.outcome(2).Err)
	pauseEnd := r.clk.Now().Add(time.Second)

	r.produce(parts[0], 3)
	r.passed() // both answers handled, the sender has looked since
	require.Equal(t, []time.Time{pauseEnd}, r.clk.Deadlines(), "the sender waits for the longer pause's end alone")
	next := r.afterBackoff(time.Second)
	next.done(answer(next.req, 0, 1), nil)
	require.NoError(t, r.outcome(3).Err)
}

// A throttled answer can come while the sender is stuck writing the next
// request, which the muted broker does not read: the connection hears of
// the pause from the answer itself, so that the write's deadline gets it
// too, rather than once the sender is free to handle the answer, which
// would be after that write had timed out.
func TestAPauseReachesTheConnectionWhileTheSenderIsStuckInAWrite(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	first := r.next()
	unstick := r.conn.stickWrites()
	r.produceFull(parts[1], 2) // full: it goes with a request in flight
	second := r.next()         // the sender is inside SendVersion now, held there
	throttled := answer(first.req, 0, 0)
	throttled.ThrottleTimeMs = 1000
	first.done(throttled, nil)
	require.Equal(t, []time.Duration{time.Second}, r.conn.paused(),
		"the connection was not told of the pause while the sender was stuck in a write")
	unstick()
	second.done(answer(second.req, 0, 0), nil)
	require.NoError(t, r.outcome(1).Err)
	require.NoError(t, r.outcome(2).Err)
	require.Equal(t, []time.Duration{time.Second}, r.conn.paused(), "the pause is told once")
}

// Before Produce v6 the broker held a throttled answer back for the pause
// itself: the next request goes at once.
func TestAThrottledAnswerBeforeV6AsksForNoPause(t *testing.T) {
	r := newRig(t, nil)
	r.conn.produce = 5
	r.produce(parts[0], 1)
	first := r.next()
	require.Equal(t, int16(5), first.version)
	throttled := answer(first.req, 0, 0)
	throttled.ThrottleTimeMs = 1000
	first.done(throttled, nil)
	require.NoError(t, r.outcome(1).Err)
	r.produce(parts[0], 2)
	next := r.next() // sent once the answer before it was handled
	require.Empty(t, r.conn.paused())
	next.done(answer(next.req, 0, 1), nil)
	require.NoError(t, r.outcome(2).Err)
}
