package txn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
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

// endedWithANewEpochIfV1 checks that a transaction whose TxnOffsetCommit
// was cut short ended, with v1, with a new epoch, which fences that request
// should it reach the coordinator late; v2's EndTxn gives one anyway.
func (r *rig) endedWithANewEpochIfV1(v2 bool) {
	r.t.Helper()
	want := protocol.InitProducerId
	if v2 {
		want = protocol.EndTxn
	}
	require.Equal(r.t, want, r.coords.last().req.Key(), "v2=%v: the last request", v2)
}

// awaitUnsent waits until the adder has failed what waited to be added
// (FailUnsent), which it does outside the manager's lock, and returns the
// errors it gave a batch of tp0 and one of another topic.
func (r *rig) awaitUnsent() (unsent, other []error) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		unsent, other = slices.Clone(r.unsentErr), slices.Clone(r.unsentOther)
		return len(unsent) > 0
	}, waitTime, time.Millisecond, "what waited to be added did not fail")
	return unsent, other
}

// rig is a manager over the fake coordinators, with the producer's side
// recorded.
type rig struct {
	t      *testing.T
	clk    *clock.Fake
	coords *fakeCoordinators
	m      *Manager

	mu          sync.Mutex
	id          accumulator.ProducerID
	ended       int
	unsentErr   []error // FailUnsent's error for tp0
	unsentOther []error // and for a partition of another topic
	aborted     []error // AbortBatches calls
	heldFails   []error // FailHeld calls
	inDoubt     bool    // what SequencesInDoubt says
	woken       []accumulator.TopicPartition
	flushErr    error
	flushWait   bool // Flush waits for its ctx, as for records that never settle
	flushed     int
	awaited     int // AwaitOutcomes calls
	// duringFlush, if set, runs inside Flush: what a commit's flush lets
	// happen while it waits.
	duringFlush func()
	// duringFailHeld, if set, runs inside FailHeld: what an abort lets
	// happen as it fails the held records.
	duringFailHeld func()
	// closeProducer ends Config.Context, as the producer's Close does.
	closeProducer context.CancelFunc
}

func newRig(t *testing.T, v2 bool) *rig {
	r := &rig{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)),
		coords: &fakeCoordinators{errs: map[protocol.APIKey][]*kerr.Error{}, v2: v2, epoch: -1, lastEpoch: -1}}
	producerCtx, closeProducer := context.WithCancel(context.Background())
	t.Cleanup(closeProducer)
	r.closeProducer = closeProducer
	r.m = New(Config{
		TransactionalID: "tx", Timeout: time.Minute,
		RetryBackoff: 100 * time.Millisecond, RetryBackoffMax: time.Second,
		Coordinators: r.coords, Clock: r.clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Context:       producerCtx,
		SetProducerID: func(id accumulator.ProducerID) { r.mu.Lock(); r.id = id; r.mu.Unlock() },
		ProducerID: func() (accumulator.ProducerID, bool) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.id, r.id.ID >= 0
		},
		EndTransaction: func() { r.mu.Lock(); r.ended++; r.mu.Unlock() },
		FailUnsent: func(errFor func(accumulator.TopicPartition) error) {
			r.mu.Lock()
			r.unsentErr = append(r.unsentErr, errFor(tp0))
			r.unsentOther = append(r.unsentOther, errFor(accumulator.TopicPartition{Topic: "other", Partition: 0}))
			r.mu.Unlock()
		},
		AbortBatches: func(err error) { r.mu.Lock(); r.aborted = append(r.aborted, err); r.mu.Unlock() },
		FailHeld: func(err error) {
			r.mu.Lock()
			r.heldFails = append(r.heldFails, err)
			during := r.duringFailHeld
			r.mu.Unlock()
			if during != nil {
				during()
			}
		},
		SequencesInDoubt: func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.inDoubt
		},
		Flush: func(ctx context.Context) error {
			r.mu.Lock()
			r.flushed++
			wait, during := r.flushWait, r.duringFlush
			r.mu.Unlock()
			if during != nil {
				during()
			}
			if wait {
				<-ctx.Done()
				return ctx.Err()
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.flushErr
		},
		AwaitOutcomes: func(context.Context) error { r.mu.Lock(); r.awaited++; r.mu.Unlock(); return nil },
		Wake:          func(tp accumulator.TopicPartition) { r.mu.Lock(); r.woken = append(r.woken, tp); r.mu.Unlock() },
	})
	return r
}

// admit asks Admit, as the accumulator does, and returns whether tp was
// admitted, failing the test on a refusal.
func (r *rig) admit(tp accumulator.TopicPartition) bool {
	r.t.Helper()
	admitted, refused := r.m.Admit(tp)
	if refused != nil { // Errorf: a condition of require.Eventually runs on a goroutine of its own
		r.t.Errorf("Admit(%v) refused: %v", tp, refused)
	}
	return admitted
}

// holdFlushes makes every Flush wait for its ctx, as for records that
// never settle; the channel closes once the first has begun.
func (r *rig) holdFlushes() <-chan struct{} {
	inFlush := make(chan struct{})
	var once sync.Once
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushWait = true
	r.duringFlush = func() { once.Do(func() { close(inFlush) }) }
	return inFlush
}

func (r *rig) producerID() accumulator.ProducerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

func (r *rig) state() State {
	s, _ := r.m.State()
	return s
}

var tp0 = accumulator.TopicPartition{Topic: "t", Partition: 0}

// waitTime bounds every wait for another goroutine in these tests.
const waitTime = 10 * time.Second

// initialized is a rig after Init and Begin.
func initialized(t *testing.T, v2 bool) *rig {
	r := newRig(t, v2)
	require.NoError(t, r.m.Init(context.Background()))
	require.NoError(t, r.m.Begin())
	return r
}

// commitHeldAtEndTxn starts a commit with ctx whose EndTxn the
// coordinator holds at g, and returns once the EndTxn is there, with what
// the commit will return.
func (r *rig) commitHeldAtEndTxn(t *testing.T, ctx context.Context) (g *gate, committed <-chan error) {
	t.Helper()
	g = r.coords.hold(protocol.EndTxn)
	result := make(chan error, 1)
	go func() { result <- r.m.Commit(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no EndTxn after Commit")
	return g, result
}

// addedToTheTransaction produces a record to tp0 in the rig's transaction:
// with v1 it waits until the coordinator added the partition, so that the
// transaction has an end to send.
func (r *rig) addedToTheTransaction(v2 bool) {
	r.t.Helper()
	if v2 {
		require.True(r.t, r.admit(tp0))
		return
	}
	r.admit(tp0)
	require.Eventually(r.t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond, "tp0 was not added")
}

// retrying runs f while moving the fake clock past each backoff it arms,
// and returns f's error.
func (r *rig) retrying(f func() error) error {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	var err error
	require.Eventually(r.t, func() bool {
		select {
		case err = <-done:
			return true
		default:
			r.clk.Advance(time.Second) // past the longest backoff
			return false
		}
	}, waitTime, time.Millisecond, "the call did not return after its backoffs")
	return err
}

func TestInitGetsTheIDOnceAndTellsTheProtocol(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := newRig(t, v2)
		require.Equal(t, Uninitialized, r.state())
		require.NoError(t, r.m.Init(context.Background()))
		require.Equal(t, Ready, r.state())
		require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 0}, r.producerID())
		require.Equal(t, v2, r.m.V2())
		init := r.coords.last().req.(*protocol.InitProducerIdRequest)
		require.Equal(t, "tx", *init.TransactionalID)
		require.Equal(t, int32(60000), init.TransactionTimeoutMs)
		require.ErrorIs(t, r.m.Init(context.Background()), ErrState, "a second Init")
	}
}

func TestInitRetriesWhatHealsAndStopsOnFencing(t *testing.T) {
	r := newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.CoordinatorLoadInProgress, kerr.NotCoordinator, kerr.ConcurrentTransactions)
	require.NoError(t, r.retrying(func() error { return r.m.Init(context.Background()) }))
	require.Len(t, r.coords.apis(), 4)
	require.Equal(t, 1, r.coords.forgotten, "NOT_COORDINATOR: the coordinator is found again")

	r = newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.TransactionalIDAuthorizationFailed)
	err := r.m.Init(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.TransactionalIDAuthorizationFailed)
	require.Equal(t, FatalError, r.state())
}

// A TransactionTimeout over the broker's transaction.max.timeout.ms is
// refused with INVALID_TRANSACTION_TIMEOUT, and would be again on every
// later Init with the same Config: the producer stops, as the Java
// client's does, rather than fail with an error that matches none of the
// transaction errors a caller is told to branch on.
func TestInitRefusedForItsTimeoutEndsTheProducer(t *testing.T) {
	r := newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.InvalidTransactionTimeout)
	err := r.m.Init(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.InvalidTransactionTimeout)
	require.Equal(t, FatalError, r.state())
	require.Len(t, r.coords.apis(), 1, "refused for good: not asked again")
}

func TestProduceOnlyInsideATransaction(t *testing.T) {
	r := newRig(t, false)
	require.ErrorIs(t, r.m.CheckProduce(), ErrState, "before Init")
	require.ErrorIs(t, r.m.Begin(), ErrState, "Begin before Init")
	require.NoError(t, r.m.Init(context.Background()))
	require.ErrorIs(t, r.m.CheckProduce(), ErrState, "before Begin")
	require.ErrorIs(t, r.m.Commit(context.Background()), ErrState, "commit with none begun")
	require.ErrorIs(t, r.m.Abort(context.Background()), ErrState, "abort with none begun")
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.CheckProduce())
	require.ErrorIs(t, r.m.Begin(), ErrState, "a second Begin")
}

// Before InitTransactions every other call is refused, and each refusal
// says to call InitTransactions first: one that said "BeginTransaction
// first" sent a service that forgot InitTransactions to BeginTransaction,
// which refused it in turn without saying why.
func TestEveryCallBeforeInitSaysInitTransactionsFirst(t *testing.T) {
	r := newRig(t, false)
	calls := []struct {
		name string
		call func() error
	}{
		{"Produce", r.m.CheckProduce},
		{"BeginTransaction", r.m.Begin},
		{"CommitTransaction", func() error { return r.m.Commit(context.Background()) }},
		{"AbortTransaction", func() error { return r.m.Abort(context.Background()) }},
		{"SendOffsetsToTransaction", func() error {
			return r.m.SendOffsets(context.Background(), []Offset{{Topic: "t", Offset: 1}}, Group{ID: "g"})
		}},
	}
	for _, c := range calls {
		err := c.call()
		require.ErrorIs(t, err, ErrState, "%s before InitTransactions", c.name)
		require.ErrorContains(t, err, "InitTransactions first", "%s before InitTransactions", c.name)
		require.NotContains(t, err.Error(), "BeginTransaction first", "%s before InitTransactions", c.name)
	}
	require.Equal(t, Uninitialized, r.state(), "the refusals changed nothing")
	require.Empty(t, r.coords.apis(), "the refusals sent nothing")
}

// A transaction that can no longer commit admits no partition: it refuses
// with why, and the accumulator fails what waits to be sent, rather than
// hold it until the abort. An abort under way refuses nothing: it fails
// what waits itself.
func TestAnAbortableTransactionRefusesPartitionsWithWhy(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		tooLarge := errors.New("record too large")
		r.m.RecordRejected(tp0, tooLarge)
		admitted, refused := r.m.Admit(tp0)
		require.False(t, admitted)
		require.ErrorIs(t, refused, ErrAbortable, "v2 %v", v2)
		require.ErrorIs(t, refused, tooLarge)
		sent := len(r.coords.apis()) // InitProducerId, by Init

		// Failed with it, the batches make nothing new of it: no epoch
		// bump for a sequence in doubt, none having been sent, and
		// nothing to end at the coordinator.
		r.m.RecordFailed(tp0, refused)
		require.NoError(t, r.m.Abort(context.Background()))
		require.Empty(t, r.coords.apis()[sent:], "requests after a refusal, then an abort (v2 %v)", v2)
	}
}

// A transaction that must be aborted refuses every record until it is,
// whatever broker error made it fail: the refusal keeps that error as its
// cause, but is no retriable error, where kerr.IsRetriable said it was for
// a cause such as NOT_ENOUGH_REPLICAS, and a caller retrying on it produced
// records that failed again until AbortTransaction.
func TestATransactionThatMustBeAbortedIsNoRetriableError(t *testing.T) {
	r := initialized(t, true)
	r.m.RecordFailed(tp0, fmt.Errorf("delivery timeout; last error: %w", kerr.NotEnoughReplicas))
	admitted, refused := r.m.Admit(tp0)
	require.False(t, admitted)
	require.ErrorIs(t, refused, ErrAbortable)
	require.ErrorIs(t, refused, kerr.NotEnoughReplicas, "the cause is kept")
	require.False(t, kerr.IsRetriable(refused), "refused: %v", refused)
	require.False(t, kerr.IsRetriable(fmt.Errorf("%w: %w", ErrFatal, kerr.NotEnoughReplicas)))
}

func TestV1PartitionsAreAddedBeforeTheyMaySend(t *testing.T) {
	r := initialized(t, false)
	tp1 := accumulator.TopicPartition{Topic: "t", Partition: 1}
	require.False(t, r.admit(tp0), "not added yet")
	require.False(t, r.admit(tp1))
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.woken) == 2
	}, waitTime, time.Millisecond, "the partitions are woken once added")
	require.True(t, r.admit(tp0))
	require.True(t, r.admit(tp1))
	var add *protocol.AddPartitionsToTxnRequest
	for _, s := range r.coords.requests {
		if a, ok := s.req.(*protocol.AddPartitionsToTxnRequest); ok {
			add = a
			require.Equal(t, int16(maxAddPartitionsVersion), s.versions.Max, "clients send AddPartitionsToTxn v3 at most")
		}
	}
	require.NotNil(t, add)
	require.Equal(t, int64(42), add.V3AndBelowProducerID)
}

func TestV1AddingRetriesConcurrentTransactions(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.ConcurrentTransactions, kerr.ConcurrentTransactions)
	require.False(t, r.admit(tp0))
	require.Eventually(t, func() bool {
		r.clk.Advance(time.Second) // past the longest backoff
		return r.admit(tp0)
	}, waitTime, time.Millisecond, "the partition was not added through the retries")
	require.Equal(t, InTransaction, r.state())
}

// An AddPartitionsToTxn answer that leaves a partition out says nothing of
// it: the request goes again, and the partition is admitted once an answer
// names it, as the Java client adds only the partitions answered. Before,
// it was taken as added, and its batches went to a partition the
// coordinator never heard of, which no marker would end.
func TestV1AddingAnsweredWithoutThePartitionAsksAgain(t *testing.T) {
	r := initialized(t, false)
	r.coords.leaveOutPartitions(protocol.AddPartitionsToTxn, 2)
	sent := len(r.coords.apis())
	require.False(t, r.admit(tp0))
	require.Eventually(t, func() bool {
		r.clk.Advance(time.Second) // past the longest backoff
		return r.admit(tp0)
	}, waitTime, time.Millisecond, "the partition was not added after the answers that left it out")
	// Asked again after each answer that left it out, and only then.
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.AddPartitionsToTxn, protocol.AddPartitionsToTxn},
		r.coords.apis()[sent:], "asked again after each answer that left the partition out")
	require.Equal(t, InTransaction, r.state())
}

// A partition asked for again while its AddPartitionsToTxn is under way
// (another of its batches drained) waits for that request's answer rather
// than ask the coordinator once more.
func TestV1APartitionAskedForWhileBeingAddedIsAddedOnce(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	sent := len(r.coords.apis())
	require.False(t, r.admit(tp0))
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")
	require.False(t, r.admit(tp0), "admitted before the coordinator answered")
	close(g.open)
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond, "tp0 was not added")
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn}, r.coords.apis()[sent:], "added once")
}

func TestV1AddingRefusedMakesTheTransactionAbortable(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
	require.False(t, r.admit(tp0))
	// The adder fails what waited to be added after it made the
	// transaction abortable, outside the manager's lock: wait for both.
	unsent, _ := r.awaitUnsent()
	require.Len(t, unsent, 1, "what waited to be added fails once")
	require.ErrorIs(t, unsent[0], kerr.TopicAuthorizationFailed)
	require.Equal(t, AbortableError, r.state())
	require.ErrorIs(t, r.m.CheckProduce(), ErrAbortable)
	require.ErrorIs(t, r.m.Commit(context.Background()), ErrAbortable)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, Ready, r.state())
}

// An AddPartitionsToTxn refused with fencing (PRODUCER_FENCED, or
// INVALID_PRODUCER_EPOCH from an older coordinator), the transactional id
// denied, or INVALID_TXN_STATE stops the producer, as the Java client's
// AddPartitionsToTxnHandler stops on each: no abort heals them. Left
// abortable, a caller following the docs would abort, begin again, and
// meet the same refusal at the next transaction's first partition, for
// ever. The batches waiting to be added fail with the fatal error.
func TestV1AddingRefusedForWhatEndsTheProducerIsFatal(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerEpoch,
		kerr.TransactionalIDAuthorizationFailed, kerr.InvalidTxnState} {
		r := initialized(t, false)
		r.coords.fail(protocol.AddPartitionsToTxn, code)
		require.False(t, r.admit(tp0))
		unsent, _ := r.awaitUnsent()
		require.ErrorIs(t, unsent[0], ErrFatal, "%s: what waited to be added", code.Name)
		require.Equal(t, FatalError, r.state(), code.Name)
		err := r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrFatal, code.Name)
		require.ErrorIs(t, err, code, code.Name)
	}
}

// A partition whose first batch of the transaction leaves while the
// commit waits for the records (its linger had not passed when the commit
// began) is admitted: with v2 at once, with v1 once the AddPartitionsToTxn
// the commit's wait let start has added it, before the commit's EndTxn.
// Refused or left unadded, the batch could never be sent, and the commit,
// waiting for its records, would wait until its ctx ended.
func TestAPartitionFirstSentDuringTheCommitIsAdmitted(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		var admitted []bool
		r.duringFlush = func() { admitted = append(admitted, r.admit(tp0)) }
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v", v2)
		require.NotEmpty(t, admitted, "v2=%v: the commit never flushed", v2)
		require.Equal(t, v2, admitted[0], "v2=%v: the first ask, as the commit flushes", v2)
		if v2 {
			require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[1:], "v2: the partition needs no adding")
		} else {
			require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.EndTxn}, r.coords.apis()[1:],
				"v1: the partition is added, then the transaction committed")
			r.mu.Lock()
			require.Equal(t, []accumulator.TopicPartition{tp0}, r.woken, "v1: the partition may send once added")
			r.mu.Unlock()
		}
		require.True(t, r.coords.lastEndTxn(t).Committed, "v2=%v", v2)
	}
}

func TestV2PartitionsNeedNoAdding(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	require.NotContains(t, r.coords.apis(), protocol.AddPartitionsToTxn)
}

func TestCommitFlushesThenEnds(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		require.NoError(t, r.m.Commit(context.Background()))
		require.Equal(t, Ready, r.state())
		require.Equal(t, 2, r.flushed, "a flush, then one for the records still being appended after it")
		require.Equal(t, 1, r.ended, "the partitions must be added anew next time")
		end := r.coords.last()
		require.False(t, end.req.(*protocol.EndTxnRequest).Committed == false)
		if v2 {
			require.Equal(t, int16(5), end.versions.Max)
			require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 1}, r.producerID(), "v2: every transaction ends with a new epoch")
		} else {
			require.Equal(t, int16(4), end.versions.Max)
			require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 0}, r.producerID())
		}
		require.NoError(t, r.m.Begin(), "the next transaction")
	}
}

// A record admitted inside the transaction but still on its way into the
// accumulator when Commit begins (it waits for buffer memory, which the
// commit's flush frees) belongs to the transaction: Commit waits for it and
// flushes again before it ends the transaction. Before, the record was
// appended after Commit's only flush and left to the next transaction.
func TestCommitWaitsForARecordStillBeingProduced(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.EnterProduce())
	firstFlush := make(chan struct{})
	r.mu.Lock()
	r.duringFlush = func() {
		r.mu.Lock()
		first := r.flushed == 1
		r.mu.Unlock()
		if first {
			close(firstFlush)
		}
	}
	r.mu.Unlock()
	committed := make(chan error, 1)
	commitCtx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	go func() { committed <- r.m.Commit(commitCtx) }()

	bounded.Receive(t, firstFlush, waitTime, "Commit did not flush")
	require.ErrorIs(t, r.m.EnterProduce(), ErrState, "no record is admitted once the commit began")
	select {
	case err := <-committed:
		t.Fatalf("Commit returned (%v) while a record of its transaction was still being produced", err)
	default:
	}
	r.m.ExitProduce() // the record is appended
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return once the record was appended"))
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, 2, r.flushed, "a second flush sends the record appended after the first")
	require.Equal(t, 1, r.ended)
}

// A record admitted inside the transaction but still on its way into the
// accumulator when Abort begins (waiting for memory, or about to be held
// for its topic's metadata) belongs to the aborted transaction: Abort
// fails the held records, waits for it, and fails those held again, so
// that what it appended or held fails too. Before, Abort did not wait: the
// record was appended after the abort ended, into the next transaction,
// and committed with it.
func TestAbortWaitsForARecordStillBeingProduced(t *testing.T) {
	r := initialized(t, false)
	require.NoError(t, r.m.EnterProduce())
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()

	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.aborted) == 1
	}, waitTime, time.Millisecond, "the abort failing the batches")
	require.ErrorIs(t, r.m.EnterProduce(), ErrState, "no record is admitted once the abort began")
	select {
	case err := <-aborted:
		t.Fatalf("Abort returned (%v) while a record of its transaction was still being produced", err)
	default:
	}
	r.mu.Lock()
	require.Equal(t, []error{ErrAborted}, r.heldFails, "the held records fail before the abort waits")
	r.mu.Unlock()
	r.m.ExitProduce() // the record is appended, or held
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort did not return"))
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, []error{ErrAborted, ErrAborted}, r.heldFails, "what was held meanwhile fails too")
	require.Equal(t, 1, r.ended)
}

// A record held for its topic's metadata enters its transaction again as
// it is appended (EnterHeld), and only the transaction Produce admitted it
// to, while that transaction takes records. Before, a held record of an
// aborted transaction was appended into whatever transaction was open by
// then.
func TestEnterHeldAdmitsARecordToItsOwnTransactionOnly(t *testing.T) {
	r := initialized(t, false)
	gen := r.m.Generation()
	require.NoError(t, r.m.EnterHeld(gen))
	r.m.ExitProduce()

	require.NoError(t, r.m.EnterProduce()) // holds the abort in Aborting
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Aborting }, waitTime, time.Millisecond)
	require.ErrorIs(t, r.m.EnterHeld(gen), ErrAborted, "while its transaction is being aborted")
	r.m.ExitProduce()
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort did not return"))

	require.NoError(t, r.m.Begin())
	require.ErrorIs(t, r.m.EnterHeld(gen), ErrAborted, "in the next transaction")
	require.NoError(t, r.m.EnterHeld(r.m.Generation()), "a record held in the next transaction")
	r.m.ExitProduce()
	require.NoError(t, r.m.Commit(context.Background()), "no record is left counted")
}

func TestAnEmptyTransactionSendsNoEndTxn(t *testing.T) {
	r := initialized(t, true)
	require.NoError(t, r.m.Commit(context.Background()))
	require.NotContains(t, r.coords.apis(), protocol.EndTxn)
}

func TestACommitWhoseFlushEndsEarlyMayBeTriedAgain(t *testing.T) {
	r := initialized(t, false)
	r.admit(tp0)
	r.flushErr = context.DeadlineExceeded
	require.ErrorIs(t, r.m.Commit(context.Background()), context.DeadlineExceeded)
	require.Equal(t, Committing, r.state())
	r.flushErr = nil
	require.NoError(t, r.m.Commit(context.Background()))
}

// A commit cut short while it waits for its records sent no EndTxn:
// nothing was committed, and Abort ends the transaction.
func TestACommitCutShortBeforeItsEndTxnMayBeAborted(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.flushErr = context.DeadlineExceeded
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotContains(t, err.Error(), "outcome is unknown", "no commit was sent")
	r.flushErr = nil
	require.NoError(t, r.m.Abort(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "the abort's EndTxn")
	require.Equal(t, Ready, r.state())
}

// A commit whose ctx ends once its EndTxn is at the coordinator leaves the
// outcome unknown: the coordinator may have committed the transaction,
// and would then answer an abort INVALID_TXN_STATE, which is fencing (the
// producer would stop, and read_committed consumers see the "aborted"
// records). Abort refuses, sending nothing, and says to commit again; the
// commit asked for again ends the transaction, and the next one begins.
func TestAnAbortAfterACommitWasSentIsRefused(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		ctx, cancel := context.WithCancel(context.Background())
		g, committed := r.commitHeldAtEndTxn(t, ctx)
		cancel()
		err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		require.ErrorContains(t, err, "outcome is unknown: call CommitTransaction again")
		require.Equal(t, Committing, r.state())
		close(g.open) // the coordinator has the commit

		sent := len(r.coords.apis())
		err = r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrState, "v2=%v: an abort after the commit was sent", v2)
		require.ErrorContains(t, err, "may have committed the transaction; call CommitTransaction again")
		require.Len(t, r.coords.apis(), sent, "v2=%v: the abort sent nothing", v2)
		require.Equal(t, Committing, r.state())

		require.NoError(t, r.m.Commit(context.Background()), "v2=%v: the commit again", v2)
		r.coords.mu.Lock()
		end := r.coords.requests[sent].req.(*protocol.EndTxnRequest)
		r.coords.mu.Unlock()
		require.True(t, end.Committed, "v2=%v: EndTxn(commit) sent again", v2)
		require.Equal(t, Ready, r.state())
		require.Equal(t, int16(1), r.producerID().Epoch, "v2=%v: the transaction ends with the next epoch", v2)
		if v2 {
			require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn}, r.coords.apis()[sent-1:], "v2: the answer to the commit asked again gives it")
		} else {
			// The first EndTxn, unanswered, might reach the coordinator
			// in the next transaction: the new epoch fences it.
			require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn, protocol.InitProducerId}, r.coords.apis()[sent-1:], "v1: the bump after the commit asked again")
		}

		// The next transaction's commit, cut short before its EndTxn,
		// may be aborted: what was sent went with the transaction.
		require.NoError(t, r.m.Begin(), "v2=%v: the next transaction", v2)
		r.admit(tp0)
		r.flushErr = context.DeadlineExceeded
		require.ErrorIs(t, r.m.Commit(context.Background()), context.DeadlineExceeded)
		r.flushErr = nil
		require.NoError(t, r.m.Abort(context.Background()), "v2=%v: the next transaction's abort", v2)
	}
}

func TestAFailedRecordMeansAbort(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.NotEnoughReplicas)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")

	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	r.mu.Lock()
	require.Len(t, r.aborted, 1)
	require.ErrorIs(t, r.aborted[0], ErrAborted, "the records not sent, or waiting to be sent again, fail")
	r.mu.Unlock()
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:],
		"v1: the abort, then a new epoch, since a failed batch's sequence is in doubt (KIP-360)")
	require.False(t, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerID == -1, "the bump names the current id")
	require.Equal(t, epoch+1, r.producerID().Epoch)
	require.Equal(t, Ready, r.state())
}

// A failed batch's bump is its own transaction's: the v1 abort that ends
// it takes the new epoch, and the next transaction's abort, nothing having
// failed, keeps the epoch. Carried over, the bump would make every later
// abort ask the coordinator for an epoch nothing needs, a round trip each,
// and use up the epochs of the producer id.
func TestAFailedBatchsBumpEndsWithItsTransaction(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.InitProducerId, r.coords.last().req.Key(), "the abort of the failed batch's transaction")
	require.Equal(t, epoch+1, r.producerID().Epoch)

	require.NoError(t, r.m.Begin())
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.EndTxn, r.coords.last().req.Key(), "the next transaction's abort asked for a new epoch")
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

// A record that fails while an abort waits for the transaction's records
// (a batch in flight, say) leaves the transaction Aborting: it is being
// aborted already. Broken, the failure moved it to AbortableError, and
// after an abort cut short by its ctx, BeginTransaction returned the
// record's error, as for a transaction not yet aborted, rather than say
// that the last AbortTransaction did not finish and must be called again.
func TestARecordFailingWhileAnAbortWaitsForTheRecordsLeavesItAborting(t *testing.T) {
	err := beginAfterAnAbortCutShort(t, func(r *rig) {
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		require.Equal(t, Aborting, r.state(), "the abort under way became %v", r.state())
	})
	require.ErrorIs(t, err, ErrState)
	require.Contains(t, err.Error(), "the last AbortTransaction did not finish: call it again")
}

func TestARecordRefusedBeforeBatchingMeansAbortWithoutANewEpoch(t *testing.T) {
	r := initialized(t, false)
	tooLarge := errors.New("record too large")
	r.m.RecordRejected(tp0, tooLarge)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, tooLarge)

	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId, "nothing was sent: no sequence is in doubt")
	require.Equal(t, epoch, r.producerID().Epoch)
	require.Equal(t, Ready, r.state())

	r.m.RecordRejected(tp0, tooLarge)
	require.Equal(t, Ready, r.state(), "outside a transaction a refusal is only the record's")
}

// A record failed, or refused, with ErrAborted belongs to an aborted
// transaction: one refused as it was appended after its transaction
// ended (EnterHeld) no longer makes the next one abortable.
func TestAbortedRecordsDoNotMakeTheNextAbortable(t *testing.T) {
	r := initialized(t, false)
	r.m.RecordFailed(tp0, ErrAborted)
	require.Equal(t, InTransaction, r.state())
	r.m.RecordRejected(tp0, fmt.Errorf("%w: the record waited for its topic's metadata until its transaction ended", ErrAborted))
	require.Equal(t, InTransaction, r.state(), "refused")
}

// A record refused while a commit waits for the transaction's records (a
// record that waited for its topic's metadata in vain, refused as the
// commit's flush runs, maybe from a callback) stops the commit, as one
// refused before it began does, and leaves no sequence in doubt.
func TestARecordRefusedDuringACommitStopsIt(t *testing.T) {
	r := initialized(t, false)
	refused := errors.New("no metadata within MaxBlock")
	r.duringFlush = func() { r.m.RecordRejected(tp0, refused) }
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, refused)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "no commit was asked for")
	r.duringFlush = nil
	require.NoError(t, r.m.Abort(context.Background()))
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId, "nothing was sent: no sequence is in doubt")
}

// A failure booked with no transaction open (a record the producer's Close
// failed after the abort, say) is the record's alone: it must not make the
// next transaction abortable before it begins.
func TestAFailureWithNoTransactionOpenSparesTheNext(t *testing.T) {
	r := initialized(t, false)
	require.NoError(t, r.m.Commit(context.Background()))
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.CheckProduce())
	require.NoError(t, r.m.Commit(context.Background()))
}

func TestASequenceLostNeedsAnAbortAndANewEpoch(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.m.EpochNeeded(tp0, kerr.OutOfOrderSequenceNumber)
	require.Equal(t, AbortableError, r.state())
	_, err := r.m.State()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.OutOfOrderSequenceNumber, "the error says why")
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, int16(1), r.producerID().Epoch, "v2: the abort's EndTxn gives the new epoch")
	require.NotContains(t, r.coords.apis()[1:], protocol.InitProducerId)
}

// v1: a partition whose sequences must restart (EpochNeeded) is itself
// the reason the abort takes a new epoch (InitProducerId): the manager
// books it, and does not count on the accumulator still reporting the
// partition's doubt when the abort asks (SequencesInDoubt, false here).
// Without the epoch, the partition could never send again.
func TestAV1SequenceLostGetsItsNewEpochFromTheAbort(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.m.EpochNeeded(tp0, kerr.OutOfOrderSequenceNumber)
	require.Equal(t, AbortableError, r.state())
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:])
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

func TestFencingIsFatal(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.coords.fail(protocol.EndTxn, kerr.ProducerFenced)
	err := r.m.Commit(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.Equal(t, FatalError, r.state())
	for _, call := range []func() error{r.m.Begin, r.m.CheckProduce,
		func() error { return r.m.Abort(context.Background()) },
		func() error { return r.m.Commit(context.Background()) }} {
		require.ErrorIs(t, call(), kerr.ProducerFenced, "every later call")
	}
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	require.Equal(t, FatalError, r.state())
}

func TestARecordFencedIsFatal(t *testing.T) {
	r := initialized(t, false)
	r.m.RecordFailed(tp0, kerr.ProducerFenced)
	require.ErrorIs(t, r.m.CheckProduce(), ErrFatal)
}

// A failed batch leaves the transaction to abort, and the transaction's
// error, which every later call and refused record quotes, says which
// partition's batch failed, as a cause: the batch's error does not name it.
// A failure that stops the producer is the producer's, not the partition's
// whose batch heard it first: the error names no partition.
func TestAFailedBatchNamesItsPartitionButAStopNamesNone(t *testing.T) {
	tp3 := accumulator.TopicPartition{Topic: "t", Partition: 3}
	r := initialized(t, true)
	r.m.RecordFailed(tp3, fmt.Errorf("%w: 1 record had no outcome", accumulator.ErrDeliveryTimeout))
	err := r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "a batch of t-3 failed: delivery timeout: 1 record had no outcome")

	r = initialized(t, true)
	r.m.RecordFailed(tp3, fmt.Errorf("%w: it was fenced: %w", accumulator.ErrProducerStopped, kerr.ProducerFenced))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.NotContains(t, err.Error(), "t-3")
}

// A refused record leaves the transaction to abort, and the transaction's
// error says in words whose record was refused, of which partition if one
// was chosen, as a cause: the refusal's error does not name it (the root
// package books its *PartitionError's cause). A refusal that stops the
// producer names no partition.
func TestARefusedRecordNamesItsPartitionButAStopNamesNone(t *testing.T) {
	tp5 := accumulator.TopicPartition{Topic: "t", Partition: 5}
	r := initialized(t, true)
	r.m.RecordRejected(tp5, fmt.Errorf("%w: not appended within DeliveryTimeout", accumulator.ErrDeliveryTimeout))
	err := r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, accumulator.ErrDeliveryTimeout)
	require.Contains(t, err.Error(), "a record of t-5 was refused: delivery timeout: not appended")

	r = initialized(t, true)
	r.m.RecordRejected(accumulator.TopicPartition{Topic: "t", Partition: -1}, errors.New("too large"))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrAbortable)
	require.Contains(t, err.Error(), "a record of t was refused: too large")

	r = initialized(t, true)
	r.m.RecordRejected(tp5, fmt.Errorf("%w: it was fenced: %w", accumulator.ErrProducerStopped, kerr.ProducerFenced))
	err = r.m.CheckProduce()
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.NotContains(t, err.Error(), "t-5")
}

// A record of the transaction refused CLUSTER_AUTHORIZATION_FAILED or
// UNSUPPORTED_VERSION by its partition's leader stops the producer, as it
// stops the Java client's (TransactionManager.maybeTransitionToErrorState):
// aborting would not let it write again. Before, the transaction was left
// to abort, and the next one met the same refusal.
func TestARecordRefusedForClusterAuthorizationOrVersionIsFatal(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ClusterAuthorizationFailed, kerr.UnsupportedVersion} {
		t.Run(code.Name, func(t *testing.T) {
			r := initialized(t, false)
			r.addedToTheTransaction(false)
			// As the sender stops the producer for the answer.
			r.m.RecordFailed(tp0, fmt.Errorf("%w: ...: broker 0: %w", accumulator.ErrProducerStopped, code))
			require.Equal(t, FatalError, r.state())
			for _, call := range []func() error{r.m.Begin, r.m.CheckProduce,
				func() error { return r.m.Abort(context.Background()) }} {
				err := call()
				require.ErrorIs(t, err, ErrFatal, "every later call")
				require.ErrorIs(t, err, code, "every later call")
			}
		})
	}
}

// A record whose delivery timed out while its partition's last error was
// UNSUPPORTED_VERSION (a broker refused ApiVersions) or
// CLUSTER_AUTHORIZATION_FAILED leaves the transaction to abort, as any
// timeout does: only a Produce answer carrying those stops the producer.
func TestATimeoutQuotingAnErrorThatStopsOnAnswerOnlyLeavesTheTransactionToAbort(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ClusterAuthorizationFailed, kerr.UnsupportedVersion} {
		t.Run(code.Name, func(t *testing.T) {
			r := initialized(t, false)
			r.addedToTheTransaction(false)
			r.m.RecordFailed(tp0, fmt.Errorf("%w: ...; the partition's last error: broker 0: %w", accumulator.ErrDeliveryTimeout, code))
			require.Equal(t, AbortableError, r.state())
		})
	}
}

// A coordinator that timed the transaction out aborted it under a new
// epoch. The producer's records fail with INVALID_PRODUCER_EPOCH, which
// leaves the transaction to abort; but under transactions v1 the abort's
// EndTxn, under the old epoch, is answered PRODUCER_FENCED (Kafka 2.7+;
// INVALID_PRODUCER_EPOCH before), as another producer taking over the id is
// answered, and the producer stops, as the Java client's does. It asks for
// no new epoch then: the coordinator, which forgot the old epoch at the
// timeout, would refuse it too.
func TestAV1TransactionTheCoordinatorTimedOutIsFatalAtItsAbort(t *testing.T) {
	for _, answer := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerEpoch} {
		r := initialized(t, false)
		r.addedToTheTransaction(false)
		r.coords.timeOut()
		r.m.RecordFailed(tp0, kerr.InvalidProducerEpoch)
		require.Equal(t, AbortableError, r.state(), "an epoch refused on a record: abortable, not fatal")
		if answer != kerr.ProducerFenced { // the fake's own answer to an old epoch
			r.coords.fail(protocol.EndTxn, answer)
		}
		sent := len(r.coords.apis())
		err := r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrFatal, "EndTxn answered %v", answer.Name)
		require.ErrorIs(t, err, kerr.ProducerFenced, "EndTxn answered %v", answer.Name)
		require.ErrorIs(t, err, answer)
		require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[sent:], "EndTxn answered %v: no InitProducerId after", answer.Name)
		require.Equal(t, FatalError, r.state())
	}
}

// An abort that must bump the epoch (v1, a record failed) is cut short while
// its InitProducerId is at the coordinator, which bumps the epoch though the
// answer is lost. Called again (AbortTransaction says it may be), or by
// Close, it sends no second EndTxn: under the old epoch the coordinator
// would answer it PRODUCER_FENCED and end the producer. It asks for the bump
// again, which the coordinator takes as a retry and answers with the epoch
// it gave (KIP-360), and the next transaction commits under it.
func TestAnAbortCalledAgainAfterItsEpochBumpWasCutShortSendsNoSecondEndTxn(t *testing.T) {
	for _, again := range []struct {
		name  string
		abort func(*Manager, context.Context) error
	}{{"Abort", (*Manager).Abort}, {"Close", (*Manager).Close}} {
		r := initialized(t, false)
		r.addedToTheTransaction(false)
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		epoch := r.producerID().Epoch
		g := r.coords.holdAnswers(protocol.InitProducerId)
		ctx, cancel := context.WithCancel(context.Background())
		aborted := make(chan error, 1)
		go func() { aborted <- r.m.Abort(ctx) }()
		bounded.Receive(t, g.arrived, waitTime, "no InitProducerId after the abort's EndTxn")
		cancel()
		err := bounded.Receive(t, aborted, waitTime, "Abort did not return after its ctx ended")
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, Aborting, r.state())
		close(g.open)

		sent := len(r.coords.apis())
		require.NoError(t, again.abort(r.m, context.Background()), "%s after the abort was cut short", again.name)
		require.Equal(t, []protocol.APIKey{protocol.InitProducerId}, r.coords.apis()[sent:], "%s: the bump alone", again.name)
		require.Equal(t, epoch, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerEpoch, "%s: the same bump asked again", again.name)
		require.Equal(t, epoch+1, r.producerID().Epoch, "%s: the epoch the coordinator gave the bump cut short", again.name)
		require.Equal(t, Ready, r.state())

		require.NoError(t, r.m.Begin(), "%s: the next transaction", again.name)
		require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond)
		require.NoError(t, r.m.Commit(context.Background()), "%s: the next transaction's commit", again.name)
	}
}

func TestSendOffsets(t *testing.T) {
	group := Group{ID: "g", Generation: 7, MemberID: "m"}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}, {Topic: "in", Partition: 1, Offset: 20, LeaderEpoch: 3}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		require.NoError(t, r.m.SendOffsets(context.Background(), offsets, group))
		apis := r.coords.apis()
		if v2 {
			require.Equal(t, protocol.TxnOffsetCommit, apis[len(apis)-1])
			require.NotContains(t, apis, protocol.AddOffsetsToTxn, "v2: TxnOffsetCommit adds the group itself")
			require.Equal(t, int16(5), r.coords.last().versions.Max)
		} else {
			require.Equal(t, []protocol.APIKey{protocol.AddOffsetsToTxn, protocol.TxnOffsetCommit}, apis[len(apis)-2:])
			require.Equal(t, int16(4), r.coords.last().versions.Max)
		}
		commit := r.coords.last().req.(*protocol.TxnOffsetCommitRequest)
		require.Equal(t, int32(7), commit.GenerationID)
		require.Equal(t, "m", commit.MemberID)
		require.Len(t, commit.Topics, 1)
		require.Len(t, commit.Topics[0].Partitions, 2)
		require.NoError(t, r.m.Commit(context.Background()))
		require.Contains(t, r.coords.apis(), protocol.EndTxn, "offsets alone make the transaction worth ending")
	}
}

// A TxnOffsetCommit answer that leaves a partition out says nothing of its
// offset: the request goes again, as the Java client keeps such a
// partition pending. Before, the offsets counted as sent, and the
// transaction could commit without them, the consumer then reading its
// input again.
func TestSendOffsetsAnsweredWithoutThePartitionAsksAgain(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}, {Topic: "in", Partition: 1, Offset: 20}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.coords.leaveOutPartitions(protocol.TxnOffsetCommit, 1)
		require.NoError(t, r.retrying(func() error { return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}) }))
		commits := 0
		for _, api := range r.coords.apis() {
			if api == protocol.TxnOffsetCommit {
				commits++
			}
		}
		require.Equal(t, 2, commits, "v2=%v: asked again after the answer that left the partitions out", v2)
		require.NoError(t, r.m.Commit(context.Background()))
	}
}

// A group coordinator answering REQUEST_TIMED_OUT timed out writing the
// offsets, as one that lost its partition of the offsets log does: it is
// found again before the retry, as the Java client's TxnOffsetCommit
// handler does. Before, the retry went to the same broker.
func TestSendOffsetsFindsTheGroupCoordinatorAgainAfterATimeout(t *testing.T) {
	group := Group{ID: "g"}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.coords.fail(protocol.TxnOffsetCommit, kerr.RequestTimedOut)
		forgotten := r.coords.forgotten
		require.NoError(t, r.retrying(func() error { return r.m.SendOffsets(context.Background(), offsets, group) }))
		require.Equal(t, forgotten+1, r.coords.forgotten, "v2=%v: the group coordinator found again", v2)
		require.NoError(t, r.m.Commit(context.Background()))
	}
}

// A group coordinator older than Kafka 2.5 speaks TxnOffsetCommit up to
// v2, which has no fields for the consumer's group membership: offsets
// with one are not sent, rather than commit without the check that
// refuses a consumer the group rebalanced away (they went at v2 without
// it, and committed), and the producer stops, as the Java client's does
// on a request no version of which fits. Left abortable, the transaction
// was aborted, and the next one met the same refusal, for ever: a loop
// following the docs committed nothing and never ended. A group without
// membership commits there, unchecked, as the Java client's does.
func TestOffsetsWithAMembershipAnOldGroupCoordinatorCannotCheckStopTheProducer(t *testing.T) {
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}}
	old := map[protocol.APIKey]protocol.VersionRange{protocol.TxnOffsetCommit: {Min: 0, Max: 2}}
	instance := "i"
	ctx := context.Background()
	for _, group := range []Group{{ID: "g", Generation: 7}, {ID: "g", MemberID: "m"}, {ID: "g", InstanceID: &instance}} {
		r := initialized(t, false)
		r.coords.speaks = old
		err := r.m.SendOffsets(ctx, offsets, group)
		require.ErrorIs(t, err, ErrFatal, "%+v", group)
		require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
		var verr *protocol.VersionError
		require.ErrorAs(t, err, &verr)
		require.ErrorContains(t, err, "(Kafka before 2.5) cannot check the consumer's group membership")
		require.ErrorContains(t, err, "create a new producer and send the group's ID alone, or upgrade the brokers")
		require.NotContains(t, r.coords.apis(), protocol.TxnOffsetCommit, "%+v", group)
		require.Equal(t, FatalError, r.state())
		require.ErrorIs(t, r.m.Commit(ctx), ErrFatal)
		require.ErrorIs(t, r.m.Abort(ctx), ErrFatal)
		require.ErrorIs(t, r.m.Begin(), ErrFatal)
	}

	r := initialized(t, false)
	r.coords.speaks = old
	require.NoError(t, r.m.SendOffsets(ctx, offsets, Group{ID: "g"}))
	require.Equal(t, protocol.VersionRange{Min: 0, Max: 4}, r.coords.last().versions)
	require.NoError(t, r.m.Commit(ctx))
}

// A Group and Offsets left at their zero values where unknown (the
// generation and leader epochs) commit them as unknown, -1, as the Java
// client's ConsumerGroupMetadata(groupId) and OffsetAndMetadata(offset) do.
// Before, generation 0 went as a generation the coordinator refused
// (ILLEGAL_GENERATION), and leader epoch 0 as an epoch a consumer
// restarting from it would take later epochs for a truncation by.
func TestSendOffsetsCommitsZeroGenerationAndEpochAsUnknown(t *testing.T) {
	r := initialized(t, false)
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10}, {Topic: "in", Partition: 1, Offset: 20, LeaderEpoch: 3}}
	require.NoError(t, r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"}))
	commit := r.coords.last().req.(*protocol.TxnOffsetCommitRequest)
	require.Equal(t, int32(-1), commit.GenerationID)
	require.Equal(t, int32(-1), commit.Topics[0].Partitions[0].CommittedLeaderEpoch)
	require.Equal(t, int32(3), commit.Topics[0].Partitions[1].CommittedLeaderEpoch, "a known epoch goes as it is")
}

// sendOffsetsCutShort runs SendOffsets until its TxnOffsetCommit is at the
// group coordinator, then ends its ctx before the answer, and returns its
// error and the gate, which stays shut for later TxnOffsetCommits until the test
// opens it.
func (r *rig) sendOffsetsCutShort(offsets []Offset, group Group) (*gate, error) {
	r.t.Helper()
	return r.sendOffsetsCutShortAt(protocol.TxnOffsetCommit, offsets, group)
}

// sendOffsetsCutShortAt is sendOffsetsCutShort with the request of api
// (TxnOffsetCommit, or AddOffsetsToTxn with v1) left unanswered.
func (r *rig) sendOffsetsCutShortAt(api protocol.APIKey, offsets []Offset, group Group) (*gate, error) {
	r.t.Helper()
	g := r.coords.hold(api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.m.SendOffsets(ctx, offsets, group) }()
	bounded.Receive(r.t, g.arrived, waitTime, fmt.Sprintf("no %v after SendOffsets", api))
	cancel()
	return g, bounded.Receive(r.t, done, waitTime, "SendOffsets did not return after its ctx ended")
}

// A request whose connection broke as its caller's ctx ended says that the
// ctx ended, whichever of the two the call saw first: before, a call that
// saw the broken connection first returned its error alone, and the caller
// could not tell by errors.Is that its own ctx had ended.
func TestACallWhoseCtxEndedAsItsConnectionBrokeSaysTheCtxEnded(t *testing.T) {
	r := initialized(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	r.coords.mu.Lock()
	r.coords.lost = fmt.Errorf("AddOffsetsToTxn: %w", conn.ErrDisconnected)
	r.coords.whileLost = cancel
	r.coords.mu.Unlock()
	err := r.m.SendOffsets(ctx, []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}}, Group{ID: "g", Generation: -1})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, conn.ErrDisconnected, "the failure is named too")
}

// A SendOffsets cut short may have left its offsets out of the
// transaction: a commit then would write the records without them, and
// the consumer, restarted, would read their input again and write their
// output twice. The commit refuses, sending nothing, until SendOffsets
// succeeds for the same group and partitions (another partition's does not
// do); sent again, the same offsets let it commit.
func TestACommitAfterSendOffsetsFailedWaitsForThemToBeSentAgain(t *testing.T) {
	group := Group{ID: "g", Generation: -1}
	offsets := []Offset{{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: -1}}
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		g, err := r.sendOffsetsCutShort(offsets, group)
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		require.ErrorContains(t, err, "call it again, or AbortTransaction")
		require.Equal(t, InTransaction, r.state(), "v2=%v: the transaction may still commit, once its offsets are in", v2)
		close(g.open)

		err = r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrState, "v2=%v: a commit without the offsets", v2)
		require.NotErrorIs(t, err, context.Canceled, "the commit's own ctx did not end")
		require.ErrorContains(t, err, "call SendOffsetsToTransaction again, or AbortTransaction")
		require.NotContains(t, r.coords.apis(), protocol.EndTxn, "v2=%v: nothing committed", v2)
		require.Equal(t, InTransaction, r.state())

		require.NoError(t, r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Partition: 1, Offset: 5, LeaderEpoch: -1}}, group))
		require.ErrorIs(t, r.m.Commit(context.Background()), ErrState, "v2=%v: another partition's offsets do not stand for the missing ones", v2)

		require.NoError(t, r.m.SendOffsets(context.Background(), offsets, group), "v2=%v: the same offsets again", v2)
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v", v2)
		require.True(t, r.coords.lastEndTxn(t).Committed, "v2=%v: EndTxn(commit)", v2)
		r.endedWithANewEpochIfV1(v2)
		require.Equal(t, Ready, r.state())
	}
}

// A SendOffsets cut short leaves the abort as the other way on, and its
// offsets are not missing from the next transaction.
func TestATransactionWhoseSendOffsetsFailedMayBeAborted(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		g, err := r.sendOffsetsCutShort([]Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}, Group{ID: "g"})
		require.ErrorIs(t, err, context.Canceled, "v2=%v", v2)
		close(g.open)
		require.NoError(t, r.m.Abort(context.Background()), "v2=%v", v2)
		require.False(t, r.coords.lastEndTxn(t).Committed, "v2=%v: EndTxn(abort)", v2)
		r.endedWithANewEpochIfV1(v2)

		require.NoError(t, r.m.Begin(), "v2=%v: the next transaction", v2)
		r.admit(tp0)
		require.NoError(t, r.m.Commit(context.Background()), "v2=%v: the next transaction commits", v2)
	}
}

// With transactions v1 the coordinator has a transaction only once a
// partition or a group was added to it. When every AddPartitionsToTxn was
// refused, or the only AddOffsetsToTxn never left (its ctx had ended), it
// has none, and answers an abort's EndTxn INVALID_TXN_STATE, which would
// fence the producer: the abort sends none, as the Java client's does, and
// the producer goes on.
func TestV1AnAbortOfNothingAddedSendsNoEndTxn(t *testing.T) {
	offsets := []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}
	for how, addNothing := range map[string]func(t *testing.T, r *rig){
		"partition refused": func(t *testing.T, r *rig) {
			r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
			require.False(t, r.admit(tp0))
			require.Eventually(t, func() bool { return r.state() == AbortableError }, waitTime, time.Millisecond)
		},
		"offsets never sent": func(t *testing.T, r *rig) {
			r.coords.lost = fmt.Errorf("AddOffsetsToTxn: %w: %w", conn.ErrNotSent, context.Canceled)
			err := r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
			require.ErrorIs(t, err, conn.ErrNotSent)
			require.ErrorContains(t, err, "call it again, or AbortTransaction")
		},
	} {
		t.Run(how, func(t *testing.T) {
			r := initialized(t, false)
			addNothing(t, r)
			r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState) // as Kafka answers an abort of no transaction
			require.NoError(t, r.m.Abort(context.Background()))
			require.NotContains(t, r.coords.apis(), protocol.EndTxn, "EndTxn for a transaction the coordinator does not have")
			require.Equal(t, Ready, r.state())
			require.NoError(t, r.m.Begin(), "the next transaction")
		})
	}
}

// A v1 transaction whose only addition went unanswered may be at the
// coordinator, or not: the abort sends EndTxn, and an answer of
// INVALID_TXN_STATE says the addition never landed, nothing to abort; a new
// epoch fences it, should it land later. Once an addition succeeded, the
// same answer is fatal still.
func TestV1AnAbortOfOnlyUnansweredAdditionsMayFindNothingToAbort(t *testing.T) {
	r := initialized(t, false)
	g, err := r.sendOffsetsCutShortAt(protocol.AddOffsetsToTxn, []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, context.Canceled)
	close(g.open)

	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	require.NoError(t, r.m.Abort(context.Background()), "the AddOffsetsToTxn had not landed")
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:],
		"the abort asks, the addition perhaps having landed, and gets a new epoch, which fences it should it land late")
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Begin(), "the next transaction")

	r.addedToTheTransaction(false)
	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	require.ErrorIs(t, r.m.Abort(context.Background()), ErrFatal, "a partition was added: the coordinator has the transaction")
}

// With transactions v2 an abort's EndTxn answered INVALID_TXN_STATE is
// fatal: v1's excuse, that only additions the coordinator never answered
// were made and so there may be nothing to abort, is not v2's, which adds
// nothing. Broken, every such answer under v2 was taken for "nothing to
// abort": the abort succeeded and the next transaction began, though the
// coordinator had refused to end this one.
func TestV2AnAbortAnsweredInvalidTxnStateIsFatal(t *testing.T) {
	r := initialized(t, true)
	r.addedToTheTransaction(true)
	r.coords.fail(protocol.EndTxn, kerr.InvalidTxnState)
	err := r.m.Abort(context.Background())
	require.ErrorIs(t, err, kerr.InvalidTxnState)
	require.ErrorIs(t, err, ErrFatal, "AbortTransaction: %v", err)
	require.Equal(t, FatalError, r.state())
}

func TestSendOffsetsOfAConsumerRebalancedAwayIsAbortable(t *testing.T) {
	r := initialized(t, true)
	r.coords.fail(protocol.TxnOffsetCommit, kerr.IllegalGeneration)
	err := r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, ErrAbortable)
	require.ErrorIs(t, err, kerr.IllegalGeneration)
	require.ErrorIs(t, r.m.SendOffsets(context.Background(), nil, Group{ID: "g"}), ErrAbortable)
}

func TestAConnectionLostOnTheWayIsRetried(t *testing.T) {
	r := initialized(t, true)
	r.coords.lost = fmt.Errorf("TxnOffsetCommit: %w", conn.ErrDisconnected)
	require.NoError(t, r.retrying(func() error {
		return r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	}))
}

// A fenced producer's TxnOffsetCommit is answered INVALID_PRODUCER_EPOCH by
// Kafka's group coordinator (transactions v2): the producer was fenced, and
// says so as it does for PRODUCER_FENCED, the broker's code kept beside it.
func TestAnEpochRefusedByACoordinatorIsFencing(t *testing.T) {
	r := initialized(t, true)
	r.coords.fail(protocol.TxnOffsetCommit, kerr.InvalidProducerEpoch)
	err := r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.ErrorIs(t, err, kerr.InvalidProducerEpoch)
	require.ErrorIs(t, r.m.Begin(), kerr.ProducerFenced, "every later call")
}

// A record fails while the commit waits for the others, some of which can
// never be sent in this transaction (their partition waits for the epoch
// only an abort gives): the commit returns at once, abortable, instead of
// waiting for them until their delivery timeout.
func TestACommitStopsWaitingWhenARecordFails(t *testing.T) {
	r := initialized(t, true)
	r.admit(tp0)
	r.mu.Lock()
	r.flushWait = true
	r.mu.Unlock()
	done := make(chan error, 1)
	go func() { done <- r.m.Commit(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Committing }, waitTime, time.Millisecond)
	r.m.EpochNeeded(tp0, kerr.InvalidRecord)
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrAbortable)
		require.ErrorIs(t, err, kerr.InvalidRecord, "the error names the failure")
	case <-time.After(waitTime):
		t.Fatal("CommitTransaction still waits for records after the transaction failed")
	}
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")

	// The abort fails what waits, and ends with a new epoch.
	r.mu.Lock()
	r.flushWait = false
	r.mu.Unlock()
	require.NoError(t, r.m.Abort(context.Background()))
	r.mu.Lock()
	require.Len(t, r.aborted, 1, "AbortBatches")
	r.mu.Unlock()
	require.Equal(t, Ready, r.state())
}

// The producer's Close from a record's callback, while a commit on another
// goroutine waits for the callbacks queued behind it, tells the commit to
// give up (CloseFromCallback), or Close's abort would wait for it for ever:
// the commit fails with the cause it is given, sending nothing, and Close
// aborts the transaction.
func TestCloseFromCallbackEndsACommitWaitingForItsRecords(t *testing.T) {
	r := initialized(t, false)
	r.admit(tp0)
	// Added, as a record's partition is before its batch is sent: with
	// transactions v1, Close's abort sends EndTxn only then.
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond)
	inFlush := r.holdFlushes()
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(context.Background()) }()
	bounded.Receive(t, inFlush, waitTime, "Commit did not flush")

	closing := errors.New("closing")
	r.m.CloseFromCallback(closing)
	err := bounded.Receive(t, committed, waitTime, "Commit still waits for its records after CloseFromCallback")
	require.ErrorIs(t, err, closing)
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "nothing commits")
	r.mu.Lock()
	r.flushWait = false
	r.mu.Unlock()
	require.NoError(t, r.m.Close(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "Close's EndTxn")
	require.Equal(t, Ready, r.state())
}

// The producer's Close from a record's callback, while an abort on another
// goroutine waits for the callbacks queued behind it: Close's own abort
// waits for that one (the call lock), so it must stop waiting for the
// callbacks, wait for the outcomes alone, and end the transaction.
func TestCloseFromCallbackLetsAnAbortEndWithoutTheCallbacks(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	inFlush := r.holdFlushes()
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	bounded.Receive(t, inFlush, waitTime, "Abort did not flush")

	r.m.CloseFromCallback(errors.New("closing"))
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort still waits for the callbacks after CloseFromCallback"))
	r.mu.Lock()
	awaited := r.awaited
	r.mu.Unlock()
	require.Equal(t, 1, awaited, "the abort waited for the outcomes")
	require.False(t, r.coords.last().req.(*protocol.EndTxnRequest).Committed, "the abort's EndTxn")
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Close(context.Background()), "nothing is left for Close to abort")
}

// A commit whose EndTxn was sent waits for no callback: CloseFromCallback
// leaves it to finish, and Close, refused the abort, returns once it has.
func TestCloseFromCallbackLeavesACommitSent(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	g, committed := r.commitHeldAtEndTxn(t, context.Background())

	r.m.CloseFromCallback(errors.New("closing"))
	closed := make(chan error, 1)
	go func() { closed <- r.m.Close(context.Background()) }()
	close(g.open)
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return"))
	require.NoError(t, bounded.Receive(t, closed, waitTime, "Close did not return once the commit had"))
	require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[len(r.coords.apis())-1:])
	require.True(t, r.coords.last().req.(*protocol.EndTxnRequest).Committed, "the only EndTxn is the commit's")
	require.Equal(t, Ready, r.state())
}

// v1: batches sent and then failed by an abort leave their partitions'
// sequences in doubt; the abort ends with a new epoch (InitProducerId with
// the current one), or the next transaction could not send on them.
func TestAnAbortLeavingSequencesInDoubtBumpsTheEpoch(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.mu.Lock()
	r.inDoubt = true
	r.mu.Unlock()
	epoch := r.producerID().Epoch
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:])
	require.Equal(t, epoch+1, r.producerID().Epoch)

	// Without doubt, an abort keeps the epoch (v1).
	r.mu.Lock()
	r.inDoubt = false
	r.mu.Unlock()
	require.NoError(t, r.m.Begin())
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.Abort(context.Background()))
	require.Equal(t, protocol.EndTxn, r.coords.last().req.Key())
	require.Equal(t, epoch+1, r.producerID().Epoch)
}

// A transaction that follows a commit at once meets CONCURRENT_TRANSACTIONS
// while the coordinator writes the previous one's markers (transactions
// v1): it asks again within 20 ms, not after RetryBackoff (100 ms here).
func TestConcurrentTransactionsAreRetriedSoon(t *testing.T) {
	r := initialized(t, false)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.ConcurrentTransactions)
	require.False(t, r.admit(tp0))
	bounded.Receive(t, r.clk.Armed(), waitTime, "no retry was scheduled after CONCURRENT_TRANSACTIONS")
	r.clk.Advance(concurrentTransactionsBackoff)
	require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond,
		"the partition was not added 20 ms after CONCURRENT_TRANSACTIONS")
}

// Close aborts a transaction under way, and does nothing otherwise.
func TestCloseAbortsATransactionUnderWay(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	require.NoError(t, r.m.Close(context.Background()))
	end := r.coords.last().req.(*protocol.EndTxnRequest)
	require.False(t, end.Committed, "aborted")
	require.Equal(t, Ready, r.state())
	r.mu.Lock()
	require.Len(t, r.aborted, 1, "what was not sent fails")
	r.mu.Unlock()

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Close(context.Background()), "no transaction under way")
	require.Len(t, r.coords.apis(), sent, "nothing sent")
}

// Close leaves a transaction whose commit was sent, its outcome unknown,
// to the coordinator, which may have committed it: the abort refuses it
// (ErrState), and that refusal is no failure of Close, which sends
// nothing and returns nil, as its doc says. Reported, it would fail the
// Close of every producer whose last commit was cut short, though nothing
// was left for Close to do.
func TestCloseLeavesATransactionWhoseCommitWasSent(t *testing.T) {
	r := initialized(t, true)
	r.addedToTheTransaction(true)
	ctx, cancel := context.WithCancel(context.Background())
	g, committed := r.commitHeldAtEndTxn(t, ctx)
	cancel()
	err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
	require.ErrorContains(t, err, "outcome is unknown")
	close(g.open)

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Close(context.Background()))
	require.Len(t, r.coords.apis(), sent, "Close sent nothing")
	require.Equal(t, Committing, r.state(), "the transaction is the coordinator's")
}

// TestAnAbortWaitsForThePartitionsBeingAdded holds the order a v1
// coordinator needs: an AddPartitionsToTxn under way when the abort comes
// is answered before the abort's EndTxn is sent. Sent after the end, it
// would begin another transaction, which nobody would end.
func TestAnAbortWaitsForThePartitionsBeingAdded(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	require.False(t, r.admit(tp0), "a partition is added before it may send")
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.m.Abort(ended)
	require.ErrorIs(t, err, context.Canceled, "an abort whose ctx ends while partitions are being added")
	require.NotContains(t, r.coords.apis(), protocol.EndTxn, "EndTxn sent while AddPartitionsToTxn was under way")

	close(g.open)
	require.NoError(t, r.m.Abort(context.Background()))
	apis := r.coords.apis()
	require.Equal(t, []protocol.APIKey{protocol.AddPartitionsToTxn, protocol.EndTxn}, apis[len(apis)-2:])
	require.Equal(t, Ready, r.state())
}

// A call that finds another under way waits for it no longer than its own
// ctx: Close, or an abort from a record's callback while a commit waits for
// that very callback, must not wait out the commit (here, an EndTxn the
// coordinator holds). Begin, which has no ctx, does not wait.
func TestACallWaitsForAnotherNoLongerThanItsCtx(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	g, committed := r.commitHeldAtEndTxn(t, context.Background())

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"Abort": func() error { return r.m.Abort(ended) },
		"Close": func() error { return r.m.Close(ended) },
		"SendOffsets": func() error {
			return r.m.SendOffsets(ended, []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
		},
		"Init": func() error { return r.m.Init(ended) },
	}
	for name, call := range calls {
		returned := make(chan error, 1)
		go func() { returned <- call() }()
		select {
		case err := <-returned:
			require.ErrorIs(t, err, context.Canceled, "%s while a commit is under way", name)
		case <-time.After(waitTime):
			t.Fatalf("%s waited for the commit under way past its ctx", name)
		}
	}
	// A call whose ctx is alive waits, until its ctx ends. (A call that
	// did not wait would return within the pause; one that waits never
	// does, however slow the machine.)
	live, endLive := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { waiting <- r.m.Abort(live) }()
	select {
	case err := <-waiting:
		t.Fatalf("Abort returned while the commit was under way and its ctx alive: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	endLive()
	require.ErrorIs(t, bounded.Receive(t, waiting, waitTime, "Abort waited for the commit under way past its ctx"), context.Canceled, "Abort, its ctx ended while it waited")

	returned := make(chan error, 1)
	go func() { returned <- r.m.Begin() }()
	require.ErrorIs(t, bounded.Receive(t, returned, waitTime, "Begin waited for the commit under way"), ErrState, "Begin while a commit is under way")

	close(g.open)
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return after its EndTxn's answer"))
	require.Equal(t, Ready, r.state(), "the commit went on undisturbed")
	require.NoError(t, r.m.Begin())
}

// A call retrying against a coordinator that does not answer stops once
// the producer closes: no broker will answer it after that, and retrying
// would only wait out the call's ctx.
func TestACallStopsRetryingWhenTheProducerCloses(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.coords.fail(protocol.EndTxn, kerr.CoordinatorLoadInProgress)
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(context.Background()) }()
	bounded.Receive(t, r.clk.Armed(), waitTime, "no retry of EndTxn was scheduled")
	r.closeProducer()
	select {
	case err := <-committed:
		require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress, "the error names the last failure")
		require.ErrorContains(t, err, "the producer closed")
	case <-time.After(waitTime):
		t.Fatal("CommitTransaction still retries EndTxn after the producer closed")
	}
}

// The coordinator no longer knows the transactional id
// (INVALID_PRODUCER_ID_MAPPING: it expired, or another instance took it
// over and it expired since): whichever answer says so stops the producer
// for good (ErrFatal), as it stops the Java client's since Kafka 4.0
// (KAFKA-18019). Getting a new producer id instead, as before, would fence
// the instance that took the id over and repeat work it already did. The
// abort sends nothing more: no EndTxn, no InitProducerId.
func TestTheCoordinatorForgettingTheTransactionalIDStopsTheProducer(t *testing.T) {
	offsets := []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}
	for _, tc := range []struct {
		name string
		v2   bool
		fail func(r *rig) error // meets the answer, and returns the call's error if any
	}{
		{"Produce", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.m.RecordFailed(tp0, kerr.InvalidProducerIDMapping)
			return nil
		}},
		{"AddPartitionsToTxn", false, func(r *rig) error {
			r.coords.fail(protocol.AddPartitionsToTxn, kerr.InvalidProducerIDMapping)
			r.admit(tp0)
			return nil
		}},
		{"AddOffsetsToTxn", false, func(r *rig) error {
			r.coords.fail(protocol.AddOffsetsToTxn, kerr.InvalidProducerIDMapping)
			return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
		}},
		{"TxnOffsetCommit", true, func(r *rig) error {
			r.coords.fail(protocol.TxnOffsetCommit, kerr.InvalidProducerIDMapping)
			return r.m.SendOffsets(context.Background(), offsets, Group{ID: "g"})
		}},
		{"EndTxn(commit)", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.coords.fail(protocol.EndTxn, kerr.InvalidProducerIDMapping)
			return r.m.Commit(context.Background())
		}},
		{"EndTxn(abort)", true, func(r *rig) error {
			require.True(t, r.admit(tp0))
			r.coords.fail(protocol.EndTxn, kerr.InvalidProducerIDMapping)
			return r.m.Abort(context.Background())
		}},
	} {
		r := initialized(t, tc.v2)
		epoch := r.producerID().Epoch
		if err := tc.fail(r); err != nil {
			require.ErrorIs(t, err, ErrFatal, tc.name)
		}
		require.Eventually(t, func() bool { return r.state() == FatalError }, waitTime, time.Millisecond, tc.name)
		sent := len(r.coords.apis())
		err := r.m.Abort(context.Background())
		require.ErrorIs(t, err, ErrFatal, tc.name)
		require.ErrorIs(t, err, kerr.InvalidProducerIDMapping, tc.name)
		require.ErrorContains(t, err, "no longer knows the transactional id", tc.name)
		require.ErrorContains(t, err, "create a new producer", tc.name)
		require.Empty(t, r.coords.apis()[sent:], "%s: no EndTxn, no new producer id", tc.name)
		require.Equal(t, epoch, r.producerID().Epoch, tc.name)
		require.ErrorIs(t, r.m.Begin(), ErrFatal, "%s: no next transaction", tc.name)
	}
}

// EndTxn v4+ may answer a commit TRANSACTION_ABORTABLE (KIP-890): the
// transaction cannot commit, and the error says to abort, as
// errors.Is(err, ErrAbortable) -> Abort expects; the abort then ends it.
func TestACommitAnsweredTransactionAbortableIsAbortable(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := initialized(t, v2)
		r.addedToTheTransaction(false)
		r.coords.fail(protocol.EndTxn, kerr.TransactionAbortable)
		err := r.m.Commit(context.Background())
		require.ErrorIs(t, err, ErrAbortable, "v2=%v", v2)
		require.ErrorIs(t, err, kerr.TransactionAbortable, "the error names the coordinator's")
		require.Equal(t, AbortableError, r.state())
		require.ErrorIs(t, r.m.Commit(context.Background()), ErrAbortable, "a commit again")

		require.NoError(t, r.m.Abort(context.Background()))
		end, ok := r.coords.last().req.(*protocol.EndTxnRequest)
		require.True(t, ok, "the abort ends with EndTxn")
		require.False(t, end.Committed, "the abort's EndTxn")
		require.Equal(t, Ready, r.state())
		require.NoError(t, r.m.Begin())
	}
}

// A record of the partition whose failure made the transaction abortable
// is told the cause without the partition's name, which the record's own
// error gives (the root package's PartitionError): before, it said the
// partition twice ("producer: topic "t" partition 0: ... AddPartitionsToTxn:
// t-0: ..."). A record of another partition, and every later call, are
// told which partition failed.
func TestARecordOfTheFailedPartitionIsToldTheCauseWithoutItsName(t *testing.T) {
	tp1 := accumulator.TopicPartition{Topic: "t", Partition: 1}
	refused := kerr.TopicAuthorizationFailed.Error()

	t.Run("added partition refused", func(t *testing.T) {
		r := initialized(t, false)
		r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
		require.False(t, r.admit(tp0))
		unsent, other := r.awaitUnsent()
		require.EqualError(t, unsent[0], "adding partitions to the transaction: the transaction must be aborted: AddPartitionsToTxn: "+refused,
			"a batch of the partition refused")
		require.ErrorIs(t, unsent[0], ErrAbortable)
		require.ErrorIs(t, unsent[0], kerr.TopicAuthorizationFailed)
		require.EqualError(t, other[0], "adding partitions to the transaction: the transaction must be aborted: AddPartitionsToTxn: t-0: "+refused,
			"a batch of another partition")

		_, later := r.m.Admit(tp0)
		require.EqualError(t, later, "the transaction must be aborted: AddPartitionsToTxn: "+refused, "a later batch of the partition")
		require.ErrorIs(t, later, kerr.TopicAuthorizationFailed)
		_, ofOther := r.m.Admit(tp1)
		require.EqualError(t, ofOther, "the transaction must be aborted: AddPartitionsToTxn: t-0: "+refused, "a batch of another partition")
		require.ErrorContains(t, r.m.Commit(context.Background()), "AddPartitionsToTxn: t-0: "+refused, "the commit")
	})

	t.Run("batch failed", func(t *testing.T) {
		r := initialized(t, true)
		r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
		_, later := r.m.Admit(tp0)
		require.EqualError(t, later, "the transaction must be aborted: an earlier batch failed: "+kerr.NotEnoughReplicas.Error(),
			"a later batch of the partition")
		require.ErrorIs(t, later, ErrAbortable)
		require.ErrorIs(t, later, kerr.NotEnoughReplicas)
		_, ofOther := r.m.Admit(tp1)
		require.EqualError(t, ofOther, "the transaction must be aborted: a batch of t-0 failed: "+kerr.NotEnoughReplicas.Error(),
			"a batch of another partition")
	})
}

// An AddPartitionsToTxn refused after an abort began leaves the
// transaction nothing of its own to tell: the batches that waited to be
// added fail as the abort's records do, with ErrAborted. Before, they
// failed with "adding partitions to the transaction: %!w(<nil>)", the
// abort having left the transaction without an error to quote; and one
// refused while the abort was beginning named its partition twice.
func TestAPartitionRefusedOnceAnAbortBeganFailsWhatWaitsAsAborted(t *testing.T) {
	r := initialized(t, false)
	g := r.coords.hold(protocol.AddPartitionsToTxn)
	r.coords.fail(protocol.AddPartitionsToTxn, kerr.TopicAuthorizationFailed)
	require.False(t, r.admit(tp0), "a partition is added before it may send")
	bounded.Receive(t, g.arrived, waitTime, "no AddPartitionsToTxn after the first Admit")

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, r.m.Abort(ended), "an abort whose ctx ended while partitions were being added")
	require.Equal(t, Aborting, r.state())
	close(g.open)
	unsent, _ := r.awaitUnsent()
	require.ErrorIs(t, unsent[0], ErrAborted)
	require.NotContains(t, unsent[0].Error(), "%!", "a batch of the partition refused")
	require.NoError(t, r.m.Abort(context.Background()))
}

// A partition refused while the transaction was abortable, whose waiting
// batches fail once the abort has begun, is told the cause without its
// name, as before the abort: its own error names it.
func TestTheFailedPartitionsRecordsAreToldTheCauseWithoutItsNameDuringTheAbort(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	r.m.RecordFailed(tp0, kerr.NotEnoughReplicas)
	g := r.coords.hold(protocol.EndTxn)
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	bounded.Receive(t, g.arrived, waitTime, "the abort sent no EndTxn")
	require.Equal(t, Aborting, r.state())
	require.EqualError(t, r.m.addingFailed(tp0),
		"adding partitions to the transaction: the transaction must be aborted: an earlier batch failed: "+kerr.NotEnoughReplicas.Error())
	require.EqualError(t, r.m.addingFailed(accumulator.TopicPartition{Topic: "t", Partition: 1}),
		"adding partitions to the transaction: the transaction must be aborted: a batch of t-0 failed: "+kerr.NotEnoughReplicas.Error(),
		"a batch of another partition")
	close(g.open)
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "the abort did not return"))
}
