package producer

import "time"

// Version is this library's version, sent to brokers in ApiVersions (KIP-511).
const Version = "0.1.0"

// expiryLoop fails batches whose DeliveryTimeout passed, wherever they are
// (waiting for a leader, for a retry, or for an answer), and records whose
// metadata did not come within MaxBlock.
func (p *Producer) expiryLoop() {
	defer p.bg.Done()
	clk := p.cfg.clock
	for {
		now := clk.Now()
		next := min(p.acc.Expire(now), p.held.expire(now))
		// Every batch and every held record is counted in next from its
		// first moment, so it is exact; what appears after this pass
		// expires no sooner than a full timeout from now, which bounds the
		// sleep.
		next = min(next, p.heldLimit(), p.cfg.DeliveryTimeout)
		// The wait ends at now+next, the now this pass read: time that
		// passed during the pass counts (on a fake clock, a test may move
		// it before the timer is armed).
		if !p.pause(now.Add(next).Sub(clk.Now())) {
			return
		}
	}
}

// pause waits d on the producer's clock, for a background loop; it reports
// false, at once, when the producer closes.
func (p *Producer) pause(d time.Duration) bool {
	t := p.cfg.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-p.ctx.Done():
		return false
	}
}
