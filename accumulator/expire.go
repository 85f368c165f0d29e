package accumulator

import (
	"fmt"
	"time"
)

// Expire fails the batches whose DeliveryTimeout has passed, wherever they
// are: queued, waiting for a retry, or in flight (the Java client's
// getExpiredInflightBatches). A batch expired in flight may still be
// written by its request, so its records fail with ErrMaybeWritten and,
// with idempotence, its sequence stays until an answer or a restart
// resolves it. Expire reports how long until the next batch would expire.
//
// Every batch is in its partition's list from its first record to its
// outcome, so the next deadline Expire reports is exact: a caller that
// sleeps until then is never late, if it also wakes when EarlierDeadline
// says that an append brought a deadline forward.
func (a *Accumulator) Expire(now time.Time) (next time.Duration) {
	next = noDeadline
	var woken []TopicPartition
	for _, p := range a.expiringNow() {
		p.mu.Lock()
		var expired []*Batch
		for _, b := range p.batches {
			if b.settled {
				continue
			}
			if left := b.deadline.Sub(now); left > 0 {
				next = min(next, left)
				continue
			}
			expired = append(expired, b)
		}
		for _, b := range expired {
			b.sealed = true
			if b.inFlight {
				b.maybeWritten = true
			}
			a.complete(p, b, -1, -1, a.timedOut(p, b))
		}
		if len(p.batches) == p.settled {
			a.unwatchExpiry(p) // until its next batch
		}
		p.mu.Unlock()
		if len(expired) > 0 {
			woken = append(woken, p.tp) // what waited behind them may go
		}
	}
	for _, tp := range woken {
		a.cfg.Wake(tp)
	}
	return next
}

// watchExpiry puts p, which just started a batch, among the partitions
// Expire walks. Only an append adds a batch whose records await their
// outcome (a split puts its halves in the place of such a batch), so the
// partitions Expire dropped have none. p.mu must be held.
func (a *Accumulator) watchExpiry(p *partition) {
	if p.expiring {
		return
	}
	p.expiring = true
	a.expiringMu.Lock()
	a.expiring[p] = struct{}{}
	a.expiringPeak = max(a.expiringPeak, len(a.expiring))
	a.expiringMu.Unlock()
}

// unwatchExpiry drops p, which has no batch awaiting its records' outcome,
// from the partitions Expire walks. p.mu must be held.
func (a *Accumulator) unwatchExpiry(p *partition) {
	p.expiring = false
	a.expiringMu.Lock()
	delete(a.expiring, p)
	a.expiringMu.Unlock()
}

// expiringNow returns the partitions Expire walks.
func (a *Accumulator) expiringNow() []*partition {
	a.expiringMu.Lock()
	defer a.expiringMu.Unlock()
	parts := make([]*partition, 0, len(a.expiring))
	for p := range a.expiring {
		parts = append(parts, p)
	}
	// A map keeps the room it once grew to, and walking it visits all of
	// that room: after a burst over 50,000 partitions, a pass over the one
	// left took 29 µs against 0.15. Once an eighth full, it moves to a map
	// of its size.
	if a.expiringPeak > 64 && len(parts) < a.expiringPeak/8 {
		a.expiring = make(map[*partition]struct{}, len(parts))
		for _, p := range parts {
			a.expiring[p] = struct{}{}
		}
		a.expiringPeak = len(parts)
	}
	return parts
}

// EarlierDeadline returns a channel closed when a record appended with a
// Since (it waited for its topic's metadata) brings its batch's deadline
// forward: a batch started after Expire's last pass expires no sooner than
// a full DeliveryTimeout after it, unless such a record joins it. Take the
// channel before calling Expire, so that no append between the two is
// missed.
func (a *Accumulator) EarlierDeadline() <-chan struct{} { return a.earlier.C() }

// Unreachable books err, why the leader of parts could not be reached, as
// the last error of those partitions with batches waiting to be sent: a
// batch that then times out without an error of its own (it was never
// sent) names it, where it would otherwise say only that it was
// sent 0 times. Its next failure, or an acknowledgement, replaces it.
func (a *Accumulator) Unreachable(parts []TopicPartition, err error) {
	for _, tp := range parts {
		if p := a.lookup(tp); p != nil {
			p.keptBy(err)
		}
	}
}

// keptBy books err, what keeps p from sending, as its last error if a
// batch of p waits to be sent; it locks p.mu.
func (p *partition) keptBy(err error) {
	p.mu.Lock()
	if p.waiting() {
		p.lastErr = err
	}
	p.mu.Unlock()
}

// timedOut is the error of a batch whose DeliveryTimeout passed. It names
// the cause: the batch's last error, or, for a batch never sent, why the
// idempotent producer has no id, else its partition's last error, else
// what the metadata says (keptByMetadata). It does not name the partition:
// the error a user sees does (a PartitionError), and said twice it reads
// as two partitions. p.mu must be held.
func (a *Accumulator) timedOut(p *partition, b *Batch) error {
	// The batch's oldest record waited the whole DeliveryTimeout, counted
	// from its Produce: for a record that waited for metadata, before the
	// batch was created (Record.Since), so the batch's age says less.
	records, sent := "1 record", "never sent"
	if n := b.entries.len(); n > 1 {
		records = fmt.Sprintf("%d records", n)
	}
	switch n := b.sent(); {
	case n == 1:
		sent = "sent once"
	case n > 1:
		sent = fmt.Sprintf("sent %d times", n)
	}
	err := fmt.Errorf("%w: %s had no outcome within %v (DeliveryTimeout); %s",
		ErrDeliveryTimeout, records, a.cfg.DeliveryTimeout, sent)
	noID := a.whyNoID()
	switch {
	case b.lastErr != nil:
		err = fmt.Errorf("%w; last error: %w", err, b.lastErr)
	case b.sent() > 0:
		// Sent and unanswered (it may have been written, which complete
		// adds): what kept the partition from sending before, a broker
		// unreachable or a leader left out of the brokers, is stale.
	case noID != nil:
		// Without an id nothing is sent, whatever else stood in the way.
		err = fmt.Errorf("%w; %w", err, noID)
	case p.lastErr != nil:
		err = fmt.Errorf("%w; the partition's last error: %w", err, p.lastErr)
	default:
		err = a.keptByMetadata(err, b.TP)
	}
	return err
}

// keptByMetadata adds to err, the timeout of a batch of tp never sent,
// what the latest metadata says kept it: its topic's error (a topic whose
// access was revoked has no leader to send to), else why tp has no leader
// (a topic re-created with fewer partitions, an election). Asked when the
// batch times out, it says nothing of a partition led again since.
func (a *Accumulator) keptByMetadata(err error, tp TopicPartition) error {
	if a.cfg.TopicErr != nil {
		if terr := a.cfg.TopicErr(tp.Topic); terr != nil {
			return fmt.Errorf("%w; the topic's metadata error: %w", err, terr)
		}
	}
	if a.cfg.LeaderErr != nil {
		if lerr := a.cfg.LeaderErr(tp); lerr != nil {
			return fmt.Errorf("%w; %w", err, lerr)
		}
	}
	return err
}
