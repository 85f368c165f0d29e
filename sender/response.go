package sender

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// handle settles every batch of one request from its answer.
func (s *Sender) handle(r result) {
	now := s.cfg.Clock.Now()
	if r.err != nil {
		// The request as a whole failed: the connection broke, the request
		// timed out, or the answer did not decode. The batches may or may not
		// have been written; without idempotence a retry may duplicate them,
		// which is the Java client's behaviour too.
		s.cfg.Logger.Debug("produce request failed", "node", s.cfg.Node, "batches", len(r.batches), "err", r.err)
		s.cfg.Hooks.RefreshMetadata("produce request failed")
		for _, b := range r.batches {
			s.retryOrFail(b, fmt.Errorf("broker %d: %w", s.cfg.Node, r.err), now, false)
		}
		return
	}
	resp, _ := r.resp.(*protocol.ProduceResponse)
	if resp == nil {
		// acks=0: done once written; the broker says nothing.
		for _, b := range r.batches {
			s.acc.Complete(b, -1, -1, nil)
		}
		return
	}
	answers := indexResponse(resp)
	for _, b := range r.batches {
		p := answers[b.TP]
		if p == nil {
			s.retryOrFail(b, fmt.Errorf("broker %d answered without partition %s-%d", s.cfg.Node, b.TP.Topic, b.TP.Partition), now, false)
			continue
		}
		s.settle(b, p, resp.NodeEndpoints, now)
	}
}

// settle completes, retries, splits or fails one batch from its partition's
// answer.
func (s *Sender) settle(b *accumulator.Batch, p *protocol.ProduceResponsePartition, endpoints []protocol.ProduceResponseNodeEndpoint, now time.Time) {
	code := kerr.ForCode(p.ErrorCode)
	if code == nil {
		s.acc.Complete(b, p.BaseOffset, p.LogAppendTimeMs, nil)
		return
	}
	err := brokerError(s.cfg.Node, code, p)

	hinted := false
	if l := p.CurrentLeader; l != nil && l.LeaderID >= 0 {
		var ep *protocol.ProduceResponseNodeEndpoint
		for i := range endpoints {
			if endpoints[i].NodeID == l.LeaderID {
				ep = &endpoints[i]
				break
			}
		}
		// Only news skips the backoff: a broker still taking over a
		// partition names the leader already known, and retrying at once
		// would spin until DeliveryTimeout.
		hinted = s.cfg.Hooks.LeaderHint(b.TP.Topic, b.TP.Partition, l.LeaderID, l.LeaderEpoch, ep)
	}

	switch {
	case errors.Is(code, kerr.MessageTooLarge) || errors.Is(code, kerr.RecordListTooLarge):
		tp := b.TP // the halves may be drained by another sender once split
		split, splitErr := s.acc.Split(b, err)
		if splitErr != nil {
			s.acc.Complete(b, -1, -1, errors.Join(err, splitErr))
			return
		}
		if !split {
			s.acc.Complete(b, -1, -1, err) // one record, too large for the broker
			return
		}
		if s.cfg.Counters != nil {
			s.cfg.Counters.Splits.Add(1)
		}
		s.cfg.Hooks.Requeued(tp, now)
	case kerr.IsRetriable(code):
		if kerr.NeedsMetadataRefresh(code) && !hinted {
			s.cfg.Hooks.RefreshMetadata(code.(*kerr.Error).Name)
		}
		s.retryOrFail(b, err, now, hinted)
	default:
		s.acc.Complete(b, -1, -1, err)
	}
}

// retryOrFail sends b again after a backoff, unless its delivery timeout has
// passed or the producer is shutting down. After a leader hint that moved the
// partition there is no backoff: the cause is known and already fixed
// (KIP-951).
func (s *Sender) retryOrFail(b *accumulator.Batch, err error, now time.Time, immediate bool) {
	if s.aborting() {
		s.acc.Complete(b, -1, -1, fmt.Errorf("%w: %w", accumulator.ErrClosed, err))
		return
	}
	if waited := now.Sub(b.Created()); waited >= s.cfg.DeliveryTimeout {
		s.acc.Complete(b, -1, -1, fmt.Errorf("%w after %d attempts over %v: %w",
			accumulator.ErrDeliveryTimeout, b.Attempts(), waited.Round(time.Millisecond), err))
		return
	}
	at := now
	if !immediate {
		at = now.Add(Backoff(b.Attempts(), s.cfg.RetryBackoff, s.cfg.RetryBackoffMax))
	}
	// Once re-enqueued the batch belongs to whichever sender leads its
	// partition now: read what the log and the hook need before.
	tp, attempts := b.TP, b.Attempts()
	s.acc.Reenqueue(b, at, err)
	if s.cfg.Counters != nil {
		s.cfg.Counters.Retries.Add(1)
	}
	s.cfg.Logger.Debug("retrying batch", "topic", tp.Topic, "partition", tp.Partition, "attempt", attempts, "err", err)
	s.cfg.Hooks.Requeued(tp, at)
}

// brokerError keeps the Kafka error matchable with errors.Is while adding
// what the broker said about it (KIP-467 messages and record indexes).
func brokerError(node int32, code error, p *protocol.ProduceResponsePartition) error {
	var detail []string
	if p.ErrorMessage != nil && *p.ErrorMessage != "" {
		detail = append(detail, *p.ErrorMessage)
	}
	for _, re := range p.RecordErrors {
		msg := fmt.Sprintf("record %d", re.BatchIndex)
		if re.BatchIndexErrorMessage != nil {
			msg += ": " + *re.BatchIndexErrorMessage
		}
		detail = append(detail, msg)
	}
	if len(detail) == 0 {
		return fmt.Errorf("broker %d: %w", node, code)
	}
	return fmt.Errorf("broker %d: %w (%s)", node, code, strings.Join(detail, "; "))
}

// indexResponse maps each partition of a response to its answer.
func indexResponse(resp *protocol.ProduceResponse) map[accumulator.TopicPartition]*protocol.ProduceResponsePartition {
	n := 0
	for _, t := range resp.Topics {
		n += len(t.Partitions)
	}
	m := make(map[accumulator.TopicPartition]*protocol.ProduceResponsePartition, n)
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		for pi := range t.Partitions {
			m[accumulator.TopicPartition{Topic: t.Name, Partition: t.Partitions[pi].Index}] = &t.Partitions[pi]
		}
	}
	return m
}
