// Command gokafkahandoff is an experiment, not a contender of the report:
// the gokafka client (bench.OpenOurs) behind a hand-off. Each Produce puts
// its record on one queue and returns; one appender goroutine, whose stack
// stays hot, calls the library's Produce for every record in turn. A
// synchronous sender's turn then touches only the shallow frames down to
// the queue and its wait for the ack, rather than the library's frames
// from Produce down to the copy of the value, which with thousands of
// senders outgrow the last-level cache between one sender's turn and its
// next.
//
// One appender for the whole process, whatever GOMAXPROCS says: a queue
// per P would need the sender's P, which Go does not expose, and a sender
// handing to a queue chosen by a counter would take turns at the same
// cold lines anyway.
//
// Built as gokafka-handoff-yield (the race names the binary after the
// contender), the appender yields once after each wait for the queue, so
// that the senders the scheduler holds ready enqueue before it drains:
// woken by a send, it would otherwise run next, as Go's scheduler runs a
// goroutine just readied, and take one record per wake.
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gokafka/producer/bench"
	"github.com/gokafka/producer/bench/driver"
)

func main() {
	name := "gokafka-handoff"
	if strings.HasSuffix(filepath.Base(os.Args[0]), "-yield") {
		name, yield = name+"-yield", true
	}
	driver.Main(name, "github.com/gokafka/producer", open)
}

// yield makes the appender yield after each wait for the queue.
var yield bool

// queueLen is the queue's room. A synchronous sender has one record in
// flight, so 5,000 senders put at most 5,000 on it; an asynchronous
// producer runs this far ahead of the appender before it waits.
const queueLen = 8192

func open(s driver.Settings) (driver.Client, []string, error) {
	inner, config, err := bench.OpenOurs(s)
	if err != nil {
		return nil, nil, err
	}
	h := &handoff{inner: inner, queue: make(chan item, queueLen), done: make(chan struct{})}
	go h.append()
	return h, append(config, "hand-off: one appender goroutine, queue of 8192, yield="+map[bool]string{true: "after each wait", false: "never"}[yield]), nil
}

// item is one record on its way to the appender, or, with flushed set, a
// mark the appender closes when it reaches it.
type item struct {
	key, value []byte
	cb         any
	flushed    chan struct{}
}

type handoff struct {
	inner driver.Client
	queue chan item
	done  chan struct{}
}

func (h *handoff) append() {
	defer close(h.done)
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-h.queue:
		default:
			if it, ok = <-h.queue; ok && yield {
				runtime.Gosched()
			}
		}
		if !ok {
			return
		}
		if it.flushed != nil {
			close(it.flushed)
			continue
		}
		h.inner.Produce(it.key, it.value, it.cb)
	}
}

func (h *handoff) Callback(done func(error)) any { return h.inner.Callback(done) }

func (h *handoff) Produce(key, value []byte, cb any) {
	h.queue <- item{key: key, value: value, cb: cb}
}

// Flush waits until the appender has produced every record queued before
// it, then flushes the library.
func (h *handoff) Flush(ctx context.Context) error {
	mark := make(chan struct{})
	select {
	case h.queue <- item{flushed: mark}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-mark:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.inner.Flush(ctx)
}

func (h *handoff) Close() error {
	close(h.queue)
	<-h.done
	return errors.Join(h.inner.Close())
}
