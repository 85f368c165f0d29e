package accumulator

import (
	"fmt"
	"time"

	"github.com/gokafka/producer/record"
)

// noDeadline is what Drain and Ready report as the next check when only an
// answer, a producer id or a wake can make a batch ready.
const noDeadline = time.Duration(1<<63 - 1)

// untilAnswered is how long lingers says a batch that is not full waits
// while its broker has a request in flight: until the answer, which no
// timer foresees (Drain and Ready report noDeadline for it), unless a
// request goes anyway and takes it along, as it takes a lingering batch.
const untilAnswered = noDeadline - 1

// forTimer is a batch's wait as Drain and Ready report it to the sender,
// which arms a timer for it: a batch waiting for an answer needs none.
func forTimer(wait time.Duration) time.Duration {
	if wait == untilAnswered {
		return noDeadline
	}
	return wait
}

// Drain appends to dst[:0] the batches that the sender for broker node may
// send now from the given partitions (those node leads), at most one per
// partition, until adding another would pass maxBytes; at least one batch
// is returned when any is ready, even one larger than maxBytes. The sender
// passes the list of a request already answered, so that draining
// allocates no list of its own. When one is ready, the
// batches still lingering go along. It starts at partition index
// start and reports where the next drain should start, so that no partition
// is starved when requests fill up before the list ends. next is how long
// until some batch among parts becomes ready (a linger or a retry backoff
// ending); noDeadline if none. busy says that a request to node awaits its
// answer: then only a full batch (or a retry, a batch that an earlier
// request had no room for, or any batch when urgent) makes a request go,
// and the others, lingering or not, go along with it (see lingers).
//
// A batch whose DeliveryTimeout has passed is not drained: it waits for
// Expire, which fails it, and nothing of its partition passes it, nor do
// its partition's sequences restart before it fails.
//
// A batch drained for the first time gets its sequence numbers here, under
// its partition's lock. Drained batches are closed (compressed, stamped,
// CRC'd) outside every lock; they are in flight until the sender reports
// their answer with Complete, Retry or Split.
func (a *Accumulator) Drain(dst []*Batch, node int32, parts []TopicPartition, start, maxBytes int, busy bool, now time.Time) (batches []*Batch, next time.Duration, nextStart int) {
	next = noDeadline
	batches = dst[:0]
	if len(parts) == 0 {
		return batches, next, 0
	}
	start %= len(parts)
	// Once a batch is ready for this node a request goes anyway, and, as
	// the Java client does, it takes the node's other partitions' batches
	// too, lingering or not: fewer, fuller requests. Partitions passed over
	// for their linger before that get a second look.
	sending := a.urgent()
	var early [16]int
	lingering := early[:0]
	total, full := 0, false
	nextStart = start
	for i := 0; i < len(parts); i++ {
		idx := (start + i) % len(parts)
		p := a.lookup(parts[idx])
		if p == nil {
			continue
		}
		var b *Batch
		var wait time.Duration
		b, wait, full = a.drainOne(p, node, sending, busy, now, len(batches) > 0, maxBytes-total)
		if full {
			nextStart = idx
			next = 0 // more is ready right now
			break
		}
		if b == nil {
			// A batch that waits for its linger, or for the answer in
			// flight (untilAnswered), may still go along.
			if !sending && wait > 0 && wait != noDeadline {
				lingering = append(lingering, idx)
			}
			next = min(next, forTimer(wait))
			continue
		}
		sending = true
		total += b.Size()
		batches = append(batches, b)
		nextStart = (idx + 1) % len(parts)
	}
	for _, idx := range lingering {
		if full || len(batches) == 0 {
			break
		}
		p := a.lookup(parts[idx])
		var b *Batch
		if b, _, full = a.drainOne(p, node, true, busy, now, true, maxBytes-total); b != nil {
			total += b.Size()
			batches = append(batches, b)
		}
	}
	closed := batches[:0]
	for _, b := range batches {
		if err := a.close(b); err != nil {
			a.Complete(b, -1, -1, fmt.Errorf("closing batch for %s-%d: %w", b.TP.Topic, b.TP.Partition, err))
			continue
		}
		closed = append(closed, b)
	}
	return closed, next, nextStart
}

// drainOne takes p's batch that node may send now, if it fits in room
// (any batch does when the request is still empty); otherwise it returns
// how long until p may send, or full if p's batch does not fit.
func (a *Accumulator) drainOne(p *partition, node int32, urgent, busy bool, now time.Time, started bool, room int) (b *Batch, wait time.Duration, full bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, wait = a.next(p, node, urgent, busy, now)
	if b == nil {
		return nil, wait, false
	}
	if started && b.Size() > room {
		b.leftOut = true
		return nil, 0, true
	}
	a.take(p, b, node)
	if b.attempts == 1 {
		b.sentAt = now
	}
	return b, 0, false
}

// Ready reports whether the sender for broker node has a batch to send
// among parts, and if not, how long until it may (noDeadline if only an
// answer or a wake can change that); busy as for Drain. A sender asks
// before it connects, so that brokers with nothing to send get no
// connection.
func (a *Accumulator) Ready(node int32, parts []TopicPartition, busy bool, now time.Time) (bool, time.Duration) {
	urgent := a.urgent()
	next := noDeadline
	for _, tp := range parts {
		p := a.lookup(tp)
		if p == nil {
			continue
		}
		p.mu.Lock()
		b, wait := a.next(p, node, urgent, busy, now)
		p.mu.Unlock()
		if b != nil {
			return true, 0
		}
		next = min(next, forTimer(wait))
	}
	return false, next
}

// urgent reports whether batches should go without waiting for Linger:
// a Flush or Close waits for them, or goroutines wait for buffer memory,
// which only sending frees.
func (a *Accumulator) urgent() bool {
	return a.flushing.Load() > 0 || a.closing.Load() || a.cfg.Pool.Waiters() > 0
}

// next returns the batch of p that the sender for node may send now, or
// how long until one may be ready. p.mu must be held.
func (a *Accumulator) next(p *partition, node int32, urgent, busy bool, now time.Time) (*Batch, time.Duration) {
	if a.fatalErr() != nil {
		return nil, noDeadline
	}
	if p.inFlight > 0 && p.node != node {
		p.blocked = true // settling the other broker's requests wakes us
		return nil, noDeadline
	}
	if p.inFlight >= a.cfg.MaxInFlight || p.stale > 0 || p.inFlight > 0 && a.cfg.Idempotent && !p.pipelines(node) {
		return nil, noDeadline // the answers come to this sender
	}
	settling := false // only retries that may have been written go, before a restart
	if p.restart || a.cfg.Idempotent && p.inFlight == 0 && p.hasSequences() && a.outdated(p.producer) {
		// The partition's sequences restart, or it was left behind when
		// another partition moved the producer to a newer epoch: it goes
		// along before sending anything more, so that no broker sees the
		// older epoch after the newer one (some track a producer's epoch
		// across its partitions). Either waits for every request in
		// flight, and for the retries that may have been written: under a
		// new epoch they could be written twice, so they go first, under
		// the epoch they have, until an answer settles them.
		if p.inFlight > 0 {
			return nil, noDeadline
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
			settling = p.restart && p.nextRetryEpochSpent()
		case p.waitingExpired(now):
			// A batch is past its DeliveryTimeout: Expire fails it and
			// wakes the sender (see below), and the restart waits for
			// that. Renumbered first, a retry would fail with a sequence
			// of the new epoch, a gap that costs another restart and
			// another epoch.
			return nil, noDeadline
		case !a.restartSequences(p):
			return nil, noDeadline
		}
	}
	unresolved := false
	for _, b := range p.batches {
		switch {
		case b.completed:
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
			if settling && !b.maybeWritten {
				continue // it goes after the restart, renumbered
			}
			if now.Before(b.retryAt) {
				return nil, b.retryAt.Sub(now)
			}
			return b, 0
		}
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
		if !p.admitted && a.cfg.Admit != nil {
			admitted, refused := a.cfg.Admit(p.tp)
			if refused != nil {
				a.failNeverSent(p, refused)
				return nil, noDeadline
			}
			if !admitted {
				return nil, noDeadline // Wake comes when it is
			}
			p.admitted = true
		}
		return b, 0
	}
	return nil, noDeadline
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
		return false // left behind, with batches in flight: next goes along once they are answered
	}
	return true
}

// take marks b as sent to node; a batch sent for the first time is sealed
// and gets the partition's next sequence numbers. p.mu must be held.
func (a *Accumulator) take(p *partition, b *Batch, node int32) {
	if b.attempts == 0 {
		b.sealed = true
		if a.cfg.Idempotent {
			b.producer, b.baseSeq = p.producer, p.nextSeq
			p.nextSeq = addSeq(p.nextSeq, b.entries.len())
		}
	}
	b.attempts++
	b.inFlight = true
	b.sentRound = p.round
	p.inFlight++
	p.node = node
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
		if b.completed {
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

// close finishes a batch the first time it is drained, and stamps it again
// when its sequence numbers have changed since (a restart). A retried batch
// otherwise keeps its bytes: the broker recognises a duplicate by them.
func (a *Accumulator) close(b *Batch) error {
	want := stamp{producer: noProducer, baseSeq: -1}
	if a.cfg.Idempotent {
		want = stamp{producer: b.producer, baseSeq: b.baseSeq}
	}
	if b.encoded == nil {
		b.uncompressed = b.builder.Size()
		enc, err := b.builder.Close(record.CloseOptions{
			Codec: a.cfg.Codec, Level: a.cfg.Level,
			ProducerID: want.producer.ID, ProducerEpoch: want.producer.Epoch, BaseSequence: want.baseSeq,
			Transactional: a.cfg.Transactional,
		})
		if err != nil {
			return err
		}
		b.encoded, b.stamped = enc, want
		return nil
	}
	if b.stamped != want {
		record.StampProducer(b.encoded, want.producer.ID, want.producer.Epoch, want.baseSeq, a.cfg.Transactional)
		b.stamped = want
	}
	return nil
}
