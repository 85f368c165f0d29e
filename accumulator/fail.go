package accumulator

// Failing batches without sending them: a close (BeginClose, Abort), a
// producer stopped for good or a transaction aborting (failAll, for Fatal
// and AbortTransaction), and a broker or coordinator that refuses the
// producer (FailUnsent).

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

// failAll fails every batch that is not in flight with err: Fatal, Abort
// and AbortTransaction, whose flags, set before, keep new batches out.
func (a *Accumulator) failAll(err error) {
	var woken []TopicPartition
	a.eachPartition(func(p *partition) {
		p.mu.Lock()
		var failing []*Batch
		for _, b := range p.batches {
			if !b.inFlight && !b.settled {
				failing = append(failing, b)
			}
		}
		for _, b := range failing {
			b.sealed = true
			a.complete(p, b, -1, -1, err)
		}
		p.mu.Unlock()
		if len(failing) > 0 {
			woken = append(woken, p.tp)
		}
	})
	for _, tp := range woken {
		a.cfg.Wake(tp)
	}
}

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
