package producer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol/kerr"
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
	count atomic.Int64 // records held, or failed and not yet delivered; lets Produce skip the lock when 0

	mu     sync.Mutex
	closed bool // set by failAll: nothing more is held or released
	// reserved is the memory held records reserve, and reserveCap its
	// bound: BufferMemory less one batch. Were held records free to fill the
	// pool, the goroutine appending them once metadata came would wait for a
	// batch buffer that only they could free: they would starve themselves
	// until MaxBlock. Below the bound, a batch always fits beside them.
	reserved   int
	reserveCap int
	budget     notify.Notifier // reserved memory was given back
	drains     sync.WaitGroup
	topics     map[string]*waitingTopic
	seq        uint64          // order of holding, for Flush
	failing    int             // failed records whose callbacks have not run yet
	unbooked   int             // failed records the transaction and the delivery goroutine have yet to be told of
	left       notify.Notifier // a record was appended, or its failure booked or delivered
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
	lastErr  error  // the topic's error in the last metadata, if any
	unwant   func() // ends the cluster layer's asking for its metadata
	// waitsFrom is the lowest partition a record held here may go to (see
	// hold). A later record of the topic must queue behind them only if it
	// could land on such a partition, one below the topic's partition
	// count: a record that waits for a partition the topic does not have
	// yet holds up no other partition's records. It only falls while the
	// topic has records held, which keeps it a bound however they leave.
	waitsFrom int32
	// stopAppend ends the waits of round[roundPos] (for its partition, or
	// its batch's memory) with a cause: its transaction is being aborted.
	stopAppend context.CancelCauseFunc
}

// next is the oldest record of wt without an outcome, if any.
func (wt *waitingTopic) next() (heldRecord, bool) {
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
// Produce, the lookup under the lock is not.
func (w *held) holds(topic string, partitions int) bool {
	return w.count.Load() != 0 && w.holdsTopic(topic, partitions)
}

// holdsTopic is holds' lookup, once some records are waiting. Records
// held only for partitions at or past partitions wait for partitions the
// record cannot go to: whatever it names or its partitioner picks is
// below them, or it waits too.
func (w *held) holdsTopic(topic string, partitions int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt := w.topics[topic]
	return wt != nil && int(wt.waitsFrom) < partitions
}

// drop forgets a topic's held records; w.mu must be held. While a topic
// has any, the cluster layer keeps asking for its metadata.
func (w *held) drop(topic string) {
	if wt := w.topics[topic]; wt != nil {
		wt.unwant()
		delete(w.topics, topic)
	}
}

// limit is how long a record may wait for metadata: MaxBlock, or the
// DeliveryTimeout if that is shorter, since its clock runs too.
func (p *Producer) heldLimit() time.Duration { return min(p.cfg.MaxBlock, p.cfg.DeliveryTimeout) }

// hold keeps a copy of r until the metadata it needs arrives. goesTo is the
// lowest partition it may go to: the one it names if its topic is known,
// else 0, since the partitioner places it or its topic may turn out to
// have fewer partitions than it names.
func (p *Producer) hold(ctx context.Context, r *Record, tsMs int64, cb receiver, goesTo int32) {
	size := record.BatchHeaderSize + record.RecordSize(0, 0, r.Key, r.Value, r.Headers)
	if err := p.reserveHeld(ctx, size); err != nil {
		err := &PartitionError{Topic: r.Topic, Partition: -1, Err: p.memoryErr(err)}
		p.noteTxnRejection(err)
		reject(cb, r, err)
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
		reject(cb, r, &PartitionError{Topic: r.Topic, Partition: -1, Err: ErrClosed})
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
		wt = &waitingTopic{unwant: p.cluster.Want(r.Topic), waitsFrom: math.MaxInt32}
		w.topics[r.Topic] = wt
	}
	wt.waitsFrom = min(wt.waitsFrom, goesTo)
	wt.records = append(wt.records, h)
	w.count.Add(1)
	w.mu.Unlock()
	p.cluster.RequestRefresh("metadata unknown for " + r.Topic)
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
			wt.draining = true
			w.drains.Add(1)
			go func() {
				defer w.drains.Done()
				p.drainHeld(name)
			}()
		case refused(t):
			w.fail(len(wt.records))
			for _, h := range wt.records {
				doomed = append(doomed, h)
				doomedErr = append(doomedErr, t.Err)
			}
			w.drop(name)
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
// every record held so far and gives back all their reserved memory at
// once, before appending any. Giving it back one record at a time would
// deadlock when held records fill BufferMemory: the first append would wait
// for a batch buffer that only appending the others could free.
func (p *Producer) drainHeld(topic string) {
	w := &p.held
	for {
		w.mu.Lock()
		wt := w.topics[topic]
		if wt == nil || len(wt.records) == 0 || w.closed {
			var left []heldRecord
			if wt != nil {
				left = wt.records
			}
			w.fail(len(left))
			w.drop(topic)
			w.left.Notify()
			w.mu.Unlock()
			for _, h := range left {
				p.failHeld(h, ErrClosed)
			}
			return
		}
		wt.round, wt.roundPos = wt.records, 0
		wt.records = nil
		reserved := 0
		for _, h := range wt.round {
			reserved += h.size
		}
		w.mu.Unlock()
		p.unreserveHeld(reserved)

		for {
			w.mu.Lock()
			if wt.roundPos >= len(wt.round) {
				wt.round, wt.roundPos = nil, 0
				w.mu.Unlock()
				break
			}
			h := wt.round[wt.roundPos]
			ctx := w.startAppend(wt, &h)
			w.mu.Unlock()

			appended := p.appendHeld(ctx, &h)

			w.mu.Lock()
			wt.stopAppend(nil)
			wt.stopAppend = nil
			wt.round[wt.roundPos] = heldRecord{}
			wt.roundPos++
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
}

// startAppend makes the context of h's append, the record of wt's round a
// drain is taking, which abortTransaction ends. A record held before an
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

// appendHeld appends a record whose topic's metadata came, first waiting
// for a partition it can go to if the metadata lacks one (the partition it
// names, or any, since a lagging broker may have called the topic unknown
// after its drain began); a failure goes to the delivery goroutine. ctx
// ends with the producer, or with the abort of the record's transaction.
// It reports whether the record was appended.
func (p *Producer) appendHeld(ctx context.Context, h *heldRecord) bool {
	snap := p.cluster.Snapshot()
	t := snap.Topic(h.rec.Topic)
	if !h.fits(t) && !refused(t) && ctx.Err() == nil {
		snap, t = p.awaitPartition(ctx, h)
	}
	var err error
	switch {
	case !h.fits(t) && !refused(t) && p.ctx.Err() != nil:
		// Close ended the wait: what it leaves fails with ErrClosed, not
		// as if the record's limit had passed.
		err = fmt.Errorf("%w: while the record waited for %s", ErrClosed, h.wanted())
	case errors.Is(context.Cause(ctx), ErrTransactionAborted):
		// The abort of its transaction ended it.
		err = fmt.Errorf("%w: before the record, held for %s, was appended", context.Cause(ctx), h.wanted())
	case t != nil && len(t.Partitions) > 0:
		if err = p.tooLate(h, t); err == nil {
			err = p.appendHeldTo(ctx, snap, t, h)
		}
	case refused(t):
		err = t.Err
	case t != nil:
		err = p.heldTooLong(h.rec.Topic, t.Err)
	default:
		err = p.heldTooLong(h.rec.Topic, nil)
	}
	if err != nil {
		err = p.endedByClose(err)
		// Counted as failing before drainHeld moves past it, so that a
		// Flush sees it one way or the other all along.
		p.held.mu.Lock()
		p.held.fail(1)
		p.held.mu.Unlock()
		p.held.deliverFailure(*h, err)
		return false
	}
	return true
}

// appendHeldTo appends h to t, within its transaction if it has one. The
// append's wait for memory ends with the record's DeliveryTimeout
// (accumulator.Record.Since), or when ctx ends (see appendHeld); after a
// Close from a callback ended such waits, it does not begin.
func (p *Producer) appendHeldTo(ctx context.Context, snap *metadata.Snapshot, t *metadata.Topic, h *heldRecord) error {
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
	ar := accumulator.Record{
		Data:     record.Data{TimestampMs: h.tsMs, Key: h.rec.Key, Value: h.rec.Value, Headers: h.rec.Headers},
		Callback: h.cb, Since: h.since, NoWait: noWait,
	}
	err := p.appendTo(wait, snap, t, &h.rec, &ar)
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
func (p *Producer) tooLate(h *heldRecord, t *metadata.Topic) error {
	if p.cfg.clock.Now().Before(h.since.Add(p.cfg.DeliveryTimeout)) {
		return nil
	}
	err := fmt.Errorf("%w: not appended within DeliveryTimeout (%v)", ErrDeliveryTimeout, p.cfg.DeliveryTimeout)
	if h.rec.ExplicitPartition && int(h.rec.Partition) >= len(t.Partitions) {
		err = fmt.Errorf("%w: %w: partition %d does not exist, the topic has %d", err, ErrInvalidRecord, h.rec.Partition, len(t.Partitions))
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

// refused reports whether the metadata refuses t's records for good: an
// invalid name or a denied authorization will not heal, as a lagging
// broker's "unknown topic" or an election does.
func refused(t *metadata.Topic) bool {
	return t != nil && len(t.Partitions) == 0 && t.Err != nil && !kerr.IsRetriable(t.Err)
}

// awaitPartition waits, while the record may wait, for metadata that has a
// partition for it: a partition just added to a topic reaches this
// producer with a metadata refresh, as the Java client's send waits for a
// partition it does not know yet; so do the partitions of a topic that a
// lagging broker called unknown. The topic is wanted while its records
// drain, so the metadata loop polls for it meanwhile.
func (p *Producer) awaitPartition(ctx context.Context, h *heldRecord) (*metadata.Snapshot, *metadata.Topic) {
	clk := p.cfg.clock
	timer := clk.NewTimer(h.since.Add(p.heldLimit()).Sub(clk.Now()))
	defer timer.Stop()
	reason := h.wanted() + " wanted"
	for {
		updated := p.cluster.Changed()
		snap := p.cluster.Snapshot()
		t := snap.Topic(h.rec.Topic)
		if h.fits(t) || refused(t) {
			return snap, t
		}
		p.cluster.RequestRefresh(reason)
		select {
		case <-updated:
		case <-timer.C():
			return snap, t
		case <-ctx.Done():
			return snap, t
		}
	}
}

// expire fails records that have waited their limit for their topic, and
// reports how long until the next would.
func (w *held) expire(now time.Time) (next time.Duration) {
	next = time.Duration(1<<63 - 1)
	limit := w.p.heldLimit()
	type doomed struct {
		h       heldRecord
		lastErr error
	}
	var out []doomed
	w.mu.Lock()
	for name, wt := range w.topics {
		if wt.draining {
			// Its drain bounds each record's waits by the record's own
			// deadline, and the expiry loop hears of the record's batch
			// when it is appended (accumulator.EarlierDeadline).
			continue
		}
		for len(wt.records) > 0 {
			h := wt.records[0]
			if left := limit - now.Sub(h.since); left > 0 {
				next = min(next, left)
				break
			}
			out = append(out, doomed{h, wt.lastErr})
			wt.records = wt.records[1:]
			w.fail(1)
		}
		if len(wt.records) == 0 {
			w.drop(name)
		}
	}
	w.mu.Unlock()
	for _, d := range out {
		w.p.failHeld(d.h, w.p.heldTooLong(d.h.rec.Topic, d.lastErr))
	}
	return next
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
		err = fmt.Errorf("%w: %w", err, lastErr)
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

// fail counts n records, just taken off the lists to fail, as failing:
// from then on a Flush waits for their callbacks, or, from a callback, for
// their failures to be booked. Counted under the same lock that takes them
// off, they are never out of a Flush's sight. w.mu must be held.
func (w *held) fail(n int) {
	w.failing += n
	w.unbooked += n
}

// failHeld gives a held record, counted by fail, its error and its memory
// back.
func (p *Producer) failHeld(h heldRecord, err error) {
	p.unreserveHeld(h.size)
	p.held.deliverFailure(h, err)
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
	w.unbooked--
	w.left.Notify()
	w.mu.Unlock()
}

// deliver runs a failed record's callback on the delivery goroutine.
func (f *heldFailure) deliver() {
	err := f.err
	if pe := (*PartitionError)(nil); !errors.As(err, &pe) {
		err = &PartitionError{Topic: f.h.rec.Topic, Partition: -1, Err: err}
	}
	reject(f.h.cb, &f.h.rec, err)
	w := f.w
	w.mu.Lock()
	w.failing--
	w.count.Add(-1)
	w.left.Notify()
	w.mu.Unlock()
}

// failAll fails every held record and every later one; Close uses it. Of a
// drain round under way, the record being appended is left to its
// goroutine, which then sees closed and stops; the round's later records
// fail here (their memory was given back when the round began).
func (w *held) failAll(err error) {
	w.mu.Lock()
	w.closed = true
	holding, released := w.takeAll()
	w.mu.Unlock()
	w.failTaken(holding, released, err)
}

// abortTransaction fails every held record with err (ErrTransactionAborted):
// its transaction is being aborted (txn.Config.FailHeld). Unlike failAll, it
// ends the waits of the records being appended, for their partition or
// their batch's memory, and those of records held before it that a drain
// takes later: the abort waits for them, and appended after it, they would
// go into the next transaction. Records held after it belong to the next.
func (w *held) abortTransaction(err error) {
	w.mu.Lock()
	holding, released := w.takeAll()
	w.abortedThrough = w.seq
	for _, wt := range w.topics {
		if wt.stopAppend != nil {
			wt.stopAppend(err)
		}
	}
	w.mu.Unlock()
	w.failTaken(holding, released, err)
}

// takeAll takes every held record off the lists to fail them, but the
// ones being appended, which their drains finish; it forgets topics no
// drain appends. holding: those still reserving memory; released: those
// of drain rounds, whose memory went back when the round began. w.mu must
// be held.
func (w *held) takeAll() (holding, released []heldRecord) {
	for name, wt := range w.topics {
		holding = append(holding, wt.records...)
		wt.records = nil
		if wt.roundPos+1 < len(wt.round) {
			released = append(released, wt.round[wt.roundPos+1:]...)
			wt.round = wt.round[:wt.roundPos+1]
		}
		if !wt.draining {
			w.drop(name)
		}
	}
	w.fail(len(holding) + len(released))
	return holding, released
}

// failTaken fails the records takeAll took with err.
func (w *held) failTaken(holding, released []heldRecord, err error) {
	for _, h := range holding {
		w.p.failHeld(h, err)
	}
	for _, h := range released {
		w.deliverFailure(h, err)
	}
}

// mark and await let Flush wait for the records held before it began,
// until each is appended or its failure delivered. Failures are counted
// for the producer as a whole, so await also waits for those of records
// held after it began. With outcomesOnly (from inside a callback, say) a
// failure is waited for only until it is booked (the transaction told, the
// callback queued): its callback may wait for the caller.
func (w *held) mark() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

func (w *held) await(ctx context.Context, mark uint64, outcomesOnly bool) error {
	for {
		w.mu.Lock()
		changed := w.left.C()
		waiting := w.unbooked > 0 || (w.failing > 0 && !outcomesOnly)
		for _, wt := range w.topics {
			if h, ok := wt.next(); ok && h.seq <= mark {
				waiting = true
				break
			}
		}
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
