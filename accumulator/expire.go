package accumulator

import "time"

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
	a.eachPartition(func(p *partition) {
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
		p.mu.Unlock()
		if len(expired) > 0 {
			woken = append(woken, p.tp) // what waited behind them may go
		}
	})
	for _, tp := range woken {
		a.cfg.Wake(tp)
	}
	return next
}

// EarlierDeadline returns a channel closed when a record appended with a
// Since (it waited for its topic's metadata) brings its batch's deadline
// forward: a batch started after Expire's last pass expires no sooner than
// a full DeliveryTimeout after it, unless such a record joins it. Take the
// channel before calling Expire, so that no append between the two is
// missed.
func (a *Accumulator) EarlierDeadline() <-chan struct{} { return a.earlier.C() }

// BeginClose makes every batch ready at once, for a closing flush.
func (a *Accumulator) BeginClose() { a.closing.Store(true) }

// Abort fails every batch not in flight with err (wrapping ErrClosed), and
// every later Append. Batches in flight are left to their senders: their
// answers complete them, and a retry fails instead (see Retry).
func (a *Accumulator) Abort(err error) {
	a.closing.Store(true)
	a.abortedBy.Store(&closedBy{err})
	a.aborted.Store(true)
	a.failAll(&closedBy{err})
}

// closedBy is the error of the batches Abort fails: it matches ErrClosed,
// and reads as its cause alone, which tells the user in their own words
// who closed (the producer's Close), where "accumulator closed" would name
// a part of the producer they never see.
type closedBy struct{ cause error }

func (e *closedBy) Error() string   { return e.cause.Error() }
func (e *closedBy) Unwrap() []error { return []error{ErrClosed, e.cause} }

// FailUnsent fails the batches of parts that were never sent, with err:
// what waits for a broker that refuses the producer. None if parts is
// empty: a broker that leads nothing just now has nothing to fail (see
// FailAllUnsent for every partition). A batch sent before keeps its place:
// it may be written already, and its sequence matters to the batches
// behind it. A batch whose requests all died unwritten (Retry.NotSent) was
// never sent: it fails too, and with idempotence its sequence restarts the
// partition's, as an expired one's does, rather than wait for its
// DeliveryTimeout behind a broker that refuses every connection.
func (a *Accumulator) FailUnsent(parts []TopicPartition, err error) {
	for _, tp := range parts {
		if p := a.lookup(tp); p != nil {
			p.mu.Lock()
			a.failNeverSent(p, err)
			p.mu.Unlock()
		}
	}
}

// FailAllUnsent is FailUnsent for every partition: what waits for a
// producer id or a transaction the producer cannot have.
func (a *Accumulator) FailAllUnsent(err error) {
	a.FailAllUnsentWith(func(TopicPartition) error { return err })
}

// FailAllUnsentWith is FailAllUnsent with an error for each partition,
// errFor(tp): one whose own failure is the cause says so without naming
// it again.
func (a *Accumulator) FailAllUnsentWith(errFor func(tp TopicPartition) error) {
	a.eachPartition(func(p *partition) {
		p.mu.Lock()
		a.failNeverSent(p, errFor(p.tp))
		p.mu.Unlock()
	})
}

// failNeverSent fails p's batches that were never sent with err. p.mu
// must be held.
func (a *Accumulator) failNeverSent(p *partition, err error) {
	var unsent []*Batch
	for _, b := range p.batches {
		if b.sent() == 0 && !b.inFlight && !b.settled {
			unsent = append(unsent, b)
		}
	}
	for _, b := range unsent {
		b.sealed = true
		a.complete(p, b, -1, -1, err)
	}
}
