package accumulator

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/internal/ctxerr"
	"github.com/gokafka/producer/internal/notify"
)

// deliveries runs the callbacks of completed batches on a goroutine of its
// own, one record at a time, in the order the batches were completed, but
// for a batch acknowledged while one before it still awaited its outcome,
// which waits behind that one (Batch.behind): so, per partition, in offset
// order. User code thus never runs on a sender's
// goroutine: a callback that blocks, or calls Close, holds up the callbacks
// behind it and, since a batch's memory goes back to the pool only after its
// callbacks have run, eventually Produce, which waits for memory; but never a
// request, an answer, or a timeout. franz-go finishes its promises on a
// goroutine of its own for the same reason.
type deliveries struct {
	a     *Accumulator
	mu    sync.Mutex
	queue []delivery
	spare []delivery // the previous queue's backing array, reused
	stop  bool
	// stopped: the goroutine exited, told to stop. A delivery queued after
	// that (a Close that gave up waiting left a goroutine behind, which
	// still fails a record) starts another, so that it is not lost.
	stopped bool
	exited  notify.Notifier // stopped was set
	more    chan struct{}   // a delivery was queued, or stop set
	id      atomic.Uint64   // the delivery goroutine's id, for InCallback
	// running is set while the goroutine runs callbacks: InCallback reads
	// a goroutine's id, which costs a stack trace, only then.
	running atomic.Bool
	// result is the outcome handed to Config.Deliver for each record of a
	// batch in turn: filled in place, not copied record by record.
	result Result
}

// delivery is a completed batch, or the outcome of one record that never
// reached a batch.
type delivery struct {
	batch *Batch
	cb    any
	r     Result
}

func (d *deliveries) start(a *Accumulator) {
	d.a = a
	d.more = make(chan struct{}, 1)
	ready := make(chan struct{})
	go d.run(ready)
	<-ready
}

// push queues one delivery.
func (d *deliveries) push(x delivery) {
	if x.batch != nil {
		x.batch.given.Store(true)
	}
	d.mu.Lock()
	d.queue = append(d.queue, x)
	restart := d.stopped
	d.stopped = false
	d.mu.Unlock()
	if restart {
		go d.run(nil)
	}
	select {
	case d.more <- struct{}{}:
	default:
	}
	if x.batch != nil {
		d.a.changed.Notify() // for a Flush waiting from inside a callback
	}
}

// run delivers until told to stop and nothing is left. ready is closed once
// the goroutine is known (for InCallback); nil for a restart.
func (d *deliveries) run(ready chan<- struct{}) {
	d.id.Store(goroutineID())
	if ready != nil {
		close(ready)
	}
	for {
		d.mu.Lock()
		todo := d.queue
		d.queue, d.spare = d.spare[:0], nil
		if len(todo) == 0 && d.stop {
			d.stopped = true
			d.mu.Unlock()
			d.exited.Notify()
			return
		}
		d.mu.Unlock()
		if len(todo) == 0 {
			<-d.more
			continue
		}
		d.running.Store(true)
		for i := range todo {
			if b := todo[i].batch; b != nil {
				d.a.deliver(b)
			} else {
				d.a.cfg.Deliver(todo[i].cb, &todo[i].r)
			}
			todo[i] = delivery{}
		}
		d.running.Store(false)
		d.mu.Lock()
		if d.spare == nil {
			d.spare = todo[:0]
		}
		d.mu.Unlock()
	}
}

// Deliver hands the outcome of a record that never reached a batch (it
// waited for metadata, say) to Config.Deliver, on the delivery goroutine,
// behind the outcomes already queued.
func (a *Accumulator) Deliver(cb any, r Result) { a.deliveries.push(delivery{cb: cb, r: r}) }

// InCallback reports whether the caller runs inside a callback, on the
// delivery goroutine: there, waiting for an outcome that is delivered
// after the callback returns would wait for ever. While no callback runs,
// the caller cannot be in one, and the answer costs no stack trace (a
// transactional producer flushes at every commit).
func (a *Accumulator) InCallback() bool {
	return a.deliveries.running.Load() && goroutineID() == a.deliveries.id.Load()
}

// Close stops the delivery goroutine once every outcome queued has been
// delivered, or returns ctx's error when ctx ends first (deliveries go on
// then, and the goroutine exits when they are done). Append, Deliver and
// the sender's reports must all be over, but for stragglers: an outcome
// queued later restarts the goroutine. A later Close waits again, for a
// restarted goroutine too, so that a caller who could not wait the first
// time (it was in a callback, or its ctx ended) can wait now.
func (a *Accumulator) Close(ctx context.Context) error {
	d := &a.deliveries
	d.mu.Lock()
	d.stop = true
	d.mu.Unlock()
	select {
	case d.more <- struct{}{}:
	default:
	}
	if a.InCallback() {
		return nil // the goroutine stops after this callback and the rest
	}
	return d.awaitStopped(ctx)
}

// awaitStopped waits until the goroutine, told to stop, has delivered
// everything queued and exited, or ctx ends.
func (d *deliveries) awaitStopped(ctx context.Context) error {
	for {
		d.mu.Lock()
		exited := d.exited.C()
		stopped := d.stopped
		d.mu.Unlock()
		if stopped {
			return nil
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctxerr.Of(ctx)
		}
	}
}

// deliver runs the callbacks of a completed batch, then gives back its
// memory, unless it is still in flight (it expired there): then the answer
// to its request gives it back, and its sizes, which its sender may still
// be writing, are counted then too.
func (a *Accumulator) deliver(b *Batch) {
	if a.cfg.Settled != nil {
		a.cfg.Settled(b)
	}
	r := &a.deliveries.result
	*r = Result{Topic: b.TP.Topic, Partition: b.TP.Partition, Err: b.err, Sent: b.sentAt}
	// The entries are read here rather than through a cursor, the usual
	// case (a byte a fact) inline: a call to the cursor's next for every
	// record cost as much as the reading.
	es, off := b.entries, 0
	for i, cb := range es.cbs {
		var ts, key, value uint64
		if f := es.facts[off : off+3]; f[0]|f[1]|f[2] < 0x80 {
			ts, key, value, off = uint64(f[0]), uint64(f[1]), uint64(f[2]), off+3
		} else {
			ts, key, value, off = es.factsAt(off)
		}
		e := es.entry(cb, ts, key, value)
		r.Offset, r.Timestamp, r.KeySize, r.ValueSize = -1, e.timestamp, e.keySize, e.valueSize
		if b.err == nil {
			if b.baseOffset >= 0 {
				r.Offset = b.baseOffset + int64(i)
			}
			if b.logAppendTimeMs >= 0 {
				r.Timestamp = b.logAppendTimeMs
			}
		} else if b.refused != nil {
			r.Err = b.refused.of(i)
		}
		a.cfg.Deliver(cb, r)
	}
	*r = Result{} // keeps neither the batch's error nor its topic alive
	a.stats.count(b)
	free := true
	if b.settled {
		p := a.partition(b.TP)
		p.mu.Lock()
		b.delivered = true
		free = !b.inFlight
		p.mu.Unlock()
	}
	if free {
		a.retire(b)
	}
	a.forget(b)
}

// retire counts a delivered batch's sizes and gives back its memory, once
// no sender touches it any more: at its delivery, or, if it was in flight
// then (it expired there), at its answer.
func (a *Accumulator) retire(b *Batch) {
	a.stats.countSizes(b)
	a.release(b)
}

// goroutineID is the calling goroutine's id, read from the first line of its
// stack trace ("goroutine 42 [running]:"). Go keeps goroutine ids out of
// reach on purpose; the one use here is to recognise the delivery goroutine,
// as the Java client recognises its I/O thread when close is called from a
// callback.
func goroutineID() uint64 {
	var buf [32]byte
	n := runtime.Stack(buf[:], false)
	var id uint64
	for _, c := range buf[len("goroutine "):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	return id
}
