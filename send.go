package producer

import (
	"context"
	"fmt"
	"sync"

	"github.com/gokafka/producer/internal/ctxerr"
)

// Send produces a record and waits for its acknowledgement. If ctx ends
// first, Send returns ctx's error, which also matches the cause ctx was
// given, if any (context.WithCancelCause); once the record is buffered,
// that error also matches ErrMaybeWritten: the record may still be delivered. If ctx
// ends while the record waits for buffer memory (see Produce), the record
// is never buffered, and Send returns that outcome, certain, which does
// not match ErrMaybeWritten. A ctx already done when Send is called
// produces nothing: the caller has given up on the outcome, which would be
// unknown. A nil record gets Produce's refusal whatever ctx: an error
// matching ErrNilRecord. Called from a callback, Send cannot get the
// acknowledgement, delivered after that callback returns, and returns only
// when ctx ends: a callback uses Produce.
func (p *Producer) Send(ctx context.Context, r *Record) (RecordMetadata, error) {
	// A nil record is left to Produce, which refuses it at once with the
	// error the hooks and the caller are promised for one.
	if r != nil && ctx.Err() != nil {
		md, err := sendFailed(r, fmt.Errorf("not sent: %w", ctxerr.Of(ctx)))
		p.refused(r, err) // refused as Produce refuses, before any buffering
		return md, err
	}
	w := waiters.Get().(*waiter)
	p.Produce(ctx, r, w.callback)
	select {
	case o := <-w.done:
		// The callback has run and will not run again: w is free.
		waiters.Put(w)
		return o.md, o.err
	case <-ctx.Done():
		// Both may be ready: Produce refused the record, or its wait for
		// memory ended with ctx, and its outcome came before Send looked.
		// That outcome is the record's, and certain: the record was never
		// buffered, which "may still be written" would hide.
		select {
		case o := <-w.done:
			waiters.Put(w)
			return o.md, o.err
		default:
		}
		// The callback may still run, later, and send on w.done, so w is
		// not reused; it is garbage once the callback has run.
		return sendFailed(r, &unacknowledged{ctxerr.Of(ctx)})
	}
}

// unacknowledged is Send's error when its ctx ended before the record's
// outcome came: the record may still be written, so it matches
// ErrMaybeWritten as well as the ctx's cause. A caller that produces a
// record again only when its error does not match ErrMaybeWritten, as
// ErrMaybeWritten's doc allows, would otherwise duplicate it.
type unacknowledged struct{ cause error }

func (e *unacknowledged) Error() string {
	return fmt.Sprintf("waiting for the acknowledgement: %v (the record may still be written)", e.cause)
}

func (e *unacknowledged) Unwrap() []error { return []error{e.cause, ErrMaybeWritten} }

// sendFailed is what Send returns for r when it gives up without the
// record's outcome: the metadata of a record that never got an offset, as
// Produce gives one it refuses, and err.
func sendFailed(r *Record, err error) (RecordMetadata, error) {
	md := failed(r)
	return md, &PartitionError{Topic: md.Topic, Partition: md.Partition, Err: err}
}

// A waiter carries one record's outcome from its callback to the Send
// waiting for it. Waiters are pooled with their callback bound, so a Send
// that gets its answer allocates nothing: with thousands of goroutines each
// sending one record at a time, the channel and closure of every call were
// most of Send's own cost.
type waiter struct {
	done     chan sendOutcome // buffered: the callback never waits for Send
	callback func(RecordMetadata, error)
}

type sendOutcome struct {
	md  RecordMetadata
	err error
}

var waiters = sync.Pool{New: func() any {
	w := &waiter{done: make(chan sendOutcome, 1)}
	w.callback = w.deliver
	return w
}}

func (w *waiter) deliver(md RecordMetadata, err error) { w.done <- sendOutcome{md, err} }
