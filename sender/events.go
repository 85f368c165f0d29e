package sender

import (
	"context"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
)

// Events tell the producer's hooks what a sender does. Each is optional
// (nil costs nothing) and runs on the sender's goroutine, so it must not
// block: the producer only queues what it is told for the goroutine that
// runs hooks. The batches are the sender's while the call runs: read them
// there, do not keep them.
type Events struct {
	// Written: a ProduceRequest carrying batches reached the connection;
	// took is how long SendVersion held the sender (waiting for an
	// in-flight slot, then writing). A request that never left (conn's
	// ErrNotSent) is not written; its Answered says why.
	Written func(node int32, batches []*accumulator.Batch, took time.Duration)
	// Answered: a request's answer came, or it failed as a whole (err);
	// latency runs from the call to SendVersion to the answer, so it
	// includes Written's took (the wait for a slot, the write): an answer
	// that came before SendVersion returned is timed all the same. It is
	// 0 with acks=0, whose answer is the write itself, and for a request
	// that never left. throttle is the answer's throttle time, 0 when it
	// has none: Throttled is told only of those that are not.
	Answered func(node int32, batches []*accumulator.Batch, latency, throttle time.Duration, err error)
	// Throttled: the broker says it delayed its answer this long, or asks
	// for this pause, to hold the producer to its quota (KIP-219).
	Throttled func(node int32, d time.Duration)
	// Retried: a batch of records goes back to partition tp to be sent
	// again after backoff, for r's reason; attempts is how many sends it
	// has had. The batch is no longer the sender's: hence no *Batch.
	Retried func(tp accumulator.TopicPartition, records, attempts int, backoff time.Duration, r accumulator.Retry)
	// Split: a batch of records to partition tp, refused as too large
	// (cause), was split in two, whose halves go in its place at once;
	// attempts is how many sends it has had.
	Split func(tp accumulator.TopicPartition, records, attempts int, cause error)
}

// sendTimed is send's last step when Events watch requests: it times the
// request and tells Written, unless the request never left. A request that
// does not leave fails inside SendVersion, before it returns (conn's
// ErrNotSent is never reported later), so notSent is known by then.
func (s *Sender) sendTimed(ctx context.Context, c Conn, f *flight, version int16) {
	f.timed = true
	f.handed = s.cfg.Clock.Now()
	c.SendVersion(ctx, &f.req, version, f.done)
	if s.cfg.Events.Written != nil && !f.notSent.Load() {
		s.cfg.Events.Written(s.cfg.Node, f.batches, s.cfg.Clock.Now().Sub(f.handed))
	}
}

// answered tells Events.Answered, and Throttled if the broker throttled
// the request, before its batches' answers are handled.
func (s *Sender) answered(f *flight) {
	var throttle time.Duration
	if resp, _ := f.resp.(*protocol.ProduceResponse); resp != nil {
		throttle = time.Duration(resp.ThrottleTimeMs) * time.Millisecond
	}
	if f.timed && s.cfg.Events.Answered != nil {
		var latency time.Duration
		// With acks=0, or for a request that never left, SendVersion
		// itself gave the answer: no broker took any time.
		if s.cfg.Acks != 0 && !f.notSent.Load() {
			latency = f.answered.Sub(f.handed)
		}
		s.cfg.Events.Answered(s.cfg.Node, f.batches, latency, throttle, f.err)
	}
	if throttle > 0 && s.cfg.Events.Throttled != nil {
		s.cfg.Events.Throttled(s.cfg.Node, throttle)
	}
}
