package sender

import (
	"context"
	"fmt"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
)

// send packs drained batches into one ProduceRequest and sends it. The
// answer comes back on s.results; with acks=0 the connection answers as soon
// as the bytes are written.
func (s *Sender) send(ctx context.Context, c Conn, batches []*accumulator.Batch) {
	version, err := c.Version(protocol.Produce)
	if err == nil && s.cfg.TransactionalID != nil && version > 11 && (s.cfg.TransactionsV2 == nil || !s.cfg.TransactionsV2()) {
		// v12 asks a transactions-v2 broker to add partitions implicitly
		// (KIP-890); with transactions v1 AddPartitionsToTxn did that.
		version = 11
	}
	if err != nil {
		// The broker speaks no Produce version we do: no retry can help.
		for _, b := range batches {
			s.acc.Complete(b, -1, -1, fmt.Errorf("broker %d: %w", s.cfg.Node, err))
		}
		return
	}
	req := buildRequest(batches, s.cfg.Acks, s.cfg.Timeout, s.cfg.TransactionalID)
	version, names := s.byTopicID(req, version)
	s.noteVersion(version)
	s.inFlight++
	if s.cfg.Counters != nil {
		s.cfg.Counters.Requests.Add(1)
	}
	sent := result{batches: batches, names: names}
	if s.cfg.Events.Written != nil || s.cfg.Events.Answered != nil {
		s.sendTimed(ctx, c, req, version, sent)
		return
	}
	results := s.results
	c.SendVersion(ctx, req, version, func(resp protocol.Response, err error) {
		sent.resp, sent.err = resp, err
		results <- sent
	})
}

// buildRequest groups batches by topic, in the order drained.
func buildRequest(batches []*accumulator.Batch, acks int16, timeout time.Duration, txnID *string) *protocol.ProduceRequest {
	req := &protocol.ProduceRequest{TransactionalID: txnID, Acks: acks, TimeoutMs: int32(timeout.Milliseconds())}
	index := make(map[string]int, 4)
	for _, b := range batches {
		i, ok := index[b.TP.Topic]
		if !ok {
			i = len(req.Topics)
			index[b.TP.Topic] = i
			req.Topics = append(req.Topics, protocol.ProduceRequestTopic{Name: b.TP.Topic})
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions,
			protocol.ProduceRequestPartition{Index: b.TP.Partition, Records: b.Encoded()})
	}
	return req
}
