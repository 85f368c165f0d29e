package sender

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
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
	// latency runs from its write to the answer. With acks=0 the answer
	// is the write itself.
	Answered func(node int32, batches []*accumulator.Batch, latency time.Duration, err error)
	// Throttled: the broker says it delayed its answer this long, or asks
	// for this pause, to hold the producer to its quota (KIP-219).
	Throttled func(node int32, d time.Duration)
	// Retried: a batch of records goes back to partition tp to be sent
	// again after backoff, for r's reason; attempts is how many sends it
	// has had. The batch is no longer the sender's: hence no *Batch.
	Retried func(tp accumulator.TopicPartition, records, attempts int, backoff time.Duration, r accumulator.Retry)
}

// requestTimes is when a request was written, and whether it never was.
// Only the sender's goroutine reads written, which it set itself.
type requestTimes struct {
	written time.Time
	notSent atomic.Bool
}

// sendTimed is send's last step when Events watch requests: it times the
// request and tells Written, unless the request never left. A request that
// does not leave fails inside SendVersion, before it returns (conn's
// ErrNotSent is never reported later), so notSent is known by then.
func (s *Sender) sendTimed(ctx context.Context, c Conn, req *protocol.ProduceRequest, version int16, sent result) {
	clk, results := s.cfg.Clock, s.results
	times, batches := &requestTimes{}, sent.batches
	sent.times = times
	start := clk.Now()
	c.SendVersion(ctx, req, version, func(resp protocol.Response, err error) {
		if errors.Is(err, conn.ErrNotSent) {
			times.notSent.Store(true)
		}
		sent.resp, sent.err, sent.answered = resp, err, clk.Now()
		results <- sent
	})
	times.written = clk.Now()
	if s.cfg.Events.Written != nil && !times.notSent.Load() {
		s.cfg.Events.Written(s.cfg.Node, batches, times.written.Sub(start))
	}
}

// answered tells Events.Answered, and Throttled if the broker throttled
// the request, before its batches are settled.
func (s *Sender) answered(r result) {
	if r.times != nil && s.cfg.Events.Answered != nil {
		s.cfg.Events.Answered(s.cfg.Node, r.batches, max(0, r.answered.Sub(r.times.written)), r.err)
	}
	if resp, _ := r.resp.(*protocol.ProduceResponse); resp != nil && resp.ThrottleTimeMs > 0 && s.cfg.Events.Throttled != nil {
		s.cfg.Events.Throttled(s.cfg.Node, time.Duration(resp.ThrottleTimeMs)*time.Millisecond)
	}
}
