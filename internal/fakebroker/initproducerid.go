package fakebroker

import (
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// handleInitProducerId answers InitProducerId as any Kafka broker answers a
// producer without a transactional id: with a fresh producer id at epoch 0,
// whatever id and epoch the request carries (v3+). Kafka's coordinator
// "blindly accepts" such a request; it never bumps the epoch of an
// idempotent producer, which bumps it itself, and a partition then accepts
// the higher epoch from sequence 0 (KIP-360). Ids come from one counter
// for the whole cluster, so they are unique and increasing across nodes;
// the first is 0, as on a fresh Kafka cluster.
//
// The fake coordinates no transactions: a transactional id is answered
// NOT_COORDINATOR, as by a broker that is not its coordinator.
func (s *session) handleInitProducerId(version int16, body []byte) (protocol.Response, error) {
	var req protocol.InitProducerIdRequest
	if err := req.ReadFrom(body, version); err != nil {
		return nil, err
	}
	s.c.initProducerIdReqs.Add(1)
	var act Action
	if h := s.c.initProducerIdFn.Load(); h != nil {
		act = (*h)(s.n.id, &req)
	}
	if err := s.await(act); err != nil {
		return nil, err
	}
	resp := &protocol.InitProducerIdResponse{ProducerID: record.NoProducerID, ProducerEpoch: record.NoProducerEpoch,
		OngoingTxnProducerID: record.NoProducerID, OngoingTxnProducerEpoch: record.NoProducerEpoch}
	switch {
	case act.Err != nil:
		resp.ErrorCode = act.Err.Code
		if act.Err == kerr.ProducerFenced && version < 4 {
			// Kafka's translation for clients that predate the code.
			resp.ErrorCode = kerr.InvalidProducerEpoch.Code
		}
	case (req.ProducerID == record.NoProducerID) != (req.ProducerEpoch == record.NoProducerEpoch):
		// An id without an epoch, or the reverse, is refused before
		// the transactional id is even looked at.
		resp.ErrorCode = kerr.InvalidRequest.Code
	case req.TransactionalID == nil:
		resp.ProducerID = s.c.nextProducerID.Add(1) - 1
		resp.ProducerEpoch = 0
	case *req.TransactionalID == "":
		resp.ErrorCode = kerr.InvalidRequest.Code
	default:
		resp.ErrorCode = kerr.NotCoordinator.Code
	}
	if act.LoseAnswer {
		return nil, errDrop
	}
	return resp, nil
}
