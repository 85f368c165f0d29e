package producer

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/sender"
)

// hooks is Config.Hooks sorted by event, fixed by New. An event without
// hooks is never built: the layers below get no function for it, and a
// record is tracked only when a record hook is registered.
type hooks struct {
	newProducer    []HookNewProducer
	buffered       []HookRecordBuffered
	acknowledged   []HookRecordAcknowledged
	refused        []HookRecordRefused
	batchWritten   []HookBatchWritten
	requestWritten []HookRequestWritten
	answered       []HookRequestAnswered
	opened         []HookConnectionOpened
	closed         []HookConnectionClosed
	retried        []HookBatchRetried
	throttled      []HookThrottled
	producerID     []HookProducerID
	restarted      []HookSequenceRestart

	// records: Produce tracks records for the buffered and acknowledged
	// hooks. The refused ones need no tracking: they hear only of records
	// never buffered.
	records bool

	// idMu orders the ProducerID events, announced from the producer id
	// loop, the transaction manager and senders; last is the identity
	// announced last.
	idMu sync.Mutex
	last accumulator.ProducerID
}

// sortHooks files each hook under every event it implements; a hook that
// implements none, or one listed twice, is a mistake worth an error.
func sortHooks(list []Hook, h *hooks) error {
	for i, x := range list {
		// Its methods would read through it at its first event, on a
		// producer goroutine, where the panic ends the process.
		if holdsNil(x) {
			return &ConfigError{Field: "Hooks", Reason: fmt.Sprintf("Hooks[%d] is a nil %T: its first event would panic", i, x)}
		}
		n := 0
		add := func(ok bool) {
			if ok {
				n++
			}
		}
		// Offered the producer in New alone, by its place in the list
		// (attachHooks), so not filed.
		_, attaches := x.(HookAttachProducer)
		add(attaches)
		add(appendIf(&h.newProducer, x))
		add(appendIf(&h.buffered, x))
		add(appendIf(&h.acknowledged, x))
		add(appendIf(&h.refused, x))
		add(appendIf(&h.batchWritten, x))
		add(appendIf(&h.requestWritten, x))
		add(appendIf(&h.answered, x))
		add(appendIf(&h.opened, x))
		add(appendIf(&h.closed, x))
		add(appendIf(&h.retried, x))
		add(appendIf(&h.throttled, x))
		add(appendIf(&h.producerID, x))
		add(appendIf(&h.restarted, x))
		if n == 0 {
			return &ConfigError{Field: "Hooks", Reason: fmt.Sprintf("Hooks[%d] (%T) implements none of the Hook interfaces", i, x)}
		}
	}
	if err := refuseTwice(list); err != nil {
		return err
	}
	h.records = len(h.buffered) > 0 || len(h.acknowledged) > 0
	h.last = accumulator.ProducerID{ID: -1, Epoch: -1} // none yet: ids start at 0
	return nil
}

// refuseTwice refuses a hook listed twice, which would hear every event
// twice: a plugin's Hooks appended twice, or beside the plugin itself,
// would count each event twice, and a tracing hook would start a second
// span for each record and leave the first one unended. Hooks that cannot
// be compared (a func, a struct holding a slice) cannot be told apart and
// are let through: comparing them would panic. So are hooks without state
// (see stateless), which == cannot tell apart either.
func refuseTwice(list []Hook) error {
	for i, x := range list {
		if !checkable(x) {
			continue
		}
		for j := i + 1; j < len(list); j++ {
			if checkable(list[j]) && x == list[j] {
				return &ConfigError{Field: "Hooks", Reason: fmt.Sprintf("Hooks[%d] and Hooks[%d] are the same hook (%T), listed twice: every event would be counted or traced twice", i, j, x)}
			}
		}
	}
	return nil
}

// checkable says whether == can tell hook x from another: it can be
// compared without a panic, and it is not stateless.
func checkable(x Hook) bool {
	return reflect.ValueOf(x).Comparable() && !stateless(reflect.TypeOf(x))
}

// stateless says whether a hook of type t has no state of its own: a
// zero-size value, or a pointer to one. Go may give every new zero-size
// value one address, so two &T{} the user made apart compare equal; such a
// hook listed twice cannot be told from two hooks, and is let through.
func stateless(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Size() == 0
}

// appendIf appends x to *list if x implements the list's interface.
func appendIf[H any](list *[]H, x Hook) bool {
	h, ok := x.(H)
	if ok {
		*list = append(*list, h)
	}
	return ok
}

// attachHooks offers p to the hooks that may refuse it, in Config.Hooks'
// order, before any hook hears of it (HookAttachProducer).
func attachHooks(list []Hook, p *Producer) error {
	for i, x := range list {
		h, ok := x.(HookAttachProducer)
		if !ok {
			continue
		}
		if err := h.AttachProducer(p); err != nil {
			return &ConfigError{Field: "Hooks", Reason: fmt.Sprintf("Hooks[%d] (%T) refused the producer: %v", i, x, err), Err: err}
		}
	}
	return nil
}

// hookEvent is an event on its way to the delivery goroutine, which runs
// it like a callback (deliver, in deliver.go).
type hookEvent func()

// fire queues event e for the hooks hs, whose method call is, on the
// delivery goroutine: events seen by senders and connections never run
// user code where it could hold up a request.
func fire[H, E any](p *Producer, hs []H, call func(H, E), e E) {
	p.acc.Deliver(hookEvent(func() {
		for _, h := range hs {
			call(h, e)
		}
	}), accumulator.Result{})
}

// senderEvents is what a sender tells the hooks.
func (p *Producer) senderEvents() sender.Events {
	h := &p.hooks
	var ev sender.Events
	if len(h.requestWritten) > 0 {
		ev.Written = func(node int32, batches []*accumulator.Batch, took time.Duration) {
			e := RequestWritten{Broker: node, Batches: len(batches), WriteTime: took}
			for _, b := range batches {
				e.Records += b.Records()
				e.Bytes += b.Size()
			}
			fire(p, h.requestWritten, HookRequestWritten.OnRequestWritten, e)
		}
	}
	if len(h.answered) > 0 {
		unanswered := p.cfg.Acks == AcksNone
		ev.Answered = func(node int32, batches []*accumulator.Batch, latency, throttle time.Duration, err error) {
			e := RequestAnswered{Broker: node, Batches: len(batches), Latency: latency, Throttle: throttle, Err: err, Unanswered: unanswered}
			for _, b := range batches {
				e.Records += b.Records()
			}
			fire(p, h.answered, HookRequestAnswered.OnRequestAnswered, e)
		}
	}
	if len(h.throttled) > 0 {
		ev.Throttled = func(node int32, d time.Duration) {
			fire(p, h.throttled, HookThrottled.OnThrottled, Throttled{Broker: node, Time: d})
		}
	}
	if len(h.retried) > 0 {
		ev.Retried = func(tp accumulator.TopicPartition, records, attempts int, backoff time.Duration, r accumulator.Retry) {
			fire(p, h.retried, HookBatchRetried.OnBatchRetried, BatchRetried{
				Topic: tp.Topic, Partition: tp.Partition, Records: records, Attempt: attempts,
				Backoff: backoff, Err: r.Cause, MaybeWritten: r.MaybeWritten,
				SequenceRejected: r.SequenceRejected, EpochRejected: r.EpochRejected,
			})
		}
		ev.Split = func(tp accumulator.TopicPartition, records, attempts int, cause error) {
			fire(p, h.retried, HookBatchRetried.OnBatchRetried, BatchRetried{
				Topic: tp.Topic, Partition: tp.Partition, Records: records, Attempt: attempts,
				Err: cause, Split: true,
			})
		}
	}
	return ev
}

// connEvents is what the connections tell the hooks.
func (p *Producer) connEvents() conn.Events {
	h := &p.hooks
	var ev conn.Events
	if len(h.opened) > 0 {
		ev.Dialed = func(node int32, addr string, took time.Duration, err error) {
			fire(p, h.opened, HookConnectionOpened.OnConnectionOpened,
				ConnectionOpened{Broker: node, Addr: addr, DialTime: took, Err: err})
		}
	}
	if len(h.closed) > 0 {
		ev.Closed = func(node int32, addr string, err error) {
			fire(p, h.closed, HookConnectionClosed.OnConnectionClosed, ConnectionClosed{Broker: node, Addr: addr, Err: err})
		}
	}
	return ev
}

// settledHook and restartedHook are the accumulator's Settled and
// Restarted, or nil when no hook listens.
func (p *Producer) settledHook() func(*accumulator.Batch) {
	if len(p.hooks.batchWritten) == 0 {
		return nil
	}
	return p.settled
}

func (p *Producer) restartedHook() func(accumulator.TopicPartition, accumulator.ProducerID, int) {
	if len(p.hooks.restarted) == 0 && len(p.hooks.producerID) == 0 {
		return nil
	}
	return p.restarted
}

// settled tells HookBatchWritten of a written batch; it runs on the
// delivery goroutine already (accumulator.Config.Settled).
func (p *Producer) settled(b *accumulator.Batch) {
	if b.Err() != nil {
		return
	}
	e := BatchWritten{
		Topic: b.TP.Topic, Partition: b.TP.Partition, BaseOffset: b.BaseOffset(), Records: b.Records(),
		Bytes: b.UncompressedSize(), CompressedBytes: b.Size(), Attempt: b.Attempts(),
		QueueTime: b.SentAt().Sub(b.Created()),
	}
	for _, h := range p.hooks.batchWritten {
		h.OnBatchWritten(e)
	}
}

// restarted tells HookSequenceRestart of a partition's restart, and
// HookProducerID of the epoch it bumped, if it did. It runs on a sender's
// goroutine under the partition's lock, so it only queues.
func (p *Producer) restarted(tp accumulator.TopicPartition, id accumulator.ProducerID, renumbered int) {
	p.announceID(id, true)
	if len(p.hooks.restarted) > 0 {
		fire(p, p.hooks.restarted, HookSequenceRestart.OnSequenceRestart, SequenceRestart{
			Topic: tp.Topic, Partition: tp.Partition, ProducerID: id.ID, Epoch: id.Epoch, Renumbered: renumbered})
	}
}

// announceID tells HookProducerID of an identity not announced yet: a new
// id from InitProducerId, or an epoch a restart or a transactional
// producer's coordinator bumped (bumped, which a new id overrules; only the
// first partition to restart under it announces it).
func (p *Producer) announceID(id accumulator.ProducerID, bumped bool) {
	h := &p.hooks
	if len(h.producerID) == 0 {
		return
	}
	// Queued under the lock, so that the hooks see the epochs in order.
	h.idMu.Lock()
	defer h.idMu.Unlock()
	if id == h.last {
		return
	}
	bumped = bumped && id.ID == h.last.ID
	h.last = id
	fire(p, h.producerID, HookProducerID.OnProducerID, ProducerID{ID: id.ID, Epoch: id.Epoch, Bumped: bumped})
}
