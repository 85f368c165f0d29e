package conn

import (
	"fmt"
	"time"

	"github.com/gokafka/producer/internal/clock"
)

// watchTimeouts is the connection's timer goroutine. Requests time out in
// the order they were sent, because they share one timeout and responses
// come in order, so only the oldest pending request's deadline needs a
// timer (a pause can leave a later request due before an earlier one, but
// its answer cannot come first: it waits for theirs); a write in progress
// is watched too, in case the broker stopped reading. Timers come from the
// configured clock, so tests drive timeouts with a fake one.
func (c *Conn) watchTimeouts() {
	defer close(c.watcherDone)
	// One timer, rearmed for each deadline: a request's deadline would
	// otherwise cost a timer each.
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		var fire <-chan time.Time
		if deadline, ok := c.nextDeadline(); ok {
			// Armed at the deadline itself: the time left, read now, would
			// count again from the arming whatever passed in between (on a
			// fake clock, a test's Advance, which the timer then waits out
			// a second time).
			if timer == nil {
				timer = c.cfg.Clock.NewTimerAt(deadline)
			} else {
				timer.ResetAt(deadline)
			}
			fire = timer.C()
		} else if timer != nil {
			timer.Stop()
		}
		select {
		case <-fire:
			if err := c.expired(); err != nil {
				c.fail(err)
			}
		case <-c.kick:
		case <-c.dead:
		}
		select {
		case <-c.dead:
			return
		default:
		}
	}
}

// nextDeadline is the earliest time something can time out.
func (c *Conn) nextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var d time.Time
	if len(c.pending) > 0 {
		d = c.pending[0].deadline
	}
	if w := c.writeDeadline; !w.IsZero() && (d.IsZero() || w.Before(d)) {
		d = w
	}
	return d, !d.IsZero()
}

// expired returns the timeout error if the oldest request or the write in
// progress is past its deadline. The timer may be stale (the request it was
// set for has been answered), so the deadline is checked against the clock.
func (c *Conn) expired() error {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) > 0 {
		if p := c.pending[0]; !now.Before(p.deadline) {
			return &byRequest{corr: p.corr, err: fmt.Errorf("%w: %s v%d (correlation id %d) to %s had no response within %v; connection closed",
				ErrRequestTimeout, p.req.Key(), p.version, p.corr, c.addr, c.cfg.RequestTimeout)}
		}
	}
	if !c.writeDeadline.IsZero() && !now.Before(c.writeDeadline) {
		return fmt.Errorf("%w: writing to %s took longer than %v; connection closed", ErrRequestTimeout, c.addr, c.cfg.RequestTimeout)
	}
	return nil
}

// deadlineLocked is when a request sent, or a write begun, at now times
// out: RequestTimeout after now or, during a quota pause, after the
// pause's end, since the broker reads nothing before (Paused). The caller
// holds c.mu.
func (c *Conn) deadlineLocked(now time.Time) time.Time {
	if now.Before(c.pausedUntil) {
		now = c.pausedUntil
	}
	return now.Add(c.cfg.RequestTimeout)
}

// Paused tells the connection that its broker will read nothing more from
// it for d: a broker over a client's quota says so in a throttled answer
// (KIP-219), and mutes the connection. Each request awaiting its answer
// then waits that much longer through no fault of the broker's (a request
// n deep waits out n pauses, one after each answer before it), so each
// gets d more before it times out, and so does a write in progress. A
// request sent while the pause lasts (a Metadata request, say: only the
// sender holds its requests back) waits out what is left of it, so its
// RequestTimeout counts from the pause's end; one sent later is not
// delayed and gets the usual deadline.
func (c *Conn) Paused(d time.Duration) {
	now := c.cfg.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := now.Add(d); until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
	for _, p := range c.pending {
		p.deadline = p.deadline.Add(d)
	}
	if !c.writeDeadline.IsZero() {
		c.writeDeadline = c.writeDeadline.Add(d)
	}
}
