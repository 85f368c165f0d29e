package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// fakeCoordinators answers coordinator requests from a script: for each
// API, a queue of error codes to answer with before answering well. It
// records every request sent, with the versions it could go at.
type fakeCoordinators struct {
	mu        sync.Mutex
	errs      map[protocol.APIKey][]*kerr.Error
	requests  []sent
	forgotten int
	v2        bool
	epoch     int16 // the epoch InitProducerId and EndTxn v5 give
	// lastEpoch: the epoch InitProducerId last bumped from, which it takes
	// again as a retry (KIP-360); -1 after a fresh start or a timeout.
	lastEpoch int16
	lost      error // a connection failure for the next request
	// whileLost, if set, runs as the lost request fails: what else
	// happens at that moment (the caller's ctx ending).
	whileLost func()
	// held: a request of this API, once recorded, waits for the gate to
	// open before it is answered, as one under way at the coordinator; if
	// its ctx ends first it is abandoned unanswered, as the cluster layer
	// abandons it.
	held map[protocol.APIKey]*gate
	// speaks: the coordinator's versions of an API, where set; a request
	// that can go at none of them is not sent (conn.ErrNotSent), as the
	// cluster layer refuses it.
	speaks map[protocol.APIKey]protocol.VersionRange
	// featuresEpoch is the epoch of the finalized features the
	// coordinator's connection tells (finalize raises it).
	featuresEpoch int64
	// brokerErr, if set, fails the next CoordinatorBroker: the coordinator
	// restarting as the producer asks.
	brokerErr error
	// noLive: no live connection to the coordinator is known
	// (LiveCoordinatorBroker).
	noLive bool
	// leaveOut: the next answers of an API, as many as counted, name none
	// of the partitions their request did.
	leaveOut map[protocol.APIKey]int
}

// gate holds requests: arrived is told of each, open lets them through.
// landed: each takes effect at the coordinator before it waits, so that a
// ctx ending loses only its answer.
type gate struct {
	arrived chan struct{}
	open    chan struct{}
	landed  bool
}

// hold makes the requests of api wait at a gate until it opens.
func (f *fakeCoordinators) hold(api protocol.APIKey) *gate {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &gate{arrived: make(chan struct{}, 16), open: make(chan struct{})}
	if f.held == nil {
		f.held = map[protocol.APIKey]*gate{}
	}
	f.held[api] = g
	return g
}

// holdAnswers makes the answers to the requests of api wait at a gate
// until it opens, each request having taken effect.
func (f *fakeCoordinators) holdAnswers(api protocol.APIKey) *gate {
	g := f.hold(api)
	g.landed = true
	return g
}

// timeOut does what Kafka's coordinator does to a transaction it times
// out: it aborts it under a new epoch (prepareFenceProducerEpoch), and
// forgets the last one, so that no InitProducerId under the old epoch is
// a retry.
func (f *fakeCoordinators) timeOut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch++
	f.lastEpoch = -1
}

type sent struct {
	req      protocol.Request
	versions protocol.VersionRange
}

type fakeBroker struct {
	v2    bool
	epoch int64
}

func (b fakeBroker) Version(api protocol.APIKey) (int16, error) {
	if b.v2 {
		return map[protocol.APIKey]int16{protocol.EndTxn: 5, protocol.Produce: 12}[api], nil
	}
	return map[protocol.APIKey]int16{protocol.EndTxn: 4, protocol.Produce: 11}[api], nil
}

func (b fakeBroker) FinalizedFeature(name string) (int16, bool) {
	if b.v2 && name == transactionVersionFeature {
		return 2, true
	}
	return 0, false
}

func (b fakeBroker) FinalizedFeaturesEpoch() int64 { return b.epoch }

func (f *fakeCoordinators) CoordinatorBroker(context.Context, cluster.CoordinatorKind, string) (Broker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.brokerErr; err != nil {
		f.brokerErr = nil
		return nil, err
	}
	return fakeBroker{f.v2, f.featuresEpoch}, nil
}

func (f *fakeCoordinators) LiveCoordinatorBroker(cluster.CoordinatorKind, string) (Broker, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noLive {
		return nil, false
	}
	return fakeBroker{f.v2, f.featuresEpoch}, true
}

// finalize finalizes transaction.version at level, as an upgrade's last
// step (or a downgrade) does: the features' epoch rises, and with level 2
// the coordinator speaks EndTxn v5 and Produce v12.
func (f *fakeCoordinators) finalize(level int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.v2 = level >= 2
	f.featuresEpoch++
}

func (f *fakeCoordinators) ForgetCoordinator(cluster.CoordinatorKind, string) {
	f.mu.Lock()
	f.forgotten++
	f.mu.Unlock()
}

// leaveOutPartitions makes the next n answers of api name none of the
// partitions their request did.
func (f *fakeCoordinators) leaveOutPartitions(api protocol.APIKey, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.leaveOut == nil {
		f.leaveOut = map[protocol.APIKey]int{}
	}
	f.leaveOut[api] += n
}

// fail makes the next n requests of api fail with err, in order.
func (f *fakeCoordinators) fail(api protocol.APIKey, errs ...*kerr.Error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs[api] = append(f.errs[api], errs...)
}

func (f *fakeCoordinators) AskCoordinator(ctx context.Context, _ cluster.CoordinatorKind, _ string, req protocol.Request, versions protocol.VersionRange) (protocol.Response, error) {
	f.mu.Lock()
	if theirs, ok := f.speaks[req.Key()]; ok {
		if _, err := protocol.NegotiateWithin(req.Key(), versions, theirs); err != nil {
			f.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", conn.ErrNotSent, err)
		}
	}
	f.requests = append(f.requests, sent{req, versions})
	g := f.held[req.Key()]
	if g == nil {
		defer f.mu.Unlock()
		return f.answer(req, versions)
	}
	var resp protocol.Response
	var err error
	if g.landed {
		resp, err = f.answer(req, versions)
	}
	f.mu.Unlock()
	g.arrived <- struct{}{}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if g.landed {
		return resp, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.answer(req, versions)
}

// answer does what req, sent at the highest of versions, asks at the
// coordinator and answers it. f.mu must be held.
func (f *fakeCoordinators) answer(req protocol.Request, versions protocol.VersionRange) (protocol.Response, error) {
	if err := f.lost; err != nil {
		f.lost = nil
		if f.whileLost != nil {
			f.whileLost()
		}
		return nil, err
	}
	var code int16
	if q := f.errs[req.Key()]; len(q) > 0 {
		code, f.errs[req.Key()] = q[0].Code, q[1:]
	}
	resp, err := f.answerWith(req, versions, code)
	if f.leaveOut[req.Key()] > 0 {
		f.leaveOut[req.Key()]--
		switch r := resp.(type) {
		case *protocol.AddPartitionsToTxnResponse:
			r.ResultsByTopicV3AndBelow = nil
		case *protocol.TxnOffsetCommitResponse:
			r.Topics = nil
		}
	}
	return resp, err
}

// answerWith is answer's work, with the error code scripted for req.
func (f *fakeCoordinators) answerWith(req protocol.Request, versions protocol.VersionRange, code int16) (protocol.Response, error) {
	switch r := req.(type) {
	case *protocol.InitProducerIdRequest:
		switch {
		case code != 0:
		case r.ProducerID >= 0 && r.ProducerEpoch == f.lastEpoch:
			// A bump asked again: answered with the epoch it gave.
		case r.ProducerID >= 0 && r.ProducerEpoch != f.epoch:
			code = kerr.ProducerFenced.Code
		default:
			f.lastEpoch = -1
			if r.ProducerID >= 0 {
				f.lastEpoch = f.epoch
			}
			f.epoch++
		}
		return &protocol.InitProducerIdResponse{ErrorCode: code, ProducerID: 42, ProducerEpoch: f.epoch}, nil
	case *protocol.AddPartitionsToTxnRequest:
		resp := &protocol.AddPartitionsToTxnResponse{}
		for _, t := range r.V3AndBelowTopics {
			rt := protocol.AddPartitionsToTxnResponseTopic{Name: t.Name}
			for _, p := range t.Partitions {
				rt.ResultsByPartition = append(rt.ResultsByPartition, protocol.AddPartitionsToTxnResponsePartition{PartitionIndex: p, PartitionErrorCode: code})
			}
			resp.ResultsByTopicV3AndBelow = append(resp.ResultsByTopicV3AndBelow, rt)
		}
		return resp, nil
	case *protocol.EndTxnRequest:
		// EndTxn v5 is transactions v2's, which a coordinator of a
		// cluster that finalized it tells by the version.
		v5 := f.v2 && versions.Max >= 5
		if code == 0 && !v5 && r.ProducerEpoch != f.epoch {
			// Under transactions v1 an epoch not the coordinator's is
			// fenced (Kafka 2.7+).
			code = kerr.ProducerFenced.Code
		}
		resp := &protocol.EndTxnResponse{ErrorCode: code, ProducerID: -1, ProducerEpoch: -1}
		if v5 && code == 0 {
			f.epoch++
			resp.ProducerID, resp.ProducerEpoch = 42, f.epoch
		}
		return resp, nil
	case *protocol.AddOffsetsToTxnRequest:
		return &protocol.AddOffsetsToTxnResponse{ErrorCode: code}, nil
	case *protocol.TxnOffsetCommitRequest:
		resp := &protocol.TxnOffsetCommitResponse{}
		for _, t := range r.Topics {
			rt := protocol.TxnOffsetCommitResponseTopic{Name: t.Name}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, protocol.TxnOffsetCommitResponsePartition{PartitionIndex: p.PartitionIndex, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	return nil, errors.New("unexpected request")
}

// apis is the APIs of the requests sent, in order.
func (f *fakeCoordinators) apis() []protocol.APIKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]protocol.APIKey, len(f.requests))
	for i, s := range f.requests {
		out[i] = s.req.Key()
	}
	return out
}

func (f *fakeCoordinators) last() sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[len(f.requests)-1]
}

// lastEndTxn is the last EndTxn request sent.
func (f *fakeCoordinators) lastEndTxn(t *testing.T) *protocol.EndTxnRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.requests) - 1; i >= 0; i-- {
		if end, ok := f.requests[i].req.(*protocol.EndTxnRequest); ok {
			return end
		}
	}
	t.Fatal("no EndTxn was sent")
	return nil
}
