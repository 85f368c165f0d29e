package accumulator

import (
	"fmt"
	"time"

	"github.com/gokafka/producer/record"
)

// noDeadline is what Drain reports as the next check when nothing waits.
const noDeadline = time.Duration(1<<63 - 1)

// Drain removes ready batches from the given partitions (those one broker
// leads), at most one per partition, until adding another would pass
// maxBytes; at least one batch is returned when any is ready, even one larger
// than maxBytes. It starts at partition index start and reports where the
// next drain should start, so that no partition is starved when requests fill
// up before the list ends. next is how long until some batch among parts
// becomes ready (a linger or a retry backoff ending); noDeadline if none.
//
// Drained batches are closed (compressed, CRC'd) here, outside every lock,
// and marked sent; the caller owns them until it calls Complete, Reenqueue or
// Split.
func (a *Accumulator) Drain(parts []TopicPartition, start, maxBytes int, now time.Time) (batches []*Batch, next time.Duration, nextStart int) {
	next = noDeadline
	if len(parts) == 0 {
		return nil, next, 0
	}
	start %= len(parts)
	urgent := a.flushing.Load() > 0 || a.closing.Load() || a.cfg.Pool.Waiters() > 0
	total := 0
	nextStart = start
	for i := 0; i < len(parts); i++ {
		idx := (start + i) % len(parts)
		q := a.lookup(parts[idx])
		if q == nil {
			continue
		}
		q.mu.Lock()
		b, wait := a.head(q, urgent, now)
		if b == nil {
			q.mu.Unlock()
			if wait < next {
				next = wait
			}
			continue
		}
		if len(batches) > 0 && total+b.Size() > maxBytes {
			q.mu.Unlock()
			nextStart = idx
			next = 0 // more is ready right now
			break
		}
		q.popFront()
		b.sealed = true
		q.inFlight++
		q.mu.Unlock()
		total += b.Size()
		batches = append(batches, b)
		nextStart = (idx + 1) % len(parts)
	}
	closed := batches[:0]
	for _, b := range batches {
		if err := a.close(b); err != nil {
			a.Complete(b, -1, -1, fmt.Errorf("closing batch for %s/%d: %w", b.TP.Topic, b.TP.Partition, err))
			continue
		}
		closed = append(closed, b)
	}
	return closed, next, nextStart
}

// Ready reports whether any of parts has a batch ready to send, and if not,
// how long until one may be (noDeadline if none waits). A sender asks before
// it connects, so that brokers with nothing to send get no connection.
func (a *Accumulator) Ready(parts []TopicPartition, now time.Time) (bool, time.Duration) {
	urgent := a.flushing.Load() > 0 || a.closing.Load() || a.cfg.Pool.Waiters() > 0
	next := noDeadline
	for _, tp := range parts {
		q := a.lookup(tp)
		if q == nil {
			continue
		}
		q.mu.Lock()
		b, wait := a.head(q, urgent, now)
		q.mu.Unlock()
		if b != nil {
			return true, 0
		}
		next = min(next, wait)
	}
	return false, next
}

// head returns q's first batch if it is ready to send, or how long until it
// may be. q.mu must be held.
func (a *Accumulator) head(q *queue, urgent bool, now time.Time) (*Batch, time.Duration) {
	if len(q.batches) == 0 {
		return nil, noDeadline
	}
	if a.cfg.StrictOrder && q.inFlight > 0 {
		// Completion or re-enqueue of the in-flight batch wakes the sender.
		return nil, noDeadline
	}
	b := q.batches[0]
	if b.attempts > 0 && now.Before(b.retryAt) {
		return nil, b.retryAt.Sub(now)
	}
	if b.sealed || urgent || len(q.batches) > 1 || b.attempts > 0 {
		return b, 0
	}
	if lingered := now.Sub(b.created); lingered < a.cfg.Linger {
		return nil, a.cfg.Linger - lingered
	}
	return b, 0
}

// close finishes a batch the first time it is drained. A retried batch keeps
// its bytes: with idempotence its sequence numbers must not change.
func (a *Accumulator) close(b *Batch) error {
	if b.encoded != nil {
		return nil
	}
	b.uncompressed = b.builder.Size()
	enc, err := b.builder.Close(record.CloseOptions{
		Codec: a.cfg.Codec, Level: a.cfg.Level,
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
	})
	if err != nil {
		return err
	}
	b.encoded = enc
	return nil
}
