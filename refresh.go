package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Version is this library's version, sent to brokers in ApiVersions (KIP-511).
const Version = "0.1.0"

// errNoBrokers heads the error of a metadata request no broker answered.
var errNoBrokers = errors.New("no broker answered")

// requestRefresh asks the metadata loop for a refresh soon; it never blocks,
// and many requests before the loop runs make one refresh.
func (p *Producer) requestRefresh(reason string) {
	select {
	case p.refreshCh <- struct{}{}:
		p.cfg.Logger.Debug("metadata refresh requested", "reason", reason)
	default:
	}
}

// metadataLoop keeps the metadata cache fresh: at once at start, every
// MetadataMaxAge, and when asked (an unknown topic, a moved leader, a dead
// connection), but never more often than every RetryBackoff, so a storm of
// errors makes one request, not thousands. While topics wait for metadata,
// or partitions have no leader, it polls with backoff.
func (p *Producer) metadataLoop() {
	defer p.bg.Done()
	clk := p.cfg.clock
	retry := backoff.Exponential{Base: p.cfg.RetryBackoff, Max: p.cfg.RetryBackoffMax}
	failures := 0
	wait := time.Duration(0)
	for {
		timer := clk.NewTimer(wait)
		select {
		case <-timer.C():
		case <-p.refreshCh:
			timer.Stop()
		case <-p.ctx.Done():
			timer.Stop()
			return
		}
		started := clk.Now()
		err := p.refresh(p.ctx)
		p.noteRefresh(err)
		switch {
		case p.ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = retry.Delay(failures)
			p.cfg.Logger.Warn("metadata refresh failed", "err", err, "retry_in", wait)
		case p.held.waiting() > 0 || p.leaderless():
			failures++
			wait = retry.Delay(failures)
		default:
			failures = 0
			wait = p.cfg.MetadataMaxAge
		}
		// A requested refresh may come early, but not earlier than the
		// backoff after this one.
		if floor := p.cfg.RetryBackoff - clk.Now().Sub(started); floor > 0 {
			if !p.pause(floor) {
				return
			}
			wait -= floor
			if wait < 0 {
				wait = 0
			}
		}
	}
}

// refresh fetches metadata for every topic the producer uses and applies it.
func (p *Producer) refresh(ctx context.Context) error {
	topics := p.interestingTopics()
	req := &protocol.MetadataRequest{
		Topics:                 make([]protocol.MetadataRequestTopic, len(topics)),
		AllowAutoTopicCreation: p.cfg.AllowAutoTopicCreation,
	}
	for i := range topics {
		req.Topics[i].Name = &topics[i]
	}
	resp, err := p.askAnyBroker(ctx, req)
	if err != nil {
		return err
	}
	mr, ok := resp.(*protocol.MetadataResponse)
	if !ok {
		return fmt.Errorf("metadata: unexpected answer %T", resp)
	}
	if err := kerr.ForCode(mr.ErrorCode); err != nil {
		// An error for the whole answer (Metadata v13+, KIP-1102): its
		// brokers and topics describe nothing, so the cache keeps what it has.
		return fmt.Errorf("metadata: %w", err)
	}
	p.cache.Apply(mr, topics, p.cfg.clock.Now())
	snap := p.cache.Snapshot()
	p.brokers.sync(snap, true)
	p.held.release(p, snap)
	p.brokers.wakeAll()
	p.wanted.signal()
	return nil
}

// askAnyBroker sends a request to the first broker that takes it: known
// nodes in random order, then the seeds in random order. A broker that
// cannot be reached, or whose connection fails the request, is passed
// over; an answer, whatever its error codes, is the caller's to read.
func (p *Producer) askAnyBroker(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	cands := p.brokers.candidates()
	rand.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
	var errs []error
	for _, b := range cands {
		c, err := b.Conn(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := c.Request(ctx, req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s from %s: %w", req.Key(), b.Addr(), err))
			continue
		}
		return resp, nil
	}
	return nil, fmt.Errorf("%s: %w: %w", req.Key(), errNoBrokers, errors.Join(errs...))
}

// interestingTopics is every topic the producer has use for: those cached
// with partitions, and those records or PartitionsFor callers wait for. A
// cached topic without partitions (unknown, deleted) is asked for only while
// someone waits: asked for ever after, it could be auto-created long after
// everyone gave up on it.
func (p *Producer) interestingTopics() []string {
	seen := map[string]bool{}
	var out []string
	snap := p.cache.Snapshot()
	for _, name := range snap.Topics() {
		if t := snap.Topic(name); t != nil && len(t.Partitions) > 0 {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, names := range [][]string{p.held.names(), p.wanted.names()} {
		for _, t := range names {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// leaderless reports whether a known partition has no usable leader, which
// is worth polling for: its records cannot move until one is elected.
func (p *Producer) leaderless() bool {
	snap := p.cache.Snapshot()
	for _, name := range snap.Topics() {
		t := snap.Topic(name)
		if t == nil {
			continue
		}
		if len(t.View.Available) < len(t.Partitions) {
			return true
		}
	}
	return false
}

// expiryLoop fails batches whose DeliveryTimeout passed, wherever they are
// (waiting for a leader, for a retry, or for an answer), and records whose
// metadata did not come within MaxBlock.
func (p *Producer) expiryLoop() {
	defer p.bg.Done()
	clk := p.cfg.clock
	for {
		now := clk.Now()
		next := min(p.acc.Expire(now), p.held.expire(now))
		// Every batch and every held record is counted in next from its
		// first moment, so it is exact; what appears after this pass
		// expires no sooner than a full timeout from now, which bounds the
		// sleep.
		next = min(next, p.heldLimit(), p.cfg.DeliveryTimeout)
		if p.loads != nil {
			p.reportLoad()
			next = min(next, loadReportInterval)
		}
		if !p.pause(next) {
			return
		}
	}
}

// pause waits d on the producer's clock, for a background loop; it reports
// false, at once, when the producer closes.
func (p *Producer) pause(d time.Duration) bool {
	t := p.cfg.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-p.ctx.Done():
		return false
	}
}

// loadReportInterval is how often queue lengths are reported to a
// partitioner that steers by load. Queues change batch by batch, so once a
// second follows them closely enough at negligible cost.
const loadReportInterval = time.Second

// reportLoad tells the partitioner how many batches wait per partition, so
// the sticky partitioner can favour partitions whose leaders keep up
// (KIP-794's adaptive partitioning).
func (p *Producer) reportLoad() {
	snap := p.cache.Snapshot()
	var sizes []int32 // SetLoad copies, so one slice serves every topic
	for _, name := range snap.Topics() {
		t := snap.Topic(name)
		if t == nil || len(t.Partitions) == 0 {
			continue
		}
		if n := len(t.Partitions); cap(sizes) < n {
			sizes = make([]int32, n)
		} else {
			sizes = sizes[:n]
		}
		for i := range sizes {
			queued, inFlight := p.acc.Queued(metadata.TopicPartition{Topic: name, Partition: int32(i)})
			sizes[i] = int32(queued + inFlight)
		}
		p.loads.SetLoad(name, sizes)
	}
}
