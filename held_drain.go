package producer

import (
	"slices"

	"github.com/gokafka/producer/metadata"
)

// The drain rounds: once metadata comes for a topic (release), a goroutine
// appends its held records in order (drainHeld), a round at a time, setting
// aside those that name a partition the topic does not have yet. A round
// decides which record goes next and when to wait; how one record is
// appended is held_append.go's.

// startDrain starts the goroutine that appends wt's records, those of
// topic, once metadata has partitions for them; none may be running. w.mu
// must be held, and w not closed.
func (w *held) startDrain(topic string, wt *waitingTopic) {
	wt.draining = true
	w.drains.Add(1)
	go func() {
		defer w.drains.Done()
		w.p.drainHeld(topic)
	}()
}

// release starts appending the records of every topic the snapshot now
// knows, and fails at once those of topics that cannot be produced to.
func (w *held) release(p *Producer, snap *metadata.Snapshot) {
	var doomed []heldRecord
	var doomedErr []error
	w.mu.Lock()
	for name, wt := range w.topics {
		t := snap.Peek(name) // a sweep: the snapshot's memo is for the topic produced to
		switch {
		case wt.draining || t == nil || w.closed:
		case len(t.Partitions) > 0:
			w.startDrain(name, wt)
		case t.Refused():
			// Only records held before the answer that refused the
			// topic fail: one held since saw the refusal cached, and
			// access may have been granted before it was produced; it
			// waits for the next answer. Those held before are the
			// oldest, each held with the metadata of its moment.
			n := 0
			for n < len(wt.records) && t.RefusedSince(wt.records[n].refused) {
				n++
			}
			w.fail(wt.records[:n]...)
			for _, h := range wt.records[:n] {
				doomed = append(doomed, h)
				doomedErr = append(doomedErr, t.Err)
			}
			wt.records, wt.lastErr = slices.Delete(wt.records, 0, n), t.Err
			if len(wt.records) == 0 {
				w.drop(name)
			}
		default:
			wt.lastErr = t.Err
		}
	}
	w.mu.Unlock()
	for i, h := range doomed {
		p.failHeld(h, doomedErr[i])
	}
}

// drainHeld appends topic's held records in order, in rounds: a round takes
// every record held so far and gives back all their pool memory at
// once, before appending any. Giving it back one record at a time would
// deadlock when held records fill BufferMemory: the first append would wait
// for a batch buffer that only appending the others could free. A round
// sets aside the records that name a partition the topic does not have
// yet; once they are all that is left, the drain waits for metadata that
// may bring their partitions, or for the oldest one's deadline.
func (p *Producer) drainHeld(topic string) {
	w := &p.held
	for {
		// Taken before the round reads any snapshot: metadata that comes
		// during the round ends the wait for the records it sets aside.
		changed := p.cluster.Changed()
		w.mu.Lock()
		// Only its drain drops a topic being drained: expire, release,
		// takeAll and failWaiting drop only those no drain appends.
		wt := w.topics[topic]
		// Closed, the drain has no record left to fail: Close took them
		// all (takeAll), and hold takes no more.
		if w.closed || (len(wt.records) == 0 && len(wt.aside) == 0) {
			w.drop(topic)
			w.left.Notify()
			w.mu.Unlock()
			return
		}
		pooled := 0
		for _, h := range wt.records {
			pooled += h.size
		}
		wt.round, wt.roundPos = slices.Concat(wt.takeAside(), wt.records), 0
		wt.records = nil
		w.mu.Unlock()
		// Only the pool's share: each record's budget goes back once it is
		// appended or failed, so that records the round sets aside, which
		// keep their copies, stay bounded by it.
		p.pool.Release(pooled)

		p.appendRound(wt)
		p.awaitAside(wt, changed)
	}
}

// appendRound appends the records of wt's round in order, but for those
// it sets aside (see waitingTopic.aside). Once a partition one set aside
// waits for has come, the records behind could land on it first: the
// round starts over, those set aside first, so that no record passes one
// of its partition.
func (p *Producer) appendRound(wt *waitingTopic) {
	w := &p.held
	for {
		changed := p.cluster.Changed() // before the snapshot, for the wait below
		w.mu.Lock()
		if wt.roundPos >= len(wt.round) {
			wt.round, wt.roundPos = nil, 0
			w.mu.Unlock()
			return
		}
		h := wt.round[wt.roundPos]
		// The snapshot the record is appended with, if it is: one looked
		// at apart from the append could have fewer partitions.
		snap := p.cluster.Snapshot()
		t := snap.Topic(h.rec.Topic)
		if t != nil {
			wt.sawPartitions(len(t.Partitions))
		}
		switch {
		case w.waitsAside(&h, snap, t):
			w.setAsideRecord(wt, h)
			wt.round[wt.roundPos] = heldRecord{}
			wt.roundPos++
			w.mu.Unlock()
			continue
		case len(wt.aside) > 0 && wt.asideCame(t):
			wt.round, wt.roundPos = slices.Concat(wt.takeAside(), wt.round[wt.roundPos:]), 0
			w.mu.Unlock()
			continue
		case (t == nil || len(t.Partitions) == 0) && !t.RefusedSince(h.refused) && w.mayWait(&h, snap):
			// A lagging broker called the topic unknown since the drain
			// began. The record waits for the topic's partitions, not, as
			// in appendHeld, for the one it names: once they come, it is
			// set aside if they lack it, and the round goes on.
			p.awaitMetadata(wt, &h, changed)
			continue
		}
		ctx := w.startAppend(wt, &h)
		partitions := wt.partitions
		refusal := w.refusalFor(&h, snap) // as mayWait read it
		w.mu.Unlock()

		appended := p.appendHeld(ctx, wt, snap, &h, partitions, refusal)

		w.mu.Lock()
		w.endAppend(wt)
		wt.round[wt.roundPos] = heldRecord{}
		wt.roundPos++
		w.unbook(h.size) // appended, its bytes are the pool's; failed, it is gone
		if appended {
			w.count.Add(-1)
		}
		// Told also of a record that failed: its booking woke the
		// waiters while it was still the round's next, and a Flush
		// from a callback, which waits for no callback, looks again
		// only when told.
		w.left.Notify()
		w.mu.Unlock()
	}
}

// waitsAside reports whether h, of a round, is to be set aside: t, its
// topic in snap, has partitions, not the one h names, and h may wait for
// it still. w.mu must be held.
func (w *held) waitsAside(h *heldRecord, snap *metadata.Snapshot, t *metadata.Topic) bool {
	if !h.rec.ExplicitPartition || t == nil || len(t.Partitions) == 0 || int(h.rec.Partition) < len(t.Partitions) {
		return false
	}
	return w.mayWait(h, snap)
}

// mayWait reports whether h, of a round, judged with the metadata snap,
// may wait for metadata still: its limit has not passed, nor has Close or
// the abort of its transaction come, which would leave it waiting with no
// one to fail it, nor a refusal by every broker since it was held
// (refusalFor). Otherwise its append fails it. w.mu must be held.
func (w *held) mayWait(h *heldRecord, snap *metadata.Snapshot) bool {
	p := w.p
	return !w.closed && p.ctx.Err() == nil && h.seq > w.abortedThrough && w.refusalFor(h, snap) == nil &&
		p.cfg.clock.Now().Before(h.since.Add(p.heldLimit()))
}

// asideCame reports whether t has a partition that a record set aside
// waits for: records behind it could land there before it, so it goes
// first. While t has none, no record can land beside them, and one that
// fits t nowhere either waits aside too or, its limit passed, fails.
func (wt *waitingTopic) asideCame(t *metadata.Topic) bool {
	return t != nil && len(t.Partitions) > int(wt.asideFrom())
}

// asideFrom is the lowest partition a record set aside waits for; there
// must be one.
func (wt *waitingTopic) asideFrom() int32 {
	lowest := wt.aside[0].rec.Partition
	for _, h := range wt.aside[1:] {
		lowest = min(lowest, h.rec.Partition)
	}
	return lowest
}

// setAsideRecord puts h, which names a partition wt's topic does not have
// yet, aside, and tells the expiry loop. The metadata loop polls, with
// backoff, while the highest partition set aside is not in the metadata;
// a refresh is asked for once, when a higher one is set aside. w.mu must
// be held.
func (w *held) setAsideRecord(wt *waitingTopic, h heldRecord) {
	wt.aside = append(wt.aside, h)
	w.setAside.Notify()
	if wt.unwantAside == nil || h.rec.Partition > wt.asideWanted {
		if wt.unwantAside != nil {
			wt.unwantAside()
		}
		wt.asideWanted = h.rec.Partition
		wt.unwantAside = w.p.cluster.WantPartition(h.rec.Topic, h.rec.Partition)
		w.p.cluster.RequestRefresh(h.wanted() + " wanted")
	}
}

// takeAside takes the records set aside, oldest first.
func (wt *waitingTopic) takeAside() []heldRecord {
	aside := wt.aside
	wt.aside = nil
	return aside
}

// awaitAside waits, once a round has left only records set aside, for
// what may let the oldest of them go: metadata since changed (it may bring
// their partitions; the metadata loop polls for them), the oldest's
// deadline, Close, or the abort of its transaction, which takes them. With
// no record for a partition below theirs left, a later record of the
// topic holds back only if it could land on one of theirs (waitsFrom).
func (p *Producer) awaitAside(wt *waitingTopic, changed <-chan struct{}) {
	w := &p.held
	w.mu.Lock()
	if len(wt.aside) == 0 || len(wt.records) > 0 || w.closed {
		w.mu.Unlock()
		return
	}
	wt.waitsFrom.Store(wt.asideFrom())
	first := wt.aside[0]
	p.awaitMetadata(wt, &first, changed)
}

// awaitMetadata waits, for h, a record of wt, for metadata newer than
// changed, h's deadline, Close, or the abort of h's transaction
// (startAppend). It asks for no refresh: the metadata loop polls, with
// backoff, for h's topic while it has no partitions (Want), and for the
// partitions set aside (setAsideRecord). Asked after every update, it
// refreshed every RetryBackoff for as long as h waited. It is called with
// w.mu held, and returns with it released.
func (p *Producer) awaitMetadata(wt *waitingTopic, h *heldRecord, changed <-chan struct{}) {
	w := &p.held
	ctx := w.startAppend(wt, h)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.endAppend(wt)
		w.mu.Unlock()
	}()
	timer := p.cfg.clock.NewTimerAt(h.since.Add(p.heldLimit()))
	defer timer.Stop()
	select {
	case <-changed:
	case <-timer.C():
	case <-ctx.Done():
	}
}
