package sender

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A broker over its quota answers Produce v6+ at once and asks for a
// pause, for which it reads nothing more from the connection: the sender
// sends it nothing until the pause ends, rather than pile requests behind
// it.
func TestAQuotaPauseHoldsTheNextRequest(t *testing.T) {
	r := newRig(t, nil) // Produce v11
	r.produce(parts[0], 1)
	first := r.next()
	throttled := answer(first.req, 0, 0)
	throttled.ThrottleTimeMs = 1000
	first.done(throttled, nil)
	require.NoError(t, r.outcome(1).Err, "a throttled answer is still an answer")

	r.produce(parts[0], 2)
	require.Eventually(t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
		"the sender armed no timer for the pause within 10s")
	r.clk.Advance(999 * time.Millisecond)
	r.s.Wake() // a look before the pause ends sends nothing either
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a request (%v) was sent during the broker's quota pause", c.req.Topics)
	default:
	}
	next := r.afterBackoff(time.Millisecond)
	require.Equal(t, []time.Duration{time.Second}, r.conn.paused(), "the connection's requests in flight get the pause")
	next.done(answer(next.req, 0, 1), nil)
	require.NoError(t, r.outcome(2).Err)
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
