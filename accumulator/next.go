package accumulator

import "time"

// next returns the batch of p that the sender for node may send now, or
// how long until one may be ready. p.mu must be held.
//
// It takes three decisions in turn: whether p may send to node at all,
// whether p must first restart its sequences, and which of its batches
// goes, in their order.
func (a *Accumulator) next(p *partition, node int32, urgent, busy bool, now time.Time) (*Batch, time.Duration) {
	if !a.maySendTo(p, node) {
		return nil, noDeadline
	}
	resolving, open := a.restartGate(p, now)
	if !open {
		return nil, noDeadline
	}
	return a.firstSendable(p, urgent, busy, resolving, now)
}

// maySendTo reports whether p may send anything to node, whichever batch:
// not once the producer has stopped for good; not while another broker's
// requests for p are in flight, as one partition is never drained by two
// senders; nor while MaxInFlight of p's batches are in flight, or batches
// sent before its latest failure (stale), whose answers may send batches
// back ahead of the rest; nor, idempotent, while any batch is in flight
// to a broker that has not yet acknowledged one of p's (pipelines). None
// of these ends on a timer: next reports noDeadline. p.mu must be held.
func (a *Accumulator) maySendTo(p *partition, node int32) bool {
	if a.fatalErr() != nil {
		return false
	}
	if p.inFlight > 0 && p.node != node {
		p.blocked = true // the answers to the other broker's requests wake us
		return false
	}
	if p.inFlight >= a.cfg.MaxInFlight || p.stale > 0 || p.inFlight > 0 && a.cfg.Idempotent && !p.pipelines(node) {
		return false // the answers come to this sender
	}
	return true
}

// restartGate is what p does first when its sequences must restart, or
// when it was left behind an epoch (another partition moved the producer
// to a newer one, and p has sequences of the older): it waits for its
// batches in flight and for its expired ones to fail, lets the retries
// that may have been written go first, and then restarts its sequences
// (restartSequences). open is false while p must wait: only an answer,
// Expire or a producer id opens it. resolving: only retries that may have
// been written go, before a restart. p.mu must be held.
func (a *Accumulator) restartGate(p *partition, now time.Time) (resolving, open bool) {
	// The partition's sequences restart, or it was left behind when
	// another partition moved the producer to a newer epoch: it goes
	// along before sending anything more, so that no broker sees the
	// older epoch after the newer one (some track a producer's epoch
	// across its partitions). Either waits for every request in
	// flight, and for the retries that may have been written: under a
	// new epoch they could be written twice, so they go first, under
	// the epoch they have, until an answer resolves them.
	restarting := p.restart || a.cfg.Idempotent && p.inFlight == 0 && p.hasSequences() && a.outdated(p.producer)
	if !restarting {
		return false, true
	}
	if p.inFlight > 0 {
		return false, false
	}
	switch {
	case p.unsure():
		// The retries go first, under their epoch, in order. But once
		// the first of them can no longer be written under it (its
		// sequence or its epoch refused), neither can those behind
		// it: sent again, they would be refused again and again,
		// holding up the restart until their DeliveryTimeout. The
		// restart then waits only for those that may have been
		// written, which go alone.
		return p.restart && p.nextRetryEpochSpent(), true
	case p.waitingExpired(now):
		// A batch is past its DeliveryTimeout: Expire fails it and
		// wakes the sender (see firstSendable), and the restart waits
		// for that. Renumbered first, a retry would fail with a
		// sequence of the new epoch, a gap that costs another restart
		// and another epoch.
		return false, false
	case !a.restartSequences(p):
		return false, false
	}
	return false, true
}

// restartSequences numbers the partition's sent batches again from 0 under
// a newer epoch (KIP-360) and lets go of its settled ones, whose callbacks
// have run: the new epoch fences off a late write of their old attempts. It
// reports false while the producer waits for a new id. Nothing may be in
// flight. p.mu must be held.
func (a *Accumulator) restartSequences(p *partition) bool {
	id, ok := a.nextEpoch(p)
	if !ok {
		return false
	}
	kept := p.batches[:0]
	seq := int32(0)
	renumbered := 0
	for _, b := range p.batches {
		if b.settled {
			continue
		}
		if b.attempts > 0 {
			b.producer, b.baseSeq, b.restarted, b.epochSpent = id, seq, true, false
			seq = addSeq(seq, b.entries.len())
			renumbered++
		}
		kept = append(kept, b)
	}
	clear(p.batches[len(kept):])
	p.batches, p.settled = kept, 0
	p.takeID(id, seq)
	p.restart, p.restartCause = false, nil
	if a.cfg.Restarted != nil {
		a.cfg.Restarted(p.tp, id, renumbered)
	}
	return true
}

// firstSendable returns p's first batch, in their order, that may go now,
// or how long until it may: batches in flight or settled are passed
// over, but a batch that must wait holds back every batch behind it, so
// that none overtakes another (DESIGN.md, "A partition's order"); only the
// retries that a restart will renumber step aside while resolving (see
// restartGate). p.mu must be held.
func (a *Accumulator) firstSendable(p *partition, urgent, busy, resolving bool, now time.Time) (*Batch, time.Duration) {
	unresolved := false
	for _, b := range p.batches {
		switch {
		case b.settled:
			// A sequence whose fate is unknown: retries behind it may
			// still resolve it, new batches may not pass it.
			unresolved = true
			continue
		case b.inFlight:
			continue
		case !now.Before(b.deadline):
			// Its DeliveryTimeout has passed: Expire fails it and wakes
			// the sender for what waits behind it. Sent now, it would break
			// that promise, and Expire, finding it in flight, would fail it
			// as maybe written, though its attempts may all have been
			// refused unwritten.
			return nil, noDeadline
		case b.attempts > 0:
			if resolving && !b.maybeWritten {
				continue // it goes after the restart, renumbered
			}
			if now.Before(b.retryAt) {
				return nil, b.retryAt.Sub(now)
			}
			return b, 0
		}
		return a.nextNeverSent(p, b, unresolved, urgent, busy, now)
	}
	return nil, noDeadline
}

// nextNeverSent is next for b, p's first batch never sent: b goes once it
// no longer lingers; for an idempotent producer, once no restart of p's
// sequences is pending, once they restarted past an unresolved one (a
// settled batch ahead of b: new sequences may not follow it), and once p
// has the producer's current identity (adopt); and once Admit lets p send,
// which a transaction asks before p's first batch in it. Admit comes last:
// it is asked only for a batch that would go otherwise. p.mu must be held.
func (a *Accumulator) nextNeverSent(p *partition, b *Batch, unresolved, urgent, busy bool, now time.Time) (*Batch, time.Duration) {
	if wait := a.lingers(p, b, urgent, busy, now); wait > 0 {
		return nil, wait
	}
	if a.cfg.Idempotent {
		if p.restart {
			return nil, noDeadline // after the retries in flight
		}
		if unresolved && (p.inFlight > 0 || !a.restartSequences(p)) {
			return nil, noDeadline
		}
		if !a.adopt(p) {
			return nil, noDeadline
		}
	}
	if a.cfg.Admit != nil {
		if in := a.transactions.Load() + 1; p.admittedIn != in {
			admitted, refused := a.cfg.Admit(p.tp)
			if refused != nil {
				a.failNeverSent(p, refused)
				return nil, noDeadline
			}
			if !admitted {
				return nil, noDeadline // Wake comes when it is
			}
			p.admittedIn = in
		}
	}
	return b, 0
}

// lingers returns how long the never-sent batch b should still wait for
// more records; 0 when it is ready.
//
// A batch that is not full does not go while its broker has a request of
// ours in flight (busy): it waits for the answer (untilAnswered), unless a
// full batch makes a request go. A Kafka broker reads a connection's next
// request only once it has answered the one before, so a request sent
// behind another waits there anyway, and a batch that waits here instead
// takes the records that come meanwhile: fewer, fuller requests, each
// answered sooner (PERFORMANCE.md, "The race"). Full batches still go up to
// MaxInFlight at a time, which keeps a busy producer's broker from
// waiting for the next request.
//
// A batch that such a request left out, for lack of room, waits only for
// its linger: behind that request the broker stays busy, and if the full
// batches that keep it busy left no room each time, the batch would wait
// for an answer with nothing in flight behind it, which may not come
// before its DeliveryTimeout.
func (a *Accumulator) lingers(p *partition, b *Batch, urgent, busy bool, now time.Time) time.Duration {
	if b.sealed || urgent || b != p.batches[len(p.batches)-1] {
		return 0
	}
	if busy && !b.leftOut {
		return untilAnswered
	}
	return max(0, a.cfg.Linger-now.Sub(b.created))
}

// adopt makes a partition take the producer's current identity before its
// next batch is numbered. A partition left behind by a newer epoch waits
// for its batches in flight. It reports false while the producer has no
// id, or the partition must wait. p.mu must be held.
func (a *Accumulator) adopt(p *partition) bool {
	id, ok := a.currentID()
	if !ok {
		return false
	}
	switch {
	case id == p.producer:
	case !p.hasSequences():
		p.takeID(id, 0)
	default:
		return false // left behind, with batches in flight: restartGate goes along once they are answered
	}
	return true
}
