package producer

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/record"
)

// The records waiting for metadata: their state, and how Produce holds one
// (hold). What becomes of them is split by subject into the other held_*.go
// files, which share held.mu and the state declared here: the drain rounds,
// one record's append, their limits, their failures, Flush's wait for them,
// their share of memory and the partitioner's panics.

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
	// refusal is the refusal by every broker that failed the last metadata
	// refresh, nil once one succeeds, refusedThrough the seq of the last
	// record held when it came (failWaiting), and refusedIn the metadata
	// of that moment: a record of a drain round held by then, which would
	// wait for metadata, fails with it instead (refusalFor), as the
	// records waiting outside drains did, unless metadata came since.
	refusal        error
	refusedThrough uint64
	refusedIn      *metadata.Snapshot

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

// sawPartitions notes partitions, the topic's partition count in metadata
// the producer looked at, unless it is 0: a lagging broker's "unknown"
// does not unmake the partitions the producer saw. w.mu must be held.
func (wt *waitingTopic) sawPartitions(partitions int) {
	if partitions > 0 {
		wt.partitions = partitions
	}
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

// heldLimit is how long a record may wait for metadata: MaxBlock, or the
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
		p.refuse(adm, cb, r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: p.memoryErr(err, true)})
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
		p.reject(cb, r, &PartitionError{Topic: r.Topic, Partition: namedPartition(r), Err: ErrClosed})
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
