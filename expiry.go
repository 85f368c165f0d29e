package producer

import "time"

// expiryLoop fails batches whose DeliveryTimeout passed, wherever they are
// (waiting for a leader, for a retry, or for an answer), and records whose
// metadata did not come within MaxBlock.
func (p *Producer) expiryLoop() {
	defer p.bg.Done()
	clk := p.cfg.clock
	for {
		earlier := p.acc.EarlierDeadline() // before the pass: no append after it is missed
		setAside := p.held.setAside.C()    // likewise for records set aside
		now := clk.Now()
		next := min(p.acc.Expire(now), p.held.expire(now))
		// Every batch and every record waiting for metadata is counted in
		// next from its first moment, so it is exact; what appears after
		// this pass expires no sooner than a full timeout from now, which
		// bounds the sleep. Three exceptions: a record appended once its
		// metadata came brings its DeliveryTimeout, begun at Produce, into
		// its batch, and earlier ends the sleep; the records of a topic
		// being appended are not counted, as their drain bounds each wait
		// of each record by that record's own deadline. Those it sets
		// aside wait for no append, and are counted: setting one aside
		// ends the sleep.
		next = min(next, p.heldLimit(), p.cfg.DeliveryTimeout)
		// The wait ends at now+next, the now this pass read: time that
		// passed during the pass counts, and so does a test's Advance of a
		// fake clock before the timer is armed, which a timer armed for
		// the time left, read again, would wait out a second time.
		if !p.pauseUntil(now.Add(next), earlier, setAside) {
			return
		}
	}
}

// pauseUntil waits until deadline on the producer's clock, for a
// background loop, or less if early or alsoEarly is closed first (a nil
// one never is); it reports false, at once, when the producer closes.
func (p *Producer) pauseUntil(deadline time.Time, early, alsoEarly <-chan struct{}) bool {
	t := p.cfg.clock.NewTimerAt(deadline)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-early:
		return true
	case <-alsoEarly:
		return true
	case <-p.ctx.Done():
		return false
	}
}
