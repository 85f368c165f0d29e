package fakebroker

import (
	"errors"
	"fmt"

	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// handleProduce appends a Produce request's batches and builds its answer,
// or returns nil for acks=0, which Kafka never answers: an acks=0 request
// with a partition refused ends the connection instead (errAcksNoneRefused).
// The response and its slices are the session's, reused by the next
// request.
func (s *session) handleProduce(version int16, body []byte) (protocol.Response, error) {
	req := &s.produce
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	if version >= protocol.ProduceTopicIDVersion {
		s.c.nameTopics(req)
	}
	s.c.produceReqs.Add(1)
	var act Action
	if h := s.c.produceFn.Load(); h != nil {
		act = (*h)(s.n.id, req)
	}
	if err := s.await(act); err != nil {
		return nil, err
	}

	resp := &s.resp
	resp.ThrottleTimeMs = int32(act.Throttle.Milliseconds())
	resp.Topics = resp.Topics[:0]
	resp.NodeEndpoints = resp.NodeEndpoints[:0]
	for ti := range req.Topics {
		t := &req.Topics[ti]
		rt := nextTopic(resp)
		rt.Name, rt.TopicID = t.Name, t.TopicID
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			rp := nextPartition(rt)
			f := act.failure(t.Name, p.Index)
			if f != nil && s.repeatsLast(f, t.Name, p.Index, p.Records) {
				f = nil
			}
			if f != nil && !f.afterAppend() {
				fail(rp, p.Index, f)
				continue
			}
			if t.Name == "" && version >= protocol.ProduceTopicIDVersion {
				fail(rp, p.Index, &Failure{Err: kerr.UnknownTopicID})
				continue
			}
			s.appendPartition(rp, t.Name, p.Index, p.Records, version)
			if f != nil && rp.ErrorCode == 0 { // written, or a duplicate of what was
				answerFailure(rp, f)
			}
		}
	}
	switch {
	case act.LoseAnswer:
		return nil, errDrop
	case req.Acks == 0 && refusedAny(resp):
		return nil, errAcksNoneRefused
	case req.Acks == 0:
		return nil, nil
	}
	return resp, nil
}

// errAcksNoneRefused ends the connection of an acks=0 request that had a
// partition refused, as Kafka does (KafkaApis.handleProduceRequest): with
// no answer to carry the error, a closed connection is how the producer
// learns that something failed and that its metadata may be stale. The
// partitions not refused are written all the same.
var errAcksNoneRefused = errors.New("fakebroker: acks=0 Produce refused for a partition: connection closed")

// refusedAny reports whether resp refuses any partition.
func refusedAny(resp *protocol.ProduceResponse) bool {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return true
			}
		}
	}
	return false
}

// nameTopics fills in the name of each topic a request names by id (v13+),
// so that hooks and the rest of the fake see names at every version. An id
// the cluster does not know leaves the name empty.
func (c *Cluster) nameTopics(req *protocol.ProduceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range req.Topics {
		if t := c.byID[req.Topics[i].TopicID]; t != nil {
			req.Topics[i].Name = t.name
		}
	}
}

// nextTopic appends a topic entry to resp, reusing a previous request's
// entry and its partitions' backing array when there is one.
func nextTopic(resp *protocol.ProduceResponse) *protocol.ProduceResponseTopic {
	if len(resp.Topics) < cap(resp.Topics) {
		resp.Topics = resp.Topics[:len(resp.Topics)+1]
	} else {
		resp.Topics = append(resp.Topics, protocol.ProduceResponseTopic{})
	}
	rt := &resp.Topics[len(resp.Topics)-1]
	rt.Partitions = rt.Partitions[:0]
	return rt
}

// nextPartition appends a zeroed partition entry to rt.
func nextPartition(rt *protocol.ProduceResponseTopic) *protocol.ProduceResponsePartition {
	rt.Partitions = append(rt.Partitions, protocol.ProduceResponsePartition{})
	return &rt.Partitions[len(rt.Partitions)-1]
}

// fail fills an injected failure that came before any append.
func fail(rp *protocol.ProduceResponsePartition, index int32, f *Failure) {
	*rp = protocol.ProduceResponsePartition{Index: index, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1}
	answerFailure(rp, f)
}

// answerFailure puts f's error in rp. After an append it keeps the
// append's offsets, as Kafka's answer for a batch it wrote and then could
// not acknowledge does.
func answerFailure(rp *protocol.ProduceResponsePartition, f *Failure) {
	rp.ErrorCode, rp.RecordErrors = f.Err.Code, f.RecordErrors
	if f.Message != "" {
		msg := f.Message
		rp.ErrorMessage = &msg
	}
}

// appendPartition validates one partition's batch and appends it. The
// checks come in Kafka's order: the partition must exist, then hold one
// batch of magic 2, then be led by this node before the batch is decoded,
// and the batch must be valid before the producer state is looked at.
func (s *session) appendPartition(rp *protocol.ProduceResponsePartition, topic string, index int32, data []byte, version int16) {
	c := s.c
	*rp = protocol.ProduceResponsePartition{Index: index, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1}
	// Decoding, the expensive part, happens outside the cluster's lock.
	refused := validateRecords(data)
	var count, size int
	var decodeErr error
	if refused == nil {
		count, size, decodeErr = s.decode(data)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.partitions) {
		rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return
	}
	if refused != nil {
		rp.ErrorCode = refused.Code
		return
	}
	p := t.partitions[index]
	if p.leader != s.n.id {
		rp.ErrorCode = kerr.NotLeaderOrFollower.Code
		if version >= 10 {
			// KIP-951: name the leader, and say where it is.
			rp.CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: p.leader, LeaderEpoch: p.epoch}
			s.addEndpoint(p.leader)
		}
		return
	}
	switch {
	case decodeErr != nil:
		rp.ErrorCode = kerr.CorruptMessage.Code
		msg := decodeErr.Error()
		rp.ErrorMessage = &msg
		return
	case c.maxMsg > 0 && size > c.maxMsg:
		rp.ErrorCode = kerr.MessageTooLarge.Code
		msg := fmt.Sprintf("batch of %d bytes exceeds message.max.bytes %d", size, c.maxMsg)
		rp.ErrorMessage = &msg
		return
	}
	if s.refusedByProducerState(rp, p) {
		return
	}
	rp.BaseOffset = p.next
	rp.LogStartOffset = 0
	if c.opts.KeepRecords {
		s.keep(p)
	} else {
		p.next += int64(count)
	}
	s.commitProducer(p)
	c.records.Add(int64(count))
}

// refusedByProducerState applies the idempotence rules (producerstate.go)
// and fills the answer of data they keep out of the log: a duplicate's
// success with the original offset, or an error. Kafka answers both with
// the log start offset and no error message, and a duplicate with the
// original batch's max timestamp as its LogAppendTimeMs. c.mu is held.
func (s *session) refusedByProducerState(rp *protocol.ProduceResponsePartition, p *partition) bool {
	dup, isDup, fail := s.checkProducer(p)
	switch {
	case isDup:
		s.c.duplicates.Add(1)
		rp.BaseOffset, rp.LogAppendTimeMs = dup.baseOffset, dup.maxTimestamp
	case fail == kerr.OutOfOrderSequenceNumber:
		s.c.outOfOrder.Add(1)
		rp.ErrorCode = fail.Code
	case fail == kerr.InvalidProducerEpoch:
		s.c.invalidEpoch.Add(1)
		rp.ErrorCode = fail.Code
	case fail != nil:
		rp.ErrorCode = fail.Code
	default:
		return false
	}
	rp.LogStartOffset = 0
	return true
}

// keep appends the decoded records to p's log, with the offsets, absolute
// timestamps and producer fields they get. c.mu is held.
func (s *session) keep(p *partition) {
	b := &s.batch
	for i, r := range b.Records {
		seq := record.NoSequence
		if b.BaseSequence >= 0 {
			seq = addSeq(b.BaseSequence, r.OffsetDelta)
		}
		p.log = append(p.log, Record{Record: r, Offset: p.next + int64(i), Timestamp: b.FirstTimestamp + r.TimestampDelta,
			ProducerID: b.ProducerID, ProducerEpoch: b.ProducerEpoch, Sequence: seq})
	}
	p.next += int64(len(b.Records))
}

// decode checks a partition's batch, which validateRecords found alone,
// with record.DecodeBatch, keeping it in s.batch, and returns its record
// count and its size, for message.max.bytes. Bytes after it too few for a
// batch are left out, as Kafka trims them from the append.
func (s *session) decode(data []byte) (count, size int, err error) {
	b, rest, err := record.DecodeBatch(data)
	s.batch = b // zero on error: drops the last request's records, which alias its frame
	if err != nil {
		return 0, 0, err
	}
	return len(b.Records), len(data) - len(rest), nil
}

// addEndpoint lists a node in the response's NodeEndpoints, once.
func (s *session) addEndpoint(id int32) {
	for _, e := range s.resp.NodeEndpoints {
		if e.NodeID == id {
			return
		}
	}
	n, err := s.c.node(id)
	if err != nil {
		return
	}
	s.resp.NodeEndpoints = append(s.resp.NodeEndpoints, protocol.ProduceResponseNodeEndpoint{NodeID: id, Host: n.host, Port: n.port})
}
