package producer

import (
	"fmt"
	"time"

	"github.com/gokafka/producer/metadata"
)

// Held records past their limit: the expiry loop's pass over them (expire)
// and the errors they fail with, MaxBlock's, DeliveryTimeout's or that of a
// partition the topic lacks. A drain's append fails a record past its limit
// with the same errors, so their words are written once, here.

// expire fails records that have waited their limit for their topic, or,
// set aside, for their partition, and reports how long until the next
// would.
func (w *held) expire(now time.Time) (next time.Duration) {
	next = time.Duration(1<<63 - 1)
	snap := w.p.cluster.Snapshot()
	var waiting, aside []heldRecord // waiting: still in the pool
	var waitingErr, asideErr []error
	w.mu.Lock()
	for name, wt := range w.topics {
		if wt.draining {
			// Its drain bounds each wait of a record it appends by the
			// record's own deadline, and the expiry loop hears of the
			// record's batch when it is appended
			// (accumulator.EarlierDeadline). The records set aside wait
			// for no append: the drain looks at them again only once its
			// round is done, which a record waiting for memory may hold up
			// past their limit.
			t := snap.Peek(name)
			expired, left := w.expireAside(wt, t, now)
			next = min(next, left)
			for _, h := range expired {
				aside = append(aside, h)
				asideErr = append(asideErr, w.p.asideTooLong(&h, t, wt.partitions, wt.lastErr))
			}
			continue
		}
		expired, left := w.takeExpired(&wt.records, now)
		next = min(next, left)
		for _, h := range expired {
			waiting = append(waiting, h)
			waitingErr = append(waitingErr, w.p.unknownTooLong(&h, wt.partitions, wt.lastErr))
		}
		if len(wt.records) == 0 {
			w.drop(name)
		}
	}
	w.mu.Unlock()
	for i, h := range waiting {
		w.p.failHeld(h, waitingErr[i])
	}
	for i, h := range aside {
		w.p.failUnpooled(h, asideErr[i])
	}
	return next
}

// takeExpired takes the records whose limit passed by now off the front of
// records, oldest first, counting them as failing (fail), and reports how
// long until the next one's passes. w.mu must be held.
func (w *held) takeExpired(records *[]heldRecord, now time.Time) (expired []heldRecord, next time.Duration) {
	limit := w.p.heldLimit()
	for len(*records) > 0 {
		h := (*records)[0]
		if left := limit - now.Sub(h.since); left > 0 {
			return expired, left
		}
		expired = append(expired, h)
		*records = (*records)[1:]
		w.fail(h)
	}
	return expired, time.Duration(1<<63 - 1)
}

// expireAside takes off wt.aside the records whose limit passed by now,
// counting them as failing (fail), and reports how long until the next
// one's passes. A record whose partition t still lacks waits for it as
// long as any held record waits for metadata (heldLimit); one whose
// partition came waits for the drain's round to end, which then appends
// it, only within its DeliveryTimeout: failed at its MaxBlock, a record
// whose partition exists would be told it does not. w.mu must be held.
func (w *held) expireAside(wt *waitingTopic, t *metadata.Topic, now time.Time) (expired []heldRecord, next time.Duration) {
	next = time.Duration(1<<63 - 1)
	kept := wt.aside[:0]
	for _, h := range wt.aside {
		limit := w.p.heldLimit()
		if h.fits(t) {
			limit = w.p.cfg.DeliveryTimeout
		}
		if left := limit - now.Sub(h.since); left > 0 {
			next = min(next, left)
			kept = append(kept, h)
			continue
		}
		expired = append(expired, h)
		w.fail(h)
	}
	clear(wt.aside[len(kept):]) // no copies of the records taken kept alive
	wt.aside = kept
	return expired, next
}

// asideTooLong is the error of h, set aside, whose limit passed: the one
// its append would give it (appendHeld). A record whose partition came
// only fails past its DeliveryTimeout (expireAside).
// t is its topic in the latest metadata, partitions the topic's partition
// count when last seen with partitions (waitingTopic.partitions), lastErr
// the topic's error in the last metadata, if any.
func (p *Producer) asideTooLong(h *heldRecord, t *metadata.Topic, partitions int, lastErr error) error {
	if t == nil || len(t.Partitions) == 0 {
		return p.unknownTooLong(h, partitions, lastErr)
	}
	return p.lackedPartition(h, len(t.Partitions))
}

// unknownTooLong is the error of h, whose limit passed while the latest
// metadata had its topic unknown or without partitions (lastErr, the
// topic's error there, if any). A record naming a partition at or past
// partitions, the count the producer last saw the topic with, waited for
// that partition: a lagging broker, restarted and not yet caught up,
// calling the topic unknown does not unmake the partitions the producer
// saw, and the record fails as naming one the topic lacks. Only a record
// of a topic never seen with partitions, or one whose partition was seen,
// waited for the topic itself.
func (p *Producer) unknownTooLong(h *heldRecord, partitions int, lastErr error) error {
	if h.rec.ExplicitPartition && partitions > 0 && int(h.rec.Partition) >= partitions {
		return p.lackedPartition(h, partitions)
	}
	return p.heldTooLong(lastErr)
}

// lackedPartition is the error of h, whose limit passed while its topic,
// with partitions partitions, lacked the one it names. It says the record
// waited, as the Java client's "not present in metadata after N ms" does:
// without, it read as a refusal at once. Its limit is MaxBlock, since one
// that DeliveryTimeout ended first is tooLate's.
func (p *Producer) lackedPartition(h *heldRecord, partitions int) error {
	if err := p.tooLate(h, partitions); err != nil {
		return err
	}
	lacked := noSuchPartition(&h.rec, h.rec.Partition, partitions).(*PartitionError)
	lacked.Err = fmt.Errorf("%w: not in the metadata within MaxBlock (%v)", lacked.Err, p.cfg.MaxBlock)
	return lacked
}

// tooLate is the error of a held record whose DeliveryTimeout ended before
// its turn to be appended came: it waited for its partition, or behind
// records of its topic that waited for theirs or for memory. Appended, it
// would bring its batch's deadline forward to one already past, and the
// records appended after it would fail with it. A record whose partition
// never came fails as at its MaxBlock (noSuchPartition), under the timeout.
// The *PartitionError names the partition the record named, if it did,
// as ErrDeliveryTimeout's doc says. partitions is the topic's partition
// count.
func (p *Producer) tooLate(h *heldRecord, partitions int) error {
	if p.cfg.clock.Now().Before(h.since.Add(p.cfg.DeliveryTimeout)) {
		return nil
	}
	err := fmt.Errorf("%w: not appended within DeliveryTimeout (%v)", ErrDeliveryTimeout, p.cfg.DeliveryTimeout)
	if h.rec.ExplicitPartition && int(h.rec.Partition) >= partitions {
		lacked := noSuchPartition(&h.rec, h.rec.Partition, partitions).(*PartitionError)
		lacked.Err = fmt.Errorf("%w: %w", err, lacked.Err)
		return lacked
	}
	return &PartitionError{Topic: h.rec.Topic, Partition: namedPartition(&h.rec), Err: err}
}

// heldTooLong is the error of a record that waited its limit for its
// topic's partitions; lastErr is the topic's error in the last metadata,
// if any.
func (p *Producer) heldTooLong(lastErr error) error {
	err := fmt.Errorf("%w: no metadata within MaxBlock (%v)", ErrUnknownTopic, p.cfg.MaxBlock)
	if limit := p.heldLimit(); limit < p.cfg.MaxBlock {
		err = fmt.Errorf("%w: %w: no metadata within DeliveryTimeout (%v)", ErrDeliveryTimeout, ErrUnknownTopic, limit)
	}
	if lastErr != nil {
		err = p.withAutoCreateHint(fmt.Errorf("%w: %w", err, lastErr), lastErr)
	}
	return p.withRefreshFailure(err)
}

// withRefreshFailure adds to err, the error of a wait for metadata that
// came to nothing, why the last metadata refresh failed, if it did.
func (p *Producer) withRefreshFailure(err error) error {
	if failed := p.refreshFailed.Load(); failed != nil {
		return fmt.Errorf("%w; the last metadata refresh failed: %w", err, *failed)
	}
	return err
}
