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
// ending); the largest time.Duration if none. busy says that a request to
// node awaits its answer: then only a full batch (or a retry, a batch that
// an earlier request had no room for, or any batch when urgent) makes a
// request go, and the others, lingering or not, go along with it.
//
// A batch whose DeliveryTimeout has passed is not drained: it waits for
// Expire, which fails it, and nothing of its partition passes it, nor do
// its partition's sequences restart before it fails.
//
// A batch drained for the first time gets its sequence numbers here, under
// its partition's lock. Drained batches are closed (compressed, stamped,
// CRC'd) outside every lock; they are in flight until the sender reports
// their answer with Complete, Refuse, Retry or Split.
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
	led := a.ledPartitions(node, parts)
	for i := 0; i < len(led); i++ {
		idx := (start + i) % len(led)
		p := led[idx]
		if p == nil || !p.pending.Load() {
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
		nextStart = (idx + 1) % len(led)
	}
	for _, idx := range lingering {
		if full || len(batches) == 0 {
			break
		}
		p := led[idx]
		var b *Batch
		if b, _, full = a.drainOne(p, node, true, busy, now, true, maxBytes-total); b != nil {
			total += b.Size()
			batches = append(batches, b)
		}
	}
	closed := batches[:0]
	for _, b := range batches {
		if err := a.close(b); err != nil {
			a.Complete(b, -1, -1, fmt.Errorf("closing the batch: %w", err))
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
	a.visits.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	b, wait = a.next(p, node, urgent, busy, now)
	if b == nil {
		if wait == noDeadline {
			p.notePending()
		}
		return nil, wait, false
	}
	if started && b.Size() > room {
		b.leftOut = true
		return nil, 0, true
	}
	a.take(p, b, node, now)
	p.notePending()
	if b.attempts == 1 {
		b.sentAt = now
	}
	return b, 0, false
}

// Ready reports whether the sender for broker node has a batch to send
// among parts, and if not, how long until it may (the largest time.Duration
// if only an answer or a wake can change that); busy as for Drain. A sender
// asks before it connects, so that brokers with nothing to send get no
// connection. A list of partitions, once passed to Ready or Drain, must
// never be written again (a metadata snapshot's are not): the accumulator
// keeps its lookups of a list's partitions by the list's identity (led.go),
// and would read a list rewritten in place as the old one.
func (a *Accumulator) Ready(node int32, parts []TopicPartition, busy bool, now time.Time) (bool, time.Duration) {
	urgent := a.urgent()
	next := noDeadline
	for _, p := range a.ledPartitions(node, parts) {
		if p == nil || !p.pending.Load() {
			continue
		}
		a.visits.Add(1)
		p.mu.Lock()
		b, wait := a.next(p, node, urgent, busy, now)
		if b == nil && wait == noDeadline {
			p.notePending()
		}
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

// PipelineIdle is how long an idempotent partition may send nothing and
// still pipeline its next requests to the leader that acknowledged one of
// its batches: once it has sent nothing for that long, with nothing in
// flight, it sends one request first again, as under a new id, until its
// leader acknowledges a batch. Meanwhile the leader may have forgotten the
// producer and take any first sequence: a Kafka broker drops a producer's
// state on a partition once the latest batch written there carries
// timestamps older than producer.id.expiration.ms. With a burst pipelined,
// its first request refused before any append (a retriable
// NOT_ENOUGH_REPLICAS, say) and the next written, the first batch would
// fail, certainly not written, where sent alone it would have been retried
// and delivered. That expiry is a day by default, but a cluster may set it
// far lower, and a producer's clock behind the broker's makes records look
// older: a minute is well below any expiry a cluster is likely run with,
// and costs one round trip without pipelining at the start of a burst after
// a minute of silence on the partition; a partition sending more often
// keeps pipelining. A topic idle for MetadataMaxIdle (5 minutes by default)
// is forgotten, and each of its partitions sends one request first when it
// comes back (Recreated); this bounds a partition idle in a topic still in
// use, which nothing else resets. It counts from the partition's latest
// send, not its answer: the records a request carries, whose timestamps the
// broker's expiry follows, are stamped before it goes.
const PipelineIdle = time.Minute

// take marks b as sent to node at now; a batch sent for the first time is
// sealed and gets the partition's next sequence numbers. p.mu must be held.
func (a *Accumulator) take(p *partition, b *Batch, node int32, now time.Time) {
	if p.inFlight == 0 && now.Sub(p.lastSent) >= PipelineIdle {
		// Its leader may have forgotten the producer since: this request
		// goes alone until it acknowledges one (see PipelineIdle).
		p.acked = false
	}
	p.lastSent = now
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
