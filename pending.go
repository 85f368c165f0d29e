package producer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// pending holds records whose topic's metadata is not known yet, so that
// Produce never blocks on metadata (the blocking send on a missing topic is
// a long-standing kafka-python complaint). The records are copied, counted
// against BufferMemory, and partitioned in order once metadata arrives;
// after MaxBlock they fail with ErrUnknownTopic.
type pending struct {
	p     *Producer    // for the buffer pool and the callbacks
	count atomic.Int64 // records held; lets Produce skip the lock when 0

	mu     sync.Mutex
	closed bool // set by failAll: nothing more is held or released
	// held is the memory held records reserve, and holdCap its bound:
	// BufferMemory less one batch. Were held records free to fill the pool,
	// the goroutine appending them once metadata came would wait for a
	// batch buffer that only they could free: they would starve themselves
	// until MaxBlock. Below the bound, a batch always fits beside them.
	held    int
	holdCap int
	budget  notify.Notifier // held memory was given back
	drains  sync.WaitGroup
	topics  map[string]*waitingTopic
	seq     uint64          // order of holding, for Flush
	left    notify.Notifier // a record got its outcome or was appended
}

type waitingTopic struct {
	records  []heldRecord // oldest first, not yet taken by a drain round
	draining bool         // a goroutine is appending them
	// round is the records a drain round took, their memory already given
	// back; round[roundPos] is being appended, those after it wait.
	round    []heldRecord
	roundPos int
	lastErr  error // the topic's error in the last metadata, if any
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
	cb    Callback
	size  int
	since time.Time
	seq   uint64
}

func (w *pending) init(p *Producer) {
	w.p = p
	w.holdCap = int(p.cfg.BufferMemory) - p.cfg.BatchSize
	w.topics = make(map[string]*waitingTopic)
}

// holds reports whether records of topic are waiting: later records of the
// topic must wait behind them to keep their order.
func (w *pending) holds(topic string) bool {
	if w.count.Load() == 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.topics[topic] != nil
}

func (w *pending) waiting() int64 { return w.count.Load() }

func (w *pending) names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.topics))
}

// hold keeps a copy of r until its topic's metadata arrives.
func (p *Producer) hold(ctx context.Context, r *Record, tsMs int64, cb Callback) {
	size := record.BatchHeaderSize + record.RecordSize(0, 0, r.Key, r.Value, r.Headers)
	if err := p.reserveHeld(ctx, size); err != nil {
		cb(failed(r), &PartitionError{Topic: r.Topic, Partition: -1, Err: p.closing(err)})
		return
	}
	h := heldRecord{rec: copyRecord(r), tsMs: tsMs, cb: cb, size: size, since: p.cfg.clock.Now()}
	w := &p.pending
	w.mu.Lock()
	if w.closed {
		// Close has failed the held records already; this one raced it.
		w.mu.Unlock()
		p.unreserveHeld(size)
		cb(failed(r), &PartitionError{Topic: r.Topic, Partition: -1, Err: ErrClosed})
		return
	}
	w.seq++
	h.seq = w.seq
	wt := w.topics[r.Topic]
	if wt == nil {
		wt = &waitingTopic{}
		w.topics[r.Topic] = wt
	}
	wt.records = append(wt.records, h)
	w.count.Add(1)
	w.mu.Unlock()
	p.requestRefresh("metadata unknown for " + r.Topic)
}

// release starts appending the records of every topic the snapshot now
// knows, and fails at once those of topics that cannot be produced to.
func (w *pending) release(p *Producer, snap *metadata.Snapshot) {
	var doomed []heldRecord
	var doomedErr []error
	w.mu.Lock()
	for name, wt := range w.topics {
		t := snap.Topic(name)
		switch {
		case wt.draining || t == nil || w.closed:
		case len(t.Partitions) > 0:
			wt.draining = true
			w.drains.Add(1)
			go func() {
				defer w.drains.Done()
				p.drainHeld(name)
			}()
		case t.Err != nil && !kerr.IsRetriable(t.Err):
			// An invalid name or a denied authorization will not heal.
			for _, h := range wt.records {
				doomed = append(doomed, h)
				doomedErr = append(doomedErr, t.Err)
			}
			delete(w.topics, name)
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
	w := &p.pending
	for {
		w.mu.Lock()
		wt := w.topics[topic]
		if wt == nil || len(wt.records) == 0 || w.closed {
			var left []heldRecord
			if wt != nil {
				left = wt.records
			}
			delete(w.topics, topic)
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
			w.mu.Unlock()

			snap := p.cache.Snapshot()
			if t := snap.Topic(topic); t != nil && len(t.Partitions) > 0 {
				p.appendTo(p.ctx, snap, t, &h.rec, h.tsMs, h.cb)
			} else {
				// The topic vanished again between snapshots (deleted).
				h.cb(failed(&h.rec), &PartitionError{Topic: topic, Partition: -1, Err: fmt.Errorf("%w %q: it disappeared from metadata", ErrUnknownTopic, topic)})
			}

			w.mu.Lock()
			wt.round[wt.roundPos] = heldRecord{}
			wt.roundPos++
			w.count.Add(-1)
			w.left.Notify()
			w.mu.Unlock()
		}
	}
}

// expire fails records that have waited MaxBlock for their topic, and
// reports how long until the next would.
func (w *pending) expire(now time.Time, maxBlock time.Duration) (next time.Duration) {
	next = time.Duration(1<<63 - 1)
	type doomed struct {
		h       heldRecord
		lastErr error
	}
	var out []doomed
	w.mu.Lock()
	for name, wt := range w.topics {
		if wt.draining {
			continue
		}
		for len(wt.records) > 0 {
			h := wt.records[0]
			if left := maxBlock - now.Sub(h.since); left > 0 {
				next = min(next, left)
				break
			}
			out = append(out, doomed{h, wt.lastErr})
			wt.records = wt.records[1:]
		}
		if len(wt.records) == 0 {
			delete(w.topics, name)
		}
	}
	w.mu.Unlock()
	for _, d := range out {
		err := fmt.Errorf("%w %q: no metadata within MaxBlock (%v)", ErrUnknownTopic, d.h.rec.Topic, maxBlock)
		if d.lastErr != nil {
			err = fmt.Errorf("%w: %w", err, d.lastErr)
		}
		w.p.failHeld(d.h, err)
	}
	return next
}

// failHeld gives a held record its error and its memory back.
func (p *Producer) failHeld(h heldRecord, err error) {
	p.unreserveHeld(h.size)
	p.failReleased(h, err)
}

// failReleased gives its error to a held record whose memory is back.
func (p *Producer) failReleased(h heldRecord, err error) {
	h.cb(failed(&h.rec), &PartitionError{Topic: h.rec.Topic, Partition: -1, Err: err})
	w := &p.pending
	w.mu.Lock()
	w.count.Add(-1)
	w.left.Notify()
	w.mu.Unlock()
}

// failAll fails every held record and every later one; Close uses it. Of a
// drain round under way, the record being appended is left to its
// goroutine, which then sees closed and stops; the round's later records
// fail here (their memory was given back when the round began).
func (w *pending) failAll(err error) {
	w.mu.Lock()
	w.closed = true
	var held, released []heldRecord
	for name, wt := range w.topics {
		held = append(held, wt.records...)
		wt.records = nil
		if wt.roundPos+1 < len(wt.round) {
			released = append(released, wt.round[wt.roundPos+1:]...)
			wt.round = wt.round[:wt.roundPos+1]
		}
		if !wt.draining {
			delete(w.topics, name)
		}
	}
	w.mu.Unlock()
	for _, h := range held {
		w.p.failHeld(h, err)
	}
	for _, h := range released {
		w.p.failReleased(h, err)
	}
}

// mark and await let Flush wait for the records held before it began.
func (w *pending) mark() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seq
}

func (w *pending) await(ctx context.Context, mark uint64) error {
	for {
		w.mu.Lock()
		changed := w.left.C()
		waiting := false
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

// reserveHeld takes size bytes of buffer memory for a held record: first
// from the held records' budget, then from the pool, within MaxBlock in all.
func (p *Producer) reserveHeld(ctx context.Context, size int) error {
	w := &p.pending
	clk := p.cfg.clock
	deadline := clk.Now().Add(p.cfg.MaxBlock)
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w.mu.Lock()
		if w.held+size <= w.holdCap || w.held == 0 {
			// Alone, a record larger than the budget still gets its chance:
			// the pool bounds it.
			w.held += size
			w.mu.Unlock()
			break
		}
		wake := w.budget.C()
		w.mu.Unlock()
		if timer == nil {
			timer = clk.NewTimer(deadline.Sub(clk.Now()))
		}
		select {
		case <-wake:
		case <-timer.C():
			return fmt.Errorf("%w: %d bytes for a record waiting for metadata not available within %v "+
				"(records waiting for metadata may use BufferMemory less one batch, %d bytes)",
				ErrBufferFull, size, p.cfg.MaxBlock, w.holdCap)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := p.pool.Reserve(ctx, size, deadline.Sub(clk.Now())); err != nil {
		w.mu.Lock()
		w.held -= size
		w.mu.Unlock()
		w.budget.Notify()
		return err
	}
	return nil
}

// unreserveHeld gives held records' memory back to the pool and the budget.
func (p *Producer) unreserveHeld(size int) {
	p.pool.Release(size)
	w := &p.pending
	w.mu.Lock()
	w.held -= size
	w.mu.Unlock()
	w.budget.Notify()
}
