package producer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/record"
)

// held is the records waiting for metadata: their topic's, or a partition
// of it that the producer does not know yet. Produce never blocks on
// metadata (the blocking send on a missing topic is a long-standing
// kafka-python complaint): such records are copied, counted against
// BufferMemory, and partitioned in order once metadata arrives. After
// MaxBlock (or a shorter DeliveryTimeout) they fail with ErrUnknownTopic;
// one whose DeliveryTimeout ends before it joins a batch (waiting for
// memory, or behind its topic's records) fails with ErrDeliveryTimeout.
type held struct {
	p     *Producer    // for the buffer pool and the callbacks
	count atomic.Int64 // records held, or failed and not yet delivered; lets Produce skip the lookup when 0
	// waiting is topics again, for holds, which reads it without mu: while
	// one topic's records wait (a mistyped one's for MaxBlock), the
	// records of the others take no producer-wide lock. Written under mu
	// with topics (want, drop), and waitsFrom being atomic, it tells a
	// record produced after another was held, or after its topic's
	// waitsFrom moved, as much as the lookup under mu did. A sync.Map,
	// whose loads take no lock, rather than a copy of topics swapped in
	// whole: with ten thousand missing topics, each one's first and last
	// record would copy a map of up to ten thousand.
	waiting sync.Map // topic -> *waitingTopic

	mu     sync.Mutex
	closed bool // set by failAll: nothing more is held or released
	// reserved is the memory held records reserve, and reserveCap its
	// bound: BufferMemory less one batch. Were held records free to fill the
	// pool, the goroutine appending them once metadata came would wait for a
	// batch buffer that only they could free: they would starve themselves
	// until MaxBlock. Below the bound, a batch always fits beside them. A
	// record counts in reserved from hold until it is appended or failed,
	// set aside or not; in the pool only until its drain round begins
	// (drainHeld), which gives that memory to the round's batches.
	reserved   int
	reserveCap int
	// shareWaiters are the records waiting for room below reserveCap
	// (book), oldest first, each woken through its channel
	// (wakeShareWaiter).
	shareWaiters []chan struct{}
	drains       sync.WaitGroup
	// drained closes once, after Close (failAll), the last drain has
	// ended: a Close made again, its ctx perhaps ended already, reads it
	// before its ctx, as it reads the first Close's end.
	drained chan struct{}
	topics  map[string]*waitingTopic
	seq     uint64 // order of holding, for Flush
	// failing and unbooked count the failed records whose callbacks have
	// not run yet, and those the transaction and the delivery goroutine
	// have yet to be told of: a Flush, once it begins, counts those of the
	// records held before it in flushes.
	failing  int
	unbooked int
	flushes  []*heldFlush    // the Flushes waiting for held records (await)
	left     notify.Notifier // a record was appended, or its failure booked or delivered
	// setAside tells the expiry loop that a record was set aside: it fails
	// such records at their limit, and its last pass, if the record was
	// then in a drain round, did not count it.
	setAside notify.Notifier
	// abortedThrough is the seq of the last record held when a transaction
	// began to be aborted (abortTransaction): it and those before it
	// belong to that transaction or an older one, and a drain that takes
	// one ends its wait at once.
	abortedThrough uint64

	// appendCtx bounds the appends of held records, their waits for a
	// batch's memory among them; endMemoryWaits cancels it, and noWait
	// makes the appends after that fail at once rather than wait
	// (appendWait).
	appendCtx       context.Context
	cancelAppendCtx context.CancelFunc
	noWait          atomic.Bool
}

type waitingTopic struct {
	records  []heldRecord // oldest first, not yet taken by a drain round
	draining bool         // a goroutine is appending them
	// round is the records a drain round took, their memory already given
	// back; round[roundPos] is being appended, those after it wait.
	round    []heldRecord
	roundPos int
	// aside is the records of the round that name a partition the topic
	// does not have yet, oldest first. Set aside rather than waited for in
	// turn, they hold up none of the round's records for partitions the
	// topic has, which could never land beside them; the next round takes
	// them first. Their pool memory went back with their round, but they
	// still count against the held records' budget (reserved), and the
	// expiry loop fails them at their limit, while the round may be held
	// up for longer.
	aside   []heldRecord
	lastErr error // the topic's error in the last metadata, if any
	// partitions is the topic's partition count when the producer last saw
	// it with partitions (Produce, or the drain), 0 if never. A record
	// naming a partition at or past it waited for that partition, not
	// for the topic: when its limit passes while the latest metadata,
	// from a lagging broker, calls the topic unknown, it still fails as
	// naming a partition the topic lacks (unknownTooLong).
	partitions int
	unwant     func() // ends the cluster layer's asking for its metadata
	// asideWanted is the highest partition a record set aside has waited
	// for, and unwantAside ends the metadata loop's polling for it (nil:
	// none set aside yet). Partitions are numbered 0 to n-1: while a
	// record set aside lacks its partition, the highest is lacking too.
	asideWanted int32
	unwantAside func()
	// waitsFrom is the lowest partition a record held here may go to (see
	// hold). A later record of the topic must queue behind them only if it
	// could land on such a partition, one below the topic's partition
	// count: a record that waits for a partition the topic does not have
	// yet holds up no other partition's records. It falls as records are
	// held, which keeps it a bound however they leave, and rises only when
	// the records set aside are all the topic has left (awaitAside).
	// Written under held.mu, read without it by holds.
	waitsFrom atomic.Int32
	// stopAppend ends the waits of round[roundPos] (for its partition, or
	// its batch's memory), or the drain's wait for the partitions of the
	// records set aside, with a cause: its transaction is being aborted.
	stopAppend context.CancelCauseFunc
	// memoryWait is set while the append of round[roundPos] waits for its
	// batch's memory (waitsForMemory), which a Flush from a callback does
	// not wait for (await).
	memoryWait bool
}

// next is the oldest record of wt without an outcome, if any: those set
// aside come from earlier in the round, or from an earlier round.
func (wt *waitingTopic) next() (heldRecord, bool) {
	if len(wt.aside) > 0 {
		return wt.aside[0], true
	}
	if wt.roundPos < len(wt.round) {
		return wt.round[wt.roundPos], true
	}
	if len(wt.records) > 0 {
		return wt.records[0], true
	}
	return heldRecord{}, false
}

type heldRecord struct {
	rec   Record
	tsMs  int64
	cb    receiver
	size  int
	since time.Time // when Produce took it: its MaxBlock and DeliveryTimeout start here
	seq   uint64
	// txn is the transaction Produce admitted it to (txn.Manager.Generation),
	// which it must enter again to be appended.
	txn uint64
	// refused is its topic as cached when it was held, if refused then:
	// only a later answer's refusal fails it (metadata.Topic.RefusedSince),
	// since access may have been granted in between.
	refused *metadata.Topic
}

// heldFailure is a held record's failure on its way to the delivery
// goroutine; the record stops counting as held once its callback has run,
// so that Flush waits for that too.
type heldFailure struct {
	w   *held
	h   heldRecord
	err error
}

func (w *held) init(p *Producer) {
	w.p = p
	w.reserveCap = int(p.cfg.BufferMemory) - p.cfg.BatchSize
	w.topics = make(map[string]*waitingTopic)
	w.appendCtx, w.cancelAppendCtx = context.WithCancel(p.ctx)
}

// holds reports whether records of topic that a record, seeing the topic
// with partitions partitions, might land beside are waiting: it must wait
// behind them to keep their order. Every record asks, and nearly always
// nothing is held: that check alone is small enough to inline into
// Produce, the lookup is not.
func (w *held) holds(topic string, partitions int) bool {
	return w.count.Load() != 0 && w.holdsTopic(topic, partitions)
}

// holdsTopic is holds' lookup, once some records are waiting. Records
// held only for partitions at or past partitions wait for partitions the
// record cannot go to: whatever it names or its partitioner picks is
// below them, or it waits too.
func (w *held) holdsTopic(topic string, partitions int) bool {
	wt, ok := w.waiting.Load(topic)
	return ok && int(wt.(*waitingTopic).waitsFrom.Load()) < partitions
}

// want starts holding records of topic, of which none are held; w.mu must
// be held. Until drop, the cluster layer keeps asking for its metadata.
func (w *held) want(topic string) *waitingTopic {
	wt := &waitingTopic{unwant: w.p.cluster.Want(topic)}
	wt.waitsFrom.Store(math.MaxInt32) // lowered by the records held
	w.topics[topic] = wt
	w.waiting.Store(topic, wt)
	return wt
}

// drop forgets a topic's held records; w.mu must be held.
func (w *held) drop(topic string) {
	if wt := w.topics[topic]; wt != nil {
		wt.unwant()
		if wt.unwantAside != nil {
			wt.unwantAside()
		}
		delete(w.topics, topic)
		w.waiting.Delete(topic)
	}
}

// limit is how long a record may wait for metadata: MaxBlock, or the
// DeliveryTimeout if that is shorter, since its clock runs too.
func (p *Producer) heldLimit() time.Duration { return min(p.cfg.MaxBlock, p.cfg.DeliveryTimeout) }

// hold keeps a copy of r until the metadata it needs arrives, or, for a
// record that has it, until the records of its topic held before it are
// appended. goesTo is the lowest partition it may go to: the one it names,
// known topic or not (a topic that turns out to have fewer partitions
// leaves it waiting for its own), else 0, since the partitioner places it.
// Like every way out of Produce, it ends the record's admission to the
// transaction (adm.exit).
func (p *Producer) hold(ctx context.Context, adm *admission, r *Record, tsMs int64, cb receiver, goesTo int32) {
	size := record.BatchHeaderSize + record.RecordSize(0, 0, r.Key, r.Value, r.Headers)
	if err := p.reserveHeld(ctx, size); err != nil {
		p.refuse(adm, cb, r, &PartitionError{Topic: r.Topic, Partition: -1, Err: p.memoryErr(err, true)})
		return
	}
	h := heldRecord{rec: copyRecord(r), tsMs: tsMs, cb: cb, size: size}
	if p.txn != nil {
		h.txn = p.txn.Generation()
	}
	w := &p.held
	w.mu.Lock()
	if w.closed {
		// Close has failed the held records already; this one raced it.
		w.mu.Unlock()
		p.unreserveHeld(size)
		adm.exit()
		p.reject(cb, r, &PartitionError{Topic: r.Topic, Partition: -1, Err: ErrClosed})
		return
	}
	// Taken together, seq and since put a topic's records in the order of
	// their deadlines: expire looks at the oldest only, and a drain that
	// bounds each record's waits by its own deadline bounds those of the
	// records behind it by theirs.
	w.seq++
	h.seq, h.since = w.seq, p.cfg.clock.Now()
	wt := w.topics[r.Topic]
	if wt == nil {
		wt = w.want(r.Topic)
	}
	if goesTo < wt.waitsFrom.Load() {
		wt.waitsFrom.Store(goesTo)
	}
	// The count Produce saw, or a later one: looked up here rather than
	// passed by Produce, whose frame the extra argument took from 304 bytes
	// to 312, on the stack every record's way in touches (PERFORMANCE.md,
	// "Synchronous senders cost more per record").
	t := p.cluster.Snapshot().Peek(r.Topic)
	if t != nil {
		wt.sawPartitions(len(t.Partitions))
	}
	if t.Refused() {
		h.refused, wt.lastErr = t, t.Err
	}
	wt.records = append(wt.records, h)
	w.count.Add(1)
	// With a partition for it in the metadata, the record waits only for
	// its turn, behind its topic's records. If their drain ended while the
	// record waited for memory (reserveHeld), no metadata update is due to
	// start another (release): one starts here. Asking for a refresh
	// instead, the record waited for its pacing (RetryBackoff), and so, in
	// turn, did each record of the topic held behind it while memory was
	// short. A drain under way takes the record in a later round; the
	// refresh asked for ends its wait for metadata for the records it set
	// aside (awaitAside), which a record held meanwhile does not end.
	started := !wt.draining && h.fits(t)
	if started {
		w.startDrain(r.Topic, wt)
	}
	w.mu.Unlock()
	adm.exit() // held with its transaction's generation (EnterHeld)
	if !started {
		p.cluster.RequestRefresh("metadata unknown for " + r.Topic)
	}
}

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
		wt := w.topics[topic]
		if wt == nil || w.closed || (len(wt.records) == 0 && len(wt.aside) == 0) {
			var left []heldRecord
			if wt != nil {
				left = wt.records
			}
			w.fail(left...)
			w.drop(topic)
			w.left.Notify()
			w.mu.Unlock()
			for _, h := range left {
				p.failHeld(h, ErrClosed)
			}
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
		case w.waitsAside(&h, t):
			w.setAsideRecord(wt, h)
			wt.round[wt.roundPos] = heldRecord{}
			wt.roundPos++
			w.mu.Unlock()
			continue
		case len(wt.aside) > 0 && wt.asideCame(t):
			wt.round, wt.roundPos = slices.Concat(wt.takeAside(), wt.round[wt.roundPos:]), 0
			w.mu.Unlock()
			continue
		case (t == nil || len(t.Partitions) == 0) && !t.RefusedSince(h.refused) && w.mayWait(&h):
			// A lagging broker called the topic unknown since the drain
			// began. The record waits for the topic's partitions, not, as
			// in appendHeld, for the one it names: once they come, it is
			// set aside if they lack it, and the round goes on.
			p.awaitMetadata(wt, &h, changed)
			continue
		}
		ctx := w.startAppend(wt, &h)
		partitions := wt.partitions
		w.mu.Unlock()

		appended := p.appendHeld(ctx, wt, snap, &h, partitions)

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

// waitsAside reports whether h, of a round, is to be set aside: t has
// partitions, not the one h names, and h may wait for it still. w.mu must
// be held.
func (w *held) waitsAside(h *heldRecord, t *metadata.Topic) bool {
	if !h.rec.ExplicitPartition || t == nil || len(t.Partitions) == 0 || int(h.rec.Partition) < len(t.Partitions) {
		return false
	}
	return w.mayWait(h)
}

// mayWait reports whether h, of a round, may wait for metadata still: its
// limit has not passed, nor has Close or the abort of its transaction
// come, which would leave it waiting with no one to fail it. Otherwise its
// append fails it. w.mu must be held.
func (w *held) mayWait(h *heldRecord) bool {
	p := w.p
	return !w.closed && p.ctx.Err() == nil && h.seq > w.abortedThrough &&
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

// sawPartitions notes partitions, the topic's partition count in metadata
// the producer looked at, unless it is 0: a lagging broker's "unknown"
// does not unmake the partitions the producer saw. w.mu must be held.
func (wt *waitingTopic) sawPartitions(partitions int) {
	if partitions > 0 {
		wt.partitions = partitions
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

// startAppend makes the context of h's append, the record of wt's round a
// drain is taking, or of the drain's wait for h, the oldest record set
// aside, which abortTransaction ends. A record held before an
// abort began belongs to the aborted transaction: its append ends at once.
// w.mu must be held.
func (w *held) startAppend(wt *waitingTopic, h *heldRecord) context.Context {
	ctx, stop := context.WithCancelCause(w.p.ctx)
	wt.stopAppend = stop
	if h.seq <= w.abortedThrough {
		stop(ErrTransactionAborted)
	}
	return ctx
}

// endAppend ends what startAppend began. w.mu must be held.
func (w *held) endAppend(wt *waitingTopic) {
	wt.stopAppend(nil)
	wt.stopAppend = nil
	wt.memoryWait = false
}

// waitsForMemory notes that the append of wt's round[roundPos] waits for
// its batch's memory, and tells the Flushes waiting for it (await).
func (w *held) waitsForMemory(wt *waitingTopic) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt.memoryWait = true
	w.left.Notify()
}

// appendHeld appends h, the record of wt's round being appended, whose
// topic's metadata came, first waiting for a partition it can go to if the
// metadata lacks one (the partition it names, or any, since a lagging
// broker may have called the topic unknown after its drain began); a
// failure goes to the delivery goroutine. ctx ends with the producer, or
// with the abort of the record's transaction. snap is the metadata that
// came; the batch's leader is looked up in the metadata of the moment
// (appendTo); partitions is the topic's partition count the drain last saw
// (waitingTopic.partitions). It reports whether the record was appended.
func (p *Producer) appendHeld(ctx context.Context, wt *waitingTopic, snap *metadata.Snapshot, h *heldRecord, partitions int) bool {
	t := snap.Topic(h.rec.Topic)
	if !h.fits(t) && !t.RefusedSince(h.refused) && ctx.Err() == nil {
		t = p.awaitPartition(ctx, h)
	}
	var err error
	switch {
	case !h.fits(t) && !t.RefusedSince(h.refused) && p.ctx.Err() != nil:
		// Close ended the wait: what it leaves fails with ErrClosed, not
		// as if the record's limit had passed.
		err = fmt.Errorf("%w: while the record waited for %s", ErrClosed, h.wanted())
	case errors.Is(context.Cause(ctx), ErrTransactionAborted):
		// The abort of its transaction ended it.
		err = fmt.Errorf("%w: before the record, held for %s, was appended", context.Cause(ctx), h.wanted())
	case t != nil && len(t.Partitions) > 0:
		if err = p.tooLate(h, len(t.Partitions)); err == nil {
			err = p.appendHeldTo(ctx, wt, t, h)
		}
	case t.RefusedSince(h.refused):
		err = t.Err
	case t != nil:
		err = p.unknownTooLong(h, partitions, t.Err)
	default:
		err = p.unknownTooLong(h, partitions, nil)
	}
	if err != nil {
		err = p.endedByClose(err)
		// Counted as failing before drainHeld moves past it, so that a
		// Flush sees it one way or the other all along.
		p.held.mu.Lock()
		p.held.fail(*h)
		p.held.mu.Unlock()
		p.held.deliverFailure(*h, err)
		return false
	}
	return true
}

// appendHeldTo appends h, the record of wt's round being appended, to t,
// within its transaction if it has one, where a panic in the partitioner
// fails h or, after its append, is logged (placeHeld, appendedHeld),
// instead of ending the process. The append's wait for memory ends with
// the record's DeliveryTimeout (accumulator.Record.Since), or when ctx
// ends (see appendHeld); after a Close from a callback ended such waits,
// it does not begin. While it lasts, wt says so (waitsForMemory).
func (p *Producer) appendHeldTo(ctx context.Context, wt *waitingTopic, t *metadata.Topic, h *heldRecord) error {
	if p.txn != nil {
		// Counted until appended, so that an abort, which ends the
		// transaction's appends, does not end the transaction before it.
		if err := p.txn.EnterHeld(h.txn); err != nil {
			return err
		}
		defer p.txn.ExitProduce()
	}
	wait, noWait := p.held.appendWait()
	wait, cancel := context.WithCancelCause(wait)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	wait = bufferpool.WithOnWait(wait, func() { p.held.waitsForMemory(wt) })
	placed, err := p.placeHeld(t, &h.rec)
	if err != nil {
		return err
	}
	ar := accumulator.Record{
		Data:     record.Data{TimestampMs: h.tsMs, Key: h.rec.Key, Value: h.rec.Value, Headers: h.rec.Headers},
		Callback: h.cb, Since: h.since, NoWait: noWait,
	}
	err = p.appendTo(wait, t, &placed, &ar)
	if err != nil && errors.Is(context.Cause(ctx), ErrTransactionAborted) && !errors.Is(err, ErrTransactionAborted) {
		err = fmt.Errorf("%w: while the record waited for its batch's memory: %w", ErrTransactionAborted, err)
	}
	return err
}

// endedByClose makes the error of a held record whose wait for memory
// Close ended one that matches ErrClosed, keeping how the wait ended.
func (p *Producer) endedByClose(err error) error {
	switch {
	case errors.Is(err, ErrClosed):
		return err
	case p.ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case p.held.noWait.Load() && (errors.Is(err, ErrBufferFull) || errors.Is(err, context.Canceled)):
		return fmt.Errorf("%w: called from a callback, Close ended the record's wait for buffer memory, "+
			"which only the callbacks behind that one give back: %w", ErrClosed, err)
	}
	return err
}

// tooLate is the error of a held record whose DeliveryTimeout ended before
// its turn to be appended came: it waited for its partition, or behind
// records of its topic that waited for theirs or for memory. Appended, it
// would bring its batch's deadline forward to one already past, and the
// records appended after it would fail with it.
// partitions is the topic's partition count.
func (p *Producer) tooLate(h *heldRecord, partitions int) error {
	if p.cfg.clock.Now().Before(h.since.Add(p.cfg.DeliveryTimeout)) {
		return nil
	}
	err := fmt.Errorf("%w: not appended within DeliveryTimeout (%v)", ErrDeliveryTimeout, p.cfg.DeliveryTimeout)
	if h.rec.ExplicitPartition && int(h.rec.Partition) >= partitions {
		err = fmt.Errorf("%w: %w: partition %d does not exist, the topic has %d", err, ErrInvalidRecord, h.rec.Partition, partitions)
	}
	return err
}

// fits reports whether t has a partition for h: the one it names, or any.
func (h *heldRecord) fits(t *metadata.Topic) bool {
	if t == nil || len(t.Partitions) == 0 {
		return false
	}
	return !h.rec.ExplicitPartition || int(h.rec.Partition) < len(t.Partitions)
}

// wanted says what metadata h waits for: its topic's partitions, or the
// one it names.
func (h *heldRecord) wanted() string {
	if h.rec.ExplicitPartition {
		return fmt.Sprintf("partition %d of %s", h.rec.Partition, h.rec.Topic)
	}
	return "the partitions of " + h.rec.Topic
}

// awaitPartition waits, while the record may wait, for metadata that has a
// partition for it: a partition just added to a topic reaches this
// producer with a metadata refresh, as the Java client's send waits for a
// partition it does not know yet; so do the partitions of a topic that a
// lagging broker called unknown. The topic is wanted while its records
// drain, so the metadata loop polls for it meanwhile, and for its
// partition while wanted too: a refresh is asked for once, not after every
// update, which made the loop refresh every RetryBackoff.
func (p *Producer) awaitPartition(ctx context.Context, h *heldRecord) *metadata.Topic {
	timer := p.cfg.clock.NewTimerAt(h.since.Add(p.heldLimit()))
	defer timer.Stop()
	if h.rec.ExplicitPartition {
		defer p.cluster.WantPartition(h.rec.Topic, h.rec.Partition)()
	}
	asked := false
	for {
		updated := p.cluster.Changed()
		t := p.cluster.Snapshot().Topic(h.rec.Topic)
		if h.fits(t) || t.RefusedSince(h.refused) {
			return t
		}
		if !asked {
			p.cluster.RequestRefresh(h.wanted() + " wanted")
			asked = true
		}
		select {
		case <-updated:
		case <-timer.C():
			return t
		case <-ctx.Done():
			return t
		}
	}
}

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
	return p.heldTooLong(h.rec.Topic, lastErr)
}

// lackedPartition is the error of h, whose limit passed while its topic,
// with partitions partitions, lacked the one it names.
func (p *Producer) lackedPartition(h *heldRecord, partitions int) error {
	if err := p.tooLate(h, partitions); err != nil {
		return err
	}
	return noSuchPartition(&h.rec, h.rec.Partition, partitions)
}

// heldTooLong is the error of a record that waited its limit for its
// topic's partitions; lastErr is the topic's error in the last metadata,
// if any.
func (p *Producer) heldTooLong(topic string, lastErr error) error {
	err := fmt.Errorf("%w %q: no metadata within MaxBlock (%v)", ErrUnknownTopic, topic, p.cfg.MaxBlock)
	if limit := p.heldLimit(); limit < p.cfg.MaxBlock {
		err = fmt.Errorf("%w: %w %q: no metadata within DeliveryTimeout (%v)", ErrDeliveryTimeout, ErrUnknownTopic, topic, limit)
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

// fail counts records, just taken off the lists to fail, as failing: from
// then on a Flush begun after they were held waits for their callbacks, or,
// from a callback, for their failures to be booked. Counted under the same
// lock that takes them off, they are never out of a Flush's sight. w.mu
// must be held.
func (w *held) fail(records ...heldRecord) {
	w.failing += len(records)
	w.unbooked += len(records)
	for _, f := range w.flushes {
		for i := range records {
			if records[i].seq <= f.through {
				f.failing++
				f.unbooked++
			}
		}
	}
}

// booked counts the failure of the record held seq-th as booked (see
// deliverFailure). w.mu must be held.
func (w *held) booked(seq uint64) {
	w.unbooked--
	for _, f := range w.flushes {
		if seq <= f.through {
			f.unbooked--
		}
	}
}

// delivered counts the failure of the record held seq-th as delivered:
// its callback has run. w.mu must be held.
func (w *held) delivered(seq uint64) {
	w.failing--
	for _, f := range w.flushes {
		if seq <= f.through {
			f.failing--
		}
	}
}

// failHeld gives a held record, counted by fail, its error and its memory
// back.
func (p *Producer) failHeld(h heldRecord, err error) {
	p.unreserveHeld(h.size)
	p.held.deliverFailure(h, err)
}

// failUnpooled gives a record of a drain round, or set aside, counted by
// fail, its error and its budget back: its pool memory went back when its
// round began.
func (p *Producer) failUnpooled(h heldRecord, err error) {
	w := &p.held
	w.mu.Lock()
	w.unbook(h.size)
	w.mu.Unlock()
	w.deliverFailure(h, err)
}

// deliverFailure books the failure of a record counted by fail with the
// transaction, now that it is decided, and hands it to the delivery
// goroutine: a commit called from a callback, which waits for no outcome
// queued behind that callback, must still see it. The record never joined
// a batch, so the transaction books it as a refusal: no sequence is in
// doubt.
func (w *held) deliverFailure(h heldRecord, err error) {
	w.p.noteTxnRejection(err)
	w.p.acc.Deliver(&heldFailure{w: w, h: h, err: err}, accumulator.Result{})
	w.mu.Lock()
	w.booked(h.seq)
	w.left.Notify()
	w.mu.Unlock()
}

// deliver runs a failed record's callback on the delivery goroutine.
func (f *heldFailure) deliver() {
	err := f.err
	if pe := (*PartitionError)(nil); !errors.As(err, &pe) {
		err = &PartitionError{Topic: f.h.rec.Topic, Partition: -1, Err: err}
	}
	f.w.p.reject(f.h.cb, &f.h.rec, err)
	w := f.w
	w.mu.Lock()
	w.delivered(f.h.seq)
	w.count.Add(-1)
	w.left.Notify()
	w.mu.Unlock()
}

// failAll fails every held record and every later one; Close uses it. Of a
// drain round under way, the record being appended is left to its
// goroutine, which then sees closed and stops; the round's later records,
// and those it set aside, fail here (their pool memory was given back when
// their round began).
func (w *held) failAll(err error) {
	w.mu.Lock()
	w.closed = true
	holding, released, aside := w.takeAll()
	w.mu.Unlock()
	// Closed, w starts no drain (hold, release): the count only falls.
	w.drained = make(chan struct{})
	go func() {
		w.drains.Wait()
		close(w.drained)
	}()
	w.failTaken(holding, released, aside, err)
}

// abortTransaction fails every held record with err (ErrTransactionAborted):
// its transaction is being aborted (txn.Config.FailHeld). Unlike failAll, it
// ends the waits of the records being appended, for their partition or
// their batch's memory, and those of records held before it that a drain
// takes later: the abort waits for them, and appended after it, they would
// go into the next transaction. Records held after it belong to the next.
func (w *held) abortTransaction(err error) {
	w.mu.Lock()
	holding, released, aside := w.takeAll()
	w.abortedThrough = w.seq
	for _, wt := range w.topics {
		if wt.stopAppend != nil {
			wt.stopAppend(err)
		}
	}
	w.mu.Unlock()
	w.failTaken(holding, released, aside, err)
}

// takeAll takes every held record off the lists to fail them, but the
// ones being appended, which their drains finish; it forgets topics no
// drain appends. holding: those still reserving memory; released: those
// of drain rounds, whose pool memory went back when the round began, their
// budget still booked; aside: those the rounds set aside, likewise. w.mu
// must be held.
func (w *held) takeAll() (holding, released, aside []heldRecord) {
	for name, wt := range w.topics {
		holding = append(holding, wt.records...)
		wt.records = nil
		aside = append(aside, wt.takeAside()...)
		if wt.roundPos+1 < len(wt.round) {
			released = append(released, wt.round[wt.roundPos+1:]...)
			wt.round = wt.round[:wt.roundPos+1]
		}
		if !wt.draining {
			w.drop(name)
		}
	}
	w.fail(holding...)
	w.fail(released...)
	w.fail(aside...)
	return holding, released, aside
}

// failTaken fails the records takeAll took with err; those set aside say
// which partition they waited for, as a record whose wait for it ended
// does (appendHeld).
func (w *held) failTaken(holding, released, aside []heldRecord, err error) {
	for _, h := range holding {
		w.p.failHeld(h, err)
	}
	for _, h := range released {
		w.p.failUnpooled(h, err)
	}
	for _, h := range aside {
		w.p.failUnpooled(h, fmt.Errorf("%w: while the record waited for %s", err, h.wanted()))
	}
}

// heldFlush is a Flush waiting for the records held before it began, the
// through-th and those before (await), and for the failures among them:
// failing counts those whose callbacks have not run yet, unbooked those
// not booked yet (fail). The failures of records held after it began are
// no concern of it: counted in, they held a Flush up for as long as
// records kept failing, which a steady stream of records to a missing
// topic, each failing at its MaxBlock, never stops doing.
type heldFlush struct {
	through           uint64
	failing, unbooked int
}

// await lets a flush wait for the records held before it began, until
// each is appended or its failure delivered. Short of flushToCallbacks, a
// failure is waited for only until it is booked (the transaction told, the
// callback queued): its callback may wait for the caller. With
// flushToReachableOutcomes (a Flush from a callback), a topic whose drain
// waits for a batch's memory is not waited for (see flushTo).
func (w *held) await(ctx context.Context, to flushTo) error {
	f := w.beginFlush()
	defer w.endFlush(f)
	for {
		w.mu.Lock()
		changed := w.left.C()
		waiting := f.unbooked > 0 || (f.failing > 0 && to == flushToCallbacks) ||
			w.holdsThrough(f.through, to == flushToReachableOutcomes)
		w.mu.Unlock()
		if !waiting {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// beginFlush starts counting the failures of the records held so far for a
// Flush: every record failing now was held before it began.
func (w *held) beginFlush() *heldFlush {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := &heldFlush{through: w.seq, failing: w.failing, unbooked: w.unbooked}
	w.flushes = append(w.flushes, f)
	return f
}

// endFlush stops counting for f.
func (w *held) endFlush(f *heldFlush) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes = slices.DeleteFunc(w.flushes, func(g *heldFlush) bool { return g == f })
}

// holdsThrough reports whether a record held through-th or before is still
// held: one of a topic's, and the oldest are first (waitingTopic.next).
// pastMemoryWaits leaves out the topics whose drain waits for a batch's
// memory: every record of such a topic left waits for that one. w.mu must
// be held.
func (w *held) holdsThrough(through uint64, pastMemoryWaits bool) bool {
	for _, wt := range w.topics {
		if pastMemoryWaits && wt.memoryWait {
			continue
		}
		if h, ok := wt.next(); ok && h.seq <= through {
			return true
		}
	}
	return false
}

// copyRecord keeps a held record independent of the caller's buffers.
func copyRecord(r *Record) Record {
	c := *r
	c.Context = nil // the hooks have had it: a *tracked keeps it if needed
	c.Key = cloneBytes(r.Key)
	c.Value = cloneBytes(r.Value)
	if r.Headers != nil {
		c.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: cloneBytes(h.Value)}
		}
	}
	return c
}

// cloneBytes copies b, keeping nil and empty distinct.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
