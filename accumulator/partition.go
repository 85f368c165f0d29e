package accumulator

import (
	"sync"
	"sync/atomic"
	"time"
)

// partition is one partition's batches and, for an idempotent producer, its
// sequence numbers: the state that the sender's requests and the brokers'
// answers move along, all of it under mu.
//
// batches holds every batch of the partition that still matters, in the
// order their records must be written: first those drained at least once
// (in sequence order), then those never drained, the last of which may
// still take appends. A batch drained for the first time gets the next
// sequence number; a retried one is sent again from where it is. It leaves
// the list when its outcome is known: written (acknowledged), failed for
// good, or, without idempotence, expired.
//
// After a failure sends a batch back for a retry, nothing more of the
// partition is sent until every request sent before that failure has been
// answered: their answers may send more batches back, and the retries must
// go out in order, lowest sequence first (the Java client's
// shouldStopDrainBatchesForPartition has the same aim; franz-go rewinds a
// drain index). Requests of one partition go to one broker at a time: a
// sender for another broker waits until those in flight are answered.
//
// With idempotence, a batch whose records failed while the broker may
// have written them (a request went unanswered) stays in the list,
// settled: its callbacks run, but whether its sequence numbers were
// written is unresolved. The answer to its request in flight, if it says
// written, or an acknowledgement of a later batch resolves it (the broker
// accepts sequences only in order); otherwise, once nothing is in flight,
// the partition restarts its sequences at 0 under a newer epoch (KIP-360),
// which fences off a late write of the old attempt. The same restart
// follows a batch that failed for good and left a gap, and a broker that
// no longer knows the producer.
type partition struct {
	tp TopicPartition
	mu sync.Mutex

	// pending is false only when no batch waits to be sent, the
	// sequences need no restart and no settled batch is kept: Ready and
	// Drain pass the partition by without its lock then, for nothing
	// would go. It is read without the lock and written under it: set
	// wherever a batch comes to wait (a new batch, the halves of a
	// split, an answer that sends a batch back) or a restart is booked,
	// cleared by Ready and Drain when they find nothing waiting
	// (notePending). With thousands of partitions led and memory short,
	// every new batch wakes its sender, and a pass that locked each of
	// them cost more than the records it sent.
	pending atomic.Bool

	batches []*Batch
	// settled counts the settled batches in batches: their records have
	// their outcome, and they stay only for their sequence numbers or
	// their request in flight. They need no leader and are no load (InUse,
	// Load), which a count tells without walking the list.
	settled int
	// expiring: the partition is in Accumulator.expiring, which Expire
	// walks (watchExpiry).
	expiring bool

	inFlight int   // batches in requests awaiting an answer
	node     int32 // the broker those requests went to
	// round counts failures that sent a batch back for a retry; stale is
	// how many batches in flight were sent before the latest of them.
	round uint32
	stale int
	// blocked: a sender for another broker found the partition busy and
	// must be woken once its requests are answered.
	blocked bool
	// acked: ackedBy, the broker the partition's requests went to,
	// acknowledged its latest answered batch under the partition's
	// producer id. Until then an idempotent partition keeps one request in
	// flight. A leader with no state for the producer (a partition it
	// never wrote to, whose state expired, a new id, after the epoch ran
	// out, that no broker knows: takeID, or a topic deleted and created
	// again under its name: recreated) takes any first
	// sequence: with two requests in flight, the first refused
	// (NOT_LEADER_OR_FOLLOWER from a broker still becoming the leader) and
	// the second taken, the second batch would be written ahead of the
	// first, whose retry is then refused as out of order. Once it has
	// acknowledged a batch, the broker knows the producer and refuses a
	// sequence that skips one, unless it forgets the producer later: so a
	// partition that sent nothing for PipelineIdle, nothing in flight,
	// sends one request first again (take). A broker may still forget the
	// producer sooner, or the topic be re-created before the metadata says
	// so: then failPassed keeps the order. (A new epoch of the id needs no
	// reset: a broker that knows the producer takes only sequence 0 under
	// it.)
	acked   bool
	ackedBy int32
	// lastSent is when the partition's latest request went, which
	// PipelineIdle counts from.
	lastSent time.Time
	// oldAnswers is how many of the answers to come are to requests sent
	// before the topic was last re-created (recreated): sent to the old
	// topic, or to the new one before the metadata named it, they prove
	// nothing of what the new topic's leader knows. Nothing more is sent
	// while they are in flight (acked is false), so they are the next
	// answers.
	oldAnswers int
	// lastErr is why the partition's latest attempt failed, or why its
	// leader could not be reached (Unreachable), until an acknowledgement:
	// the cause a batch that times out without an error of its own (it
	// was never sent) is given.
	lastErr error
	// admittedIn is one more than Accumulator.transactions when
	// Config.Admit last let the partition send; 0, never. A count, not a
	// flag, so that EndTransaction need not visit every partition the
	// producer ever knew to clear it.
	admittedIn uint64
	// timestamps is what first attempts' acknowledgements said of the
	// topic's timestamps: logAppend or createTime, unknown until one came.
	timestamps timestampType

	producer ProducerID // whose sequences the batches carry; noProducer until the first drain
	nextSeq  int32      // the sequence of the next batch drained for the first time
	restart  bool       // sequences must restart under a new epoch once nothing is in flight

	// restartCause is the failure that first made the sequences restart,
	// for a transactional producer's reason to abort (Config.EpochNeeded).
	restartCause error

	// started is when an append last started a batch: the producer's
	// latest use of the partition, which keeps its topic's metadata
	// (InUse) after the batch is gone.
	started time.Time

	// roomHint is the room the entries of the partition's latest batch
	// had, as lastRoom last saw them while that batch still held its
	// records: the next batch's entries start with that room, even once
	// the latest batch has given its entries back.
	roomHint entriesRoom
}

// takeID makes id the producer whose sequences p's batches carry, the next
// batch's starting at seq. A new id, unlike a new epoch, is one no broker
// knows: p keeps one request in flight until a broker acknowledges a batch
// under it (see acked).
func (p *partition) takeID(id ProducerID, seq int32) {
	if id.ID != p.producer.ID {
		p.acked = false
	}
	p.producer, p.nextSeq = id, seq
}

// recreated books that p's topic may have been created again (Recreated):
// until its leader acknowledges a batch sent from now on, p keeps one
// request in flight; and what the old topic's answers said of its
// timestamps (appendTime) may not hold for the new one's config.
func (p *partition) recreated() {
	p.acked = false
	p.oldAnswers = p.inFlight
	p.timestamps = unknownTimestamps
}

// mustRestart books that the partition's sequences must restart because
// of cause.
func (p *partition) mustRestart(cause error) {
	if !p.restart {
		p.restartCause = cause
	}
	p.restart = true
	p.pending.Store(true)
}

// notePending clears pending if nothing of p waits to be sent, its
// sequences need no restart, and it keeps no settled batch; p.mu must be
// held. Anything else that next waits for (an id, an admission, another
// broker's answers) concerns a batch waiting, which keeps pending set. A
// settled batch kept for its sequence (expired in flight, its answer lost)
// keeps it set too: when another partition moves the producer to a newer
// epoch, a pass that visits p moves p along (restartGate), letting go of
// the batch, which would otherwise stay until p's next record. Such
// partitions are few, and the passes that visit them cost a lock each.
func (p *partition) notePending() {
	if !p.restart && p.settled == 0 && !p.waiting() {
		p.pending.Store(false)
	}
}

func newPartition(tp TopicPartition) *partition {
	return &partition{tp: tp, producer: noProducer}
}

// open returns the batch accepting appends, or nil.
func (p *partition) open() *Batch {
	if n := len(p.batches); n > 0 && !p.batches[n-1].sealed {
		return p.batches[n-1]
	}
	return nil
}

// lastRoom is what the entries of the partition's latest batch hold, the
// room a new batch's entries start with; p.mu must be held. A batch whose
// records have had their outcome no longer holds its entries, so the last
// batch that did stands in.
func (p *partition) lastRoom() entriesRoom {
	// A delivered batch kept for its sequence numbers may have given its
	// entries back already, outside the lock (deliver).
	if n := len(p.batches); n > 0 && !p.batches[n-1].delivered && p.batches[n-1].entries.len() > 0 {
		p.roomHint = p.batches[n-1].entries.room()
	}
	return p.roomHint
}

// settle books that b's records have their outcome while b stays in the
// list (Batch.settled).
func (p *partition) settle(b *Batch) {
	if !b.settled {
		b.settled = true
		p.settled++
	}
}

// remove takes b out of the list.
func (p *partition) remove(b *Batch) {
	for i, o := range p.batches {
		if o == b {
			if o.settled {
				p.settled--
			}
			copy(p.batches[i:], p.batches[i+1:])
			p.batches[len(p.batches)-1] = nil
			p.batches = p.batches[:len(p.batches)-1]
			return
		}
	}
}

// replace puts halves in b's place in the list.
func (p *partition) replace(b *Batch, halves ...*Batch) {
	for i, o := range p.batches {
		if o == b {
			rest := append(halves, p.batches[i+1:]...)
			p.batches = append(p.batches[:i], rest...)
			p.pending.Store(true)
			return
		}
	}
}

// answered books the end of b's attempt, acknowledged or not: it is no
// longer in flight. It reports whether the attempt was sent before the
// topic was last re-created (oldAnswers), whose answer tells nothing of
// the new topic.
func (p *partition) answered(b *Batch, acked bool) (old bool) {
	if !b.inFlight {
		return false
	}
	b.inFlight = false
	p.inFlight--
	p.pending.Store(true) // it may be sent back (notePending clears it)
	if b.sentRound != p.round {
		p.stale--
	}
	if p.oldAnswers > 0 {
		p.oldAnswers--
		acked, old = false, true
	}
	p.acked, p.ackedBy = acked, p.node
	return old
}

// pipelines reports whether an idempotent partition may send another
// request to node while one is in flight (see acked).
func (p *partition) pipelines(node int32) bool {
	return p.acked && p.ackedBy == node
}

// sendBack schedules b for a retry no earlier than at, and starts a new
// round: retries wait for every request sent before this failure.
func (p *partition) sendBack(b *Batch, at time.Time) {
	b.retryAt = at
	p.round++
	p.stale = p.inFlight
}

// wasWritten books the acknowledgement of b: written, and with it every
// settled batch before it, whose sequences the broker had to accept first:
// their doubt is resolved.
func (p *partition) wasWritten(b *Batch) {
	for len(p.batches) > 0 && p.batches[0] != b && p.batches[0].settled && !p.batches[0].inFlight {
		p.settled--
		p.batches[0] = nil
		p.batches = p.batches[1:]
	}
	p.remove(b)
}

// pendingBefore returns the last batch before b whose records have no
// outcome yet, or nil. Acknowledged, b proves an idempotent producer's
// batches before it written too, but one of them may still wait for the
// retry of an attempt that went unanswered, and learn its offset only from
// the broker's answer to it.
func (p *partition) pendingBefore(b *Batch) *Batch {
	var pending *Batch
	for _, o := range p.batches {
		if o == b {
			return pending
		}
		if !o.settled {
			pending = o
		}
	}
	return nil
}

// isNext reports whether only settled batches come before b: b is the next
// batch the broker must accept, unless those were written.
func (p *partition) isNext(b *Batch) bool {
	for _, o := range p.batches {
		if o == b {
			return true
		}
		if !o.settled {
			return false
		}
	}
	return false
}

// hasSequences reports whether some batch still carries a sequence number
// of the partition's current producer.
func (p *partition) hasSequences() bool {
	return len(p.batches) > 0 && p.batches[0].attempts > 0
}

// wakeOthers reports, once, that a sender for another broker found the
// partition busy and may go on now that nothing is in flight.
func (p *partition) wakeOthers() bool {
	if p.blocked && p.inFlight == 0 {
		p.blocked = false
		return true
	}
	return false
}

// waiting reports whether a batch waits to be sent: neither in flight nor
// with its outcome.
func (p *partition) waiting() bool {
	for _, b := range p.batches {
		if !b.settled && !b.inFlight {
			return true
		}
	}
	return false
}

// unsure reports whether a batch waiting for a retry may have been written
// by an earlier attempt.
func (p *partition) unsure() bool {
	for _, b := range p.batches {
		if b.attempts == 0 {
			return false
		}
		if b.maybeWritten && !b.settled && !b.inFlight {
			return true
		}
	}
	return false
}

// nextRetryEpochSpent reports whether p's first batch waiting to be sent
// again can no longer be written under its epoch (Batch.epochSpent).
func (p *partition) nextRetryEpochSpent() bool {
	for _, b := range p.batches {
		if !b.settled && !b.inFlight && b.attempts > 0 {
			return b.epochSpent
		}
	}
	return false
}

// waitingExpired reports whether any of p's batches waiting to be sent,
// for the first time or again, has passed its DeliveryTimeout at now. Not
// only the first: a batch holding a record that waited for metadata
// (Record.Since) has an earlier deadline than those before it.
func (p *partition) waitingExpired(now time.Time) bool {
	for _, b := range p.batches {
		if !b.settled && !b.inFlight && !now.Before(b.deadline) {
			return true
		}
	}
	return false
}

type timestampType uint8

const (
	unknownTimestamps timestampType = iota
	createTime
	logAppendTime
)

// appendTime is the broker's LogAppendTime for an acknowledged batch, or
// -1 when its records keep their own timestamps. A broker answering a
// duplicate (a retry of a batch it already has) puts the batch's maximum
// timestamp there, for any topic: so only the answer to a first attempt,
// which cannot be a duplicate, says whether the topic stamps append times;
// unless it is old (answered), from the topic before it was re-created,
// whose config the new one need not share.
func (p *partition) appendTime(b *Batch, logAppendTimeMs int64, old bool) int64 {
	switch {
	case b.attempts == 1 && old:
		return logAppendTimeMs // b's own, not a duplicate's
	case b.attempts == 1 && logAppendTimeMs >= 0:
		p.timestamps = logAppendTime
	case b.attempts == 1:
		p.timestamps = createTime
	case p.timestamps == createTime:
		return -1
	case p.timestamps == unknownTimestamps && logAppendTimeMs == b.builder.MaxTimestamp():
		// A duplicate before any first attempt was answered: the batch's
		// own maximum timestamp says it kept its records' timestamps (a
		// LogAppendTime topic would have rewritten it to the append time).
		return -1
	}
	return logAppendTimeMs
}
