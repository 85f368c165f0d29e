package sender

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// handle books the answer to one request, batch by batch.
func (s *Sender) handle(f *flight) {
	s.answered(f)
	if s.cfg.Counters != nil && !errors.Is(f.err, conn.ErrNotSent) {
		s.cfg.Counters.Requests.Add(1) // counted once it is known to have left
	}
	now := s.cfg.Clock.Now()
	if f.err != nil {
		// The request as a whole failed: the connection broke, the request
		// timed out, or the answer did not decode. Unless it never left,
		// the broker may have written the batches; the retry resends the
		// same bytes, which an idempotent producer's broker recognises.
		s.cfg.Logger.Debug("produce request failed", "batches", len(f.batches), "err", f.err)
		s.cfg.Hooks.RefreshMetadata("produce request failed")
		notSent := errors.Is(f.err, conn.ErrNotSent)
		retry := accumulator.Retry{Cause: fmt.Errorf("broker %d: %w", s.cfg.Node, f.err), MaybeWritten: !notSent, NotSent: notSent}
		for _, b := range f.batches {
			s.retry(b, retry, now, false)
		}
		return
	}
	resp, _ := f.resp.(*protocol.ProduceResponse)
	if resp == nil {
		// acks=0: done once written; the broker says nothing.
		for _, b := range f.batches {
			s.acc.Complete(b, -1, -1, nil)
		}
		return
	}
	s.answers.index(resp, f)
	defer s.answers.clear()
	for _, b := range f.batches {
		// An answer that leaves a partition out, or answers for it twice,
		// is not Kafka's: whatever the broker did with the batch, it did
		// not say, so it may have written it.
		switch p := s.answers.m[b.TP]; p {
		case nil:
			s.retry(b, accumulator.Retry{Cause: s.answers.without(s.cfg.Node, f.version), MaybeWritten: true}, now, false)
		case answeredTwice:
			s.retry(b, accumulator.Retry{Cause: fmt.Errorf("broker %d answered Produce v%d twice for the partition", s.cfg.Node, f.version), MaybeWritten: true}, now, false)
		default:
			s.handlePartition(b, p, f, resp.NodeEndpoints, now)
		}
	}
}

// handlePartition books one partition's answer, to f's request (handle
// books the whole answer): the batch is written, split, sent again or
// failed.
func (s *Sender) handlePartition(b *accumulator.Batch, p *protocol.ProduceResponsePartition, f *flight, endpoints []protocol.ProduceResponseNodeEndpoint, now time.Time) {
	code := kerr.ForCode(p.ErrorCode)
	if code == nil || errors.Is(code, kerr.DuplicateSequenceNumber) {
		// A duplicate is an earlier attempt of this batch, already written.
		s.acc.Complete(b, p.BaseOffset, p.LogAppendTimeMs, nil)
		return
	}
	err := brokerError(s.cfg.Node, code, p)
	hinted := s.leaderHint(b.TP, f, p.CurrentLeader, endpoints)
	switch {
	case errors.Is(code, kerr.MessageTooLarge) || errors.Is(code, kerr.RecordListTooLarge):
		s.split(b, err)
	case errors.Is(code, kerr.ProducerFenced):
		// Another producer took over this producer's id: the brokers will
		// take nothing more from this one (the Java client's fatal error).
		s.stopProducer(b, accumulator.Fenced, err)
	case errors.Is(code, kerr.InvalidProducerIDMapping):
		// The cluster no longer knows the producer id (for a transactional
		// producer, its coordinator the transactional id's); fatal in the
		// Java client since Kafka 4.0 (KAFKA-18019), as a new producer id
		// could repeat work another instance already did.
		s.stopProducer(b, s.forgotten(), err)
	case errors.Is(code, kerr.TransactionalIDAuthorizationFailed):
		// The cluster denies this producer its transactional id (only a
		// transactional Produce is answered so): the transaction manager
		// takes it as fatal, and every record sent after would be refused.
		s.stopProducer(b, "the cluster does not authorize its transactional id", err)
	case s.acc.Idempotent() && errors.Is(code, kerr.ClusterAuthorizationFailed):
		// The cluster denies this producer idempotent writes; the Java
		// client stops an idempotent or transactional producer for it
		// (TransactionManager.maybeTransitionToErrorState), and a retry or
		// an abort would meet the same refusal.
		s.stopProducer(b, "the cluster does not authorize it to write idempotently", err)
	case s.acc.Idempotent() && errors.Is(code, kerr.UnsupportedVersion):
		// Fatal in the Java client too, for the same reason.
		s.stopProducer(b, "the broker does not support the idempotent or transactional Produce it sent", err)
	case errors.Is(code, kerr.InvalidProducerEpoch):
		// Refused under the producer's current epoch, the batch fails:
		// fatal too without a transactional id; a transactional
		// producer's transaction can only abort (its coordinator bumped
		// the epoch as it timed the transaction out, say). If this
		// producer itself moved to a newer epoch since the batch was
		// numbered, the batch goes again under that one, unless an
		// earlier attempt may have written it. The accumulator tells
		// which. No backoff: the batch goes again only in that case, where
		// the refusal is no trouble of the broker's to wait out but the
		// producer's own move to a newer epoch, which the batch follows.
		s.retry(b, accumulator.Retry{Cause: err, EpochRejected: true}, now, true)
	case errors.Is(code, kerr.OutOfOrderSequenceNumber):
		s.retry(b, accumulator.Retry{Cause: err, SequenceRejected: true}, now, false)
	case errors.Is(code, kerr.UnknownProducerID):
		// Without a log start offset the broker answered before it knew
		// its state (the partition was moving): a plain retry (KIP-360).
		s.retry(b, accumulator.Retry{Cause: err, SequenceRejected: p.LogStartOffset >= 0}, now, false)
	case kerr.IsRetriable(code):
		if kerr.NeedsMetadataRefresh(code) && !hinted {
			s.cfg.Hooks.RefreshMetadata(code.(*kerr.Error).Name)
		}
		s.retry(b, accumulator.Retry{Cause: err, MaybeWritten: appendedAnyway(code, p.BaseOffset, s.cfg.Acks)}, now, hinted)
	case len(p.RecordErrors) > 0:
		// The broker named the records it refused the batch for (KIP-467):
		// they fail with their own errors, the rest as refused with them.
		s.acc.Refuse(b, err, recordErrors(s.cfg.Node, code, p))
	default:
		s.acc.Complete(b, -1, -1, err)
	}
}

// stopProducer stops the producer for good, for why, on the broker's err:
// the error of b's records and of every one after them.
func (s *Sender) stopProducer(b *accumulator.Batch, why string, err error) {
	s.acc.Complete(b, -1, -1, s.acc.Fatal(why, err))
}

// forgotten says why INVALID_PRODUCER_ID_MAPPING stopped the producer, in
// the words of what it has: a transactional id, or a producer id alone.
func (s *Sender) forgotten() string {
	if s.cfg.TransactionalID != nil {
		return "the transaction coordinator no longer knows its transactional id"
	}
	return "the cluster no longer knows its producer id"
}

// leaderHint applies a KIP-951 current-leader hint from the answer to f's
// request, and reports whether it told something new.
func (s *Sender) leaderHint(tp accumulator.TopicPartition, f *flight, l *protocol.ProduceResponseLeader, endpoints []protocol.ProduceResponseNodeEndpoint) bool {
	if l == nil || l.LeaderID < 0 {
		return false
	}
	var ep *protocol.ProduceResponseNodeEndpoint
	for i := range endpoints {
		if endpoints[i].NodeID == l.LeaderID {
			ep = &endpoints[i]
			break
		}
	}
	// Only news skips the backoff: a broker still taking over a partition
	// names the leader already known, and retrying at once would spin
	// until DeliveryTimeout.
	return s.cfg.Hooks.LeaderHint(tp.Topic, f.topicID(tp.Topic), tp.Partition, l.LeaderID, l.LeaderEpoch, ep)
}

// retry sends b back to its partition, to go again after a backoff, or at
// once (immediate) when the cause is known and already fixed: after a
// leader hint that moved the partition (KIP-951), or an epoch refused as
// older than the producer's, under which the batch goes again. The
// accumulator fails the batch instead (Accumulator.Retry says when) if its
// delivery timeout has passed, the producer is closing or stopped, a
// transaction abort is under way, the broker refused the producer's
// current epoch, or it refused the sequence or epoch of a batch an earlier
// attempt may have written (ErrMaybeWritten).
func (s *Sender) retry(b *accumulator.Batch, r accumulator.Retry, now time.Time, immediate bool) {
	r.At = now
	if !immediate {
		r.At = now.Add(s.retryBackoff.Delay(b.Attempts()))
	}
	// Once back, the batch belongs to whichever sender leads its partition
	// now, which may send it and see it acknowledged before this goroutine
	// runs again: read what the log and the hooks need before.
	tp, attempts, records := b.TP, b.Attempts(), b.Records()
	// A batch that fails instead (its DeliveryTimeout passed, the producer
	// is closing) is not retried, nor counted: its records' outcomes say
	// why.
	if s.cfg.Counters != nil {
		r.Counted = &s.cfg.Counters.Retries
	}
	again := s.acc.Retry(b, r)
	if again && s.cfg.Events.Retried != nil {
		s.cfg.Events.Retried(tp, records, attempts, r.At.Sub(now), r)
	}
	s.cfg.Logger.Debug("retrying batch", "topic", tp.Topic, "partition", tp.Partition, "attempt", attempts, "err", r.Cause)
}

// split halves b, refused as too large for cause (KIP-126); the halves
// take its place, to go at once, and Events.Split is told.
func (s *Sender) split(b *accumulator.Batch, cause error) {
	var counted *atomic.Int64
	if s.cfg.Counters != nil {
		counted = &s.cfg.Counters.Splits
	}
	// Split hands b's records to the halves, which another sender may take
	// at once: read what the hooks need before, as retry does.
	tp, attempts, records := b.TP, b.Attempts(), b.Records()
	if !s.acc.Split(b, cause, counted) {
		return // b could not be split, and failed with cause
	}
	s.cfg.Logger.Debug("split batch", "topic", tp.Topic, "partition", tp.Partition, "records", records, "err", cause)
	if s.cfg.Events.Split != nil {
		s.cfg.Events.Split(tp, records, attempts, cause)
	}
}

// brokerError keeps the Kafka error matchable with errors.Is while adding
// what the broker said about it (KIP-467 messages and record indexes).
func brokerError(node int32, code error, p *protocol.ProduceResponsePartition) error {
	return withDetail(node, code, p.ErrorMessage, p.RecordErrors)
}

// recordErrors is the error of each record the broker named in refusing a
// batch. The answer carries one Kafka error for the partition: a record
// named alone fails with it, the partition's message and the broker's
// message for that record. Records named together may have failed for
// different reasons (Kafka answers INVALID_TIMESTAMP for a batch holding a
// timestamp out of range and, on a compacted topic, a record without a
// key), so each fails with INVALID_RECORD and its own message, the
// partition's only if the broker gave none for it, as in the Java client.
func recordErrors(node int32, code error, p *protocol.ProduceResponsePartition) []accumulator.RecordError {
	named := make([]accumulator.RecordError, len(p.RecordErrors))
	for i := range p.RecordErrors {
		recordCode, message := code, p.ErrorMessage
		if len(p.RecordErrors) > 1 {
			recordCode = kerr.InvalidRecord
			if p.RecordErrors[i].BatchIndexErrorMessage != nil {
				message = nil
			}
		}
		named[i] = accumulator.RecordError{Index: int(p.RecordErrors[i].BatchIndex),
			Err: withDetail(node, recordCode, message, p.RecordErrors[i:i+1])}
	}
	return named
}

// withDetail is code from node, followed by the partition's message and the
// broker's word on each record in records. The broker's words are quoted and
// cut short (brokertext): they reach the application's logs and terminals
// as the record's error, once per record.
func withDetail(node int32, code error, message *string, records []protocol.ProduceResponseRecordError) error {
	var detail []string
	if message != nil && *message != "" {
		detail = append(detail, brokertext.Quote(*message))
	}
	for _, re := range records {
		msg := fmt.Sprintf("record %d", re.BatchIndex)
		if re.BatchIndexErrorMessage != nil {
			msg += ": " + brokertext.Quote(*re.BatchIndexErrorMessage)
		}
		detail = append(detail, msg)
	}
	if len(detail) == 0 {
		return fmt.Errorf("broker %d: %w", node, code)
	}
	return fmt.Errorf("broker %d: %w (%s)", node, code, strings.Join(detail, "; "))
}

// answers maps each partition of the answer being handled to its part of
// it. The maps are the sender's, kept from one answer to the next and
// cleared after each: made for each answer, they were, with the request,
// most of what a small request allocated.
type answers struct {
	m     map[accumulator.TopicPartition]*protocol.ProduceResponsePartition
	names map[wire.UUID]string // a request by topic id's topics, by id
	// unknown holds the topic ids the answer named that its request did
	// not carry: a partition missing from the answer may be under one.
	unknown []wire.UUID
}

// index fills the map from resp, the answer to f's request. An answer to a
// request by topic id is keyed by id: the request gives the topic each id
// was sent for, and a topic under an id the request did not carry is left
// out, as if the broker had not answered for it, its id kept in unknown.
func (a *answers) index(resp *protocol.ProduceResponse, f *flight) {
	if a.m == nil {
		a.m = make(map[accumulator.TopicPartition]*protocol.ProduceResponsePartition)
		a.names = make(map[wire.UUID]string)
	}
	if f.byID {
		for i := range f.req.Topics {
			a.names[f.req.Topics[i].TopicID] = f.req.Topics[i].Name
		}
	}
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		name := t.Name
		if f.byID {
			var ok bool
			if name, ok = a.names[t.TopicID]; !ok {
				a.unknown = append(a.unknown, t.TopicID)
				continue
			}
		}
		for pi := range t.Partitions {
			tp := accumulator.TopicPartition{Topic: name, Partition: t.Partitions[pi].Index}
			if _, seen := a.m[tp]; seen {
				a.m[tp] = answeredTwice
				continue
			}
			a.m[tp] = &t.Partitions[pi]
		}
	}
}

// answeredTwice stands in the map for a partition the answer named twice:
// which of its two answers holds, the broker did not say.
var answeredTwice = &protocol.ProduceResponsePartition{}

// without is the cause of retrying a batch that node's answer, to a
// request of Produce version, left out; the answer's unknown topic ids, if
// any, are where the broker may have put it. Like every batch's error, it
// does not name the partition: the record's error does.
func (a *answers) without(node int32, version int16) error {
	msg := fmt.Sprintf("broker %d answered Produce v%d without the partition", node, version)
	if len(a.unknown) == 0 {
		return errors.New(msg)
	}
	ids := make([]string, len(a.unknown))
	for i, id := range a.unknown {
		ids[i] = id.String()
	}
	return fmt.Errorf("%s, and under topic id %s, which the request did not carry", msg, strings.Join(ids, ", "))
}

// clear empties the maps, letting go of the answer they point into.
func (a *answers) clear() {
	clear(a.m)
	clear(a.names)
	a.unknown = a.unknown[:0]
}

// appendedAnyway reports whether a Produce error may have come after the
// leader appended the batch: the records are in its log, and may survive
// it. With idempotence a retry is recognised as a duplicate; without, it
// writes them again.
//
// REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND say so, and
// KAFKA_STORAGE_ERROR may come from the flush after an append (with
// flush.messages set), which a follower may have fetched. With acks=all the
// leader also appends before it waits for its followers, and if it loses
// the partition meanwhile (a leader moving away during a controlled
// shutdown, a replica removed, its log directory failing) it answers
// NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION, keeping the base
// offset of the append. Refusing before any append, Kafka answers base
// offset -1: only that rules the append out.
func appendedAnyway(code error, baseOffset int64, acks int16) bool {
	switch {
	case errors.Is(code, kerr.RequestTimedOut), errors.Is(code, kerr.NotEnoughReplicasAfterAppend), errors.Is(code, kerr.KafkaStorageError):
		return true
	case errors.Is(code, kerr.NotLeaderOrFollower), errors.Is(code, kerr.UnknownTopicOrPartition):
		return acks == -1 && baseOffset >= 0
	}
	return false
}
