package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
	"github.com/gokafka/producer/record"
)

// fakeConn records requests; the test answers them by hand.
type fakeConn struct {
	requests chan *call
	produce  int16 // the Produce version it negotiated; 0 means v11
	// noProduce, if set, is its Version's error: the broker shares no
	// Produce version with the sender.
	noProduce error

	mu     sync.Mutex
	pauses []time.Duration
	// stuck, while set, holds each SendVersion once its request is taken,
	// as a write that the broker does not read holds the sender.
	stuck chan struct{}
}

type call struct {
	req     *protocol.ProduceRequest
	version int16
	done    func(protocol.Response, error)
}

func (f *fakeConn) SendVersion(_ context.Context, req protocol.Request, v int16, done func(protocol.Response, error)) {
	// Read before the request is handed over: once the test has it, the
	// test may stick the writes after it, not this one.
	f.mu.Lock()
	stuck := f.stuck
	f.mu.Unlock()
	f.requests <- &call{req: req.(*protocol.ProduceRequest), version: v, done: done}
	if stuck != nil {
		<-stuck
	}
}

// stickWrites holds every SendVersion from now on until unstick is called.
func (f *fakeConn) stickWrites() (unstick func()) {
	stuck := make(chan struct{})
	f.mu.Lock()
	f.stuck = stuck
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.stuck = nil
		f.mu.Unlock()
		close(stuck)
	}
}

// Paused keeps the pauses the sender passed on, for throttle_test.go.
func (f *fakeConn) Paused(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, d)
}

func (f *fakeConn) paused() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pauses
}

func (f *fakeConn) Version(protocol.APIKey) (int16, error) {
	if f.noProduce != nil {
		return 0, f.noProduce
	}
	if f.produce == 0 {
		return 11, nil
	}
	return f.produce, nil
}

// rig is one sender over an accumulator, both on a fake clock.
type rig struct {
	t       *testing.T
	clk     *clock.Fake
	acc     *accumulator.Accumulator
	conn    *fakeConn
	s       *Sender
	cancel  context.CancelFunc
	stopped chan struct{}

	mu        sync.Mutex
	outcomes  map[int][]accumulator.Result
	refreshes []string
	hints     []string
}

var parts = []accumulator.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}

// rigConfig is the accumulator's configuration in every rig; mod changes it.
type rigConfig struct {
	acc    func(*accumulator.Config)
	sender func(*Config)
	// ctx, if set, wraps the ctx Run is given, for a test that watches how
	// Run reads it.
	ctx func(context.Context) context.Context
}

func newRig(t *testing.T, mod func(*Config)) *rig {
	return newRigWith(t, rigConfig{sender: mod})
}

func newRigWith(t *testing.T, rc rigConfig) *rig {
	r := &rig{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), conn: &fakeConn{requests: make(chan *call, 16)},
		outcomes: map[int][]accumulator.Result{}, stopped: make(chan struct{})}
	pool := bufferpool.New(1<<20, 16<<10, r.clk)
	accCfg := accumulator.Config{
		BatchSize: 16 << 10, Linger: 0, DeliveryTimeout: time.Minute, MaxBlock: time.Second, MaxInFlight: 5,
		Pool: pool, Clock: r.clk,
		Deliver: func(cb any, res *accumulator.Result) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.outcomes[cb.(int)] = append(r.outcomes[cb.(int)], *res)
		},
		Wake: func(accumulator.TopicPartition) { r.s.Wake() },
	}
	if rc.acc != nil {
		rc.acc(&accCfg)
	}
	r.acc = accumulator.New(accCfg)
	cfg := Config{
		Node: 1, Acks: -1, Timeout: 30 * time.Second, MaxRequestSize: 1 << 20, MaxInFlight: 5,
		RetryBackoff: 100 * time.Millisecond, RetryBackoffMax: time.Second,
		Accumulator: r.acc, Clock: r.clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Counters: &Counters{},
	}
	cfg.Hooks = Hooks{
		Partitions: func() []accumulator.TopicPartition { return parts },
		Connect:    func(context.Context) (Conn, error) { return r.conn, nil },
		RefreshMetadata: func(reason string) {
			r.mu.Lock()
			r.refreshes = append(r.refreshes, reason)
			r.mu.Unlock()
		},
		LeaderHint: func(topic string, _ wire.UUID, p, leader, epoch int32, ep *protocol.ProduceResponseNodeEndpoint) bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.hints = append(r.hints, fmt.Sprintf("%s-%d->%d@%d host=%v", topic, p, leader, epoch, ep != nil && ep.Host == "b2"))
			return epoch > 0 // the tests' known epoch is 0: a positive one is news
		},
	}
	if rc.sender != nil {
		rc.sender(&cfg)
	}
	r.s = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	var runCtx context.Context = ctx
	if rc.ctx != nil {
		runCtx = rc.ctx(ctx)
	}
	go func() {
		defer close(r.stopped)
		r.s.Run(runCtx)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() {
	r.cancel()
	r.awaitStopped("sender did not stop")
}

// awaitStopped waits for Run to return, failing the test with what if it
// does not within 10s.
func (r *rig) awaitStopped(what string) {
	r.t.Helper()
	bounded.Receive(r.t, r.stopped, 10*time.Second, what)
}

// produce appends a record to tp, with id as its callback value, and wakes
// the sender whatever the append says.
func (r *rig) produce(tp accumulator.TopicPartition, id int) {
	r.t.Helper()
	r.appendRecord(tp, id)
	r.s.Wake()
}

// appendRecord appends a record to tp, with id as its callback value.
func (r *rig) appendRecord(tp accumulator.TopicPartition, id int) accumulator.AppendResult {
	r.t.Helper()
	res, err := r.acc.Append(context.Background(), tp, nil, &accumulator.Record{Data: record.Data{TimestampMs: 1000, Value: []byte(fmt.Sprint("v", id))}, Callback: id})
	require.NoError(r.t, err)
	return res
}

// next waits for the sender's next request.
func (r *rig) next() *call {
	r.t.Helper()
	select {
	case c := <-r.conn.requests:
		return c
	case <-time.After(10 * time.Second):
		r.t.Fatal("no ProduceRequest within 10s")
		return nil
	}
}

// afterBackoff waits until the sender has armed its backoff timer, moves the
// fake clock past the longest backoff the jitter allows, and returns the
// request that follows.
func (r *rig) afterBackoff(longest time.Duration) *call {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
		"the sender armed no backoff timer within 10s")
	select {
	case c := <-r.conn.requests:
		r.t.Fatalf("a request (%v) was sent before the backoff ended", c.req.Topics)
	default:
	}
	// The sender may re-arm its timer (a wake between two passes) after
	// the clock moved, so the clock moves until the request comes.
	var c *call
	require.Eventually(r.t, func() bool {
		r.clk.Advance(longest)
		select {
		case c = <-r.conn.requests:
			return true
		case <-time.After(time.Millisecond):
			return false
		}
	}, 10*time.Second, time.Millisecond, "no ProduceRequest within 10s of the backoff")
	return c
}

// passed waits until the sender has made a whole pass after everything
// the test did before: a wake the sender takes starts a pass, and it takes
// the next wake only once that pass has ended. A test that checks that
// nothing was sent checks after it, not at a moment the sender may not
// have reached yet.
func (r *rig) passed() {
	r.t.Helper()
	for range 2 {
		r.s.Wake()
		require.Eventually(r.t, func() bool { return len(r.s.wake) == 0 }, 10*time.Second, time.Millisecond,
			"the sender took no wake within 10s")
	}
}

func (r *rig) outcome(id int) accumulator.Result {
	r.t.Helper()
	results := func() []accumulator.Result {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.outcomes[id]
	}
	require.Eventually(r.t, func() bool { return len(results()) > 0 }, 10*time.Second, time.Millisecond,
		"record %d got no outcome within 10s", id)
	rs := results()
	require.Len(r.t, rs, 1, "record %d must have exactly one outcome", id)
	return rs[0]
}

// answer builds a response giving each partition of req the code and offset.
func answer(req *protocol.ProduceRequest, code int16, offset int64) *protocol.ProduceResponse {
	resp := &protocol.ProduceResponse{}
	for _, t := range req.Topics {
		rt := protocol.ProduceResponseTopic{Name: t.Name}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, protocol.ProduceResponsePartition{
				Index: p.Index, ErrorCode: code, BaseOffset: offset, LogAppendTimeMs: -1, LogStartOffset: -1})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func TestSuccessCompletesWithOffsets(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	r.produce(parts[0], 2)
	c := r.next()
	require.Equal(t, int16(-1), c.req.Acks)
	require.Equal(t, int32(30000), c.req.TimeoutMs)
	require.Len(t, c.req.Topics, 1)
	batch, _, err := record.DecodeBatch(c.req.Topics[0].Partitions[0].Records)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(batch.Records), 1)
	c.done(answer(c.req, 0, 40), nil)
	if len(batch.Records) == 1 { // record 2 arrived after the first drain
		c2 := r.next()
		c2.done(answer(c2.req, 0, 41), nil)
	}
	require.Equal(t, int64(40), r.outcome(1).Offset)
	require.Equal(t, int64(41), r.outcome(2).Offset)
}

func TestRetriableErrorRetriesAfterBackoffWithSameBytes(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[1], 1)
	c := r.next()
	sent := append([]byte(nil), c.req.Topics[0].Partitions[0].Records...)
	c.done(answer(c.req, kerr.NotLeaderOrFollower.Code, -1), nil)

	retry := r.afterBackoff(120 * time.Millisecond)
	require.Equal(t, sent, retry.req.Topics[0].Partitions[0].Records, "a retry resends the identical batch")
	retry.done(answer(retry.req, 0, 7), nil)
	require.Equal(t, int64(7), r.outcome(1).Offset)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Contains(t, r.refreshes, "NOT_LEADER_OR_FOLLOWER", "NOT_LEADER_OR_FOLLOWER asks for fresh metadata")
	require.Equal(t, int64(1), r.s.cfg.Counters.Retries.Load())
}

// A retry or a split is counted before its batches can go again: the
// sender woken for them may send them, and their outcome come, before the
// goroutine that handed them back runs on, so a Send that returned could
// see nothing counted. Both were counted after the accumulator returned.
func TestARetryOrSplitIsCountedBeforeItsBatchesCanGoAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int16
		counter func(*Counters) *atomic.Int64
		atOnce  int // requests sent without a backoff, answered so that the rig stops
	}{
		{"retry", kerr.NotLeaderOrFollower.Code, func(c *Counters) *atomic.Int64 { return &c.Retries }, 0},
		{"split", kerr.MessageTooLarge.Code, func(c *Counters) *atomic.Int64 { return &c.Splits }, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *rig
			var answered atomic.Bool
			var countedAtWake atomic.Int64
			countedAtWake.Store(-1)
			r = newRigWith(t, rigConfig{
				sender: func(c *Config) { c.MaxInFlight = 1 },
				acc: func(c *accumulator.Config) {
					c.Wake = func(accumulator.TopicPartition) {
						if answered.Load() {
							countedAtWake.CompareAndSwap(-1, tc.counter(r.s.cfg.Counters).Load())
						}
						r.s.Wake()
					}
				},
			})
			// Held on a first request, the sender lets two records share
			// a batch, which can be split.
			r.produce(parts[1], 0)
			first := r.next()
			r.produce(parts[0], 1)
			r.produce(parts[0], 2)
			first.done(answer(first.req, 0, 0), nil)
			refused := r.next()
			answered.Store(true)
			refused.done(answer(refused.req, tc.code, -1), nil)
			require.Eventually(t, func() bool { return countedAtWake.Load() >= 0 }, 10*time.Second, time.Millisecond,
				"no wake for the batches sent back within 10s")
			require.Equal(t, int64(1), countedAtWake.Load(), "counted when the batches went back")
			for range tc.atOnce {
				c := r.next()
				c.done(answer(c.req, 0, 10), nil)
			}
		})
	}
}

func TestFatalErrorFailsWithBrokerMessage(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.TopicAuthorizationFailed.Code, -1)
	msg := "denied for user alice"
	resp.Topics[0].Partitions[0].ErrorMessage = &msg
	c.done(resp, nil)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, kerr.TopicAuthorizationFailed)
	require.Contains(t, out.Err.Error(), msg)
	require.Equal(t, int64(-1), out.Offset)
}

func TestMessageTooLargeSplitsBatch(t *testing.T) {
	splitsFourInTwo(t, kerr.MessageTooLarge)
}

func TestSingleRecordTooLargeFails(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(answer(c.req, kerr.MessageTooLarge.Code, -1), nil)
	require.ErrorIs(t, r.outcome(1).Err, kerr.MessageTooLarge)
}

func TestBrokenConnectionRetries(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	c.done(nil, io.ErrUnexpectedEOF)
	retry := r.afterBackoff(120 * time.Millisecond)
	retry.done(answer(retry.req, 0, 3), nil)
	require.Equal(t, int64(3), r.outcome(1).Offset)
}

func TestDeliveryTimeoutStopsRetries(t *testing.T) {
	r := newRigWith(t, rigConfig{acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second }})
	r.produce(parts[0], 1)
	c := r.next()
	r.clk.Advance(time.Second)
	c.done(answer(c.req, kerr.NotEnoughReplicas.Code, -1), nil)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, accumulator.ErrDeliveryTimeout)
	require.ErrorIs(t, out.Err, kerr.NotEnoughReplicas, "the last broker error is kept")
	// A batch that fails rather than going again is no retry (it counted
	// as one before).
	require.Zero(t, r.s.cfg.Counters.Retries.Load())
	require.Equal(t, int64(1), r.s.cfg.Counters.Requests.Load())
}

func TestAcksZeroCompletesOnWrite(t *testing.T) {
	r := newRig(t, func(c *Config) { c.Acks = 0 })
	r.produce(parts[0], 1)
	c := r.next()
	require.Equal(t, int16(0), c.req.Acks)
	c.done(nil, nil)
	out := r.outcome(1)
	require.NoError(t, out.Err)
	require.Equal(t, int64(-1), out.Offset)
}

// MaxInFlight bounds the requests awaiting answers, even for a full
// batch, which would go behind one in flight otherwise. A batch that is
// not full waits for the answer anyway, so with one the bound went
// unchecked: sending MaxInFlight+1 requests passed.
func TestMaxInFlightBoundsPipelining(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxInFlight = 1 })
	r.produce(parts[0], 1)
	first := r.next()
	r.produceFull(parts[1], 2)
	r.passed()
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a second request (partitions %v) was sent while the first awaited its answer", c.partitions())
	default:
	}
	first.done(answer(first.req, 0, 0), nil)
	second := r.next()
	require.Equal(t, int32(1), second.req.Topics[0].Partitions[0].Index)
	second.done(answer(second.req, 0, 0), nil)
	r.outcome(2)
}

// produceFull appends a record that fills a batch of its own to tp, with
// id as its callback value, and wakes the sender.
func (r *rig) produceFull(tp accumulator.TopicPartition, id int) {
	r.t.Helper()
	_, err := r.acc.Append(context.Background(), tp, nil, &accumulator.Record{
		Data: record.Data{TimestampMs: 1000, Value: make([]byte, 16<<10)}, Callback: id})
	require.NoError(r.t, err)
	r.s.Wake()
}

// partitions lists the partitions of the request's first topic, in order.
func (c *call) partitions() (got []int32) {
	for _, p := range c.req.Topics[0].Partitions {
		got = append(got, p.Index)
	}
	return got
}

// With a request in flight, records that fill no batch wait for its answer
// and then go together, rather than each behind it in a request of its
// own; a full batch goes at once, up to MaxInFlight, and takes the waiting
// ones along.
func TestRecordsWaitForTheAnswerInFlightUnlessTheyFillABatch(t *testing.T) {
	r := newRig(t, nil) // no linger, MaxInFlight 5
	r.produce(parts[0], 1)
	first := r.next()
	r.produce(parts[0], 2)
	r.produceFull(parts[1], 3)
	full := r.next()
	require.ElementsMatch(t, []int32{0, 1}, full.partitions(), "the full batch goes before the answer, with the waiting one")
	r.produce(parts[0], 4)
	r.produce(parts[1], 5)
	first.done(answer(first.req, 0, 0), nil)
	full.done(answer(full.req, 0, 10), nil)
	after := r.next()
	require.ElementsMatch(t, []int32{0, 1}, after.partitions(), "the records that came meanwhile go in one request")
	after.done(answer(after.req, 0, 20), nil)
	for id := 1; id <= 5; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

// A waiting batch that a full batch's request leaves out, for lack of
// room, goes in the next request while the first is still in flight: it
// does not wait for an answer that another request will follow.
func TestABatchLeftOutOfARequestGoesWithoutWaitingForTheAnswer(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxRequestSize = 16<<10 + 100 }) // a full batch and nothing beside it
	r.produce(parts[0], 1)
	first := r.next()
	r.produce(parts[0], 2)
	r.produceFull(parts[1], 3)
	full := r.next()
	require.Equal(t, []int32{1}, full.partitions(), "the full batch goes alone: the waiting one does not fit beside it")
	left := r.next()
	require.Equal(t, []int32{0}, left.partitions(), "the batch left out goes next, with both requests still in flight")
	first.done(answer(first.req, 0, 0), nil)
	full.done(answer(full.req, 0, 10), nil)
	left.done(answer(left.req, 0, 1), nil)
	for id := 1; id <= 3; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

func TestLeaderHintRetriesAtOnce(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
	resp.Topics[0].Partitions[0].CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: 2, LeaderEpoch: 9}
	resp.NodeEndpoints = []protocol.ProduceResponseNodeEndpoint{{NodeID: 2, Host: "b2", Port: 9092}}
	c.done(resp, nil)
	retry := r.next() // no clock advance: a hinted retry has no backoff
	retry.done(answer(retry.req, 0, 5), nil)
	require.Equal(t, int64(5), r.outcome(1).Offset)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, []string{"t-0->2@9 host=true"}, r.hints)
	require.NotContains(t, r.refreshes, "NOT_LEADER_OR_FOLLOWER", "the hint makes a refresh unnecessary")
}

func TestAbortFailsInFlightBatches(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	r.acc.Abort(errors.New("closing")) // what Close does before it stops the senders
	r.cancel()
	c.done(nil, errors.New("connection closed"))
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, accumulator.ErrClosed)
	require.ErrorIs(t, out.Err, accumulator.ErrMaybeWritten, "the request was written and went unanswered")
}

// A request that has no room for a partition's batch starts the next
// drain at that partition: a partition early in the broker's list whose
// batches fill every request does not keep a later one waiting behind all
// of them, as long as its DeliveryTimeout. Drained from the list's start
// every time, partition 1 here went after both of partition 0's batches.
func TestAPartitionLeftOutForRoomGoesFirstInTheNextRequest(t *testing.T) {
	r := newRig(t, func(c *Config) {
		c.MaxInFlight = 1
		c.MaxRequestSize = 16<<10 + 100 // a full batch and nothing beside it
	})
	// Held on a first request, the sender finds two full batches for
	// partition 0 and one for partition 1 once it is answered.
	r.produce(parts[1], 0)
	first := r.next()
	r.produceFull(parts[0], 1)
	r.produceFull(parts[0], 2)
	r.produceFull(parts[1], 3)
	first.done(answer(first.req, 0, 0), nil)
	var order []int32
	for range 3 {
		c := r.next()
		order = append(order, c.partitions()...)
		c.done(answer(c.req, 0, 10), nil)
	}
	require.Equal(t, []int32{0, 1, 0}, order, "the partitions of the requests after the first, in order")
	for id := 0; id <= 3; id++ {
		require.NoError(t, r.outcome(id).Err, "record %d", id)
	}
}

// A batch whose DeliveryTimeout passes while its broker is dialled is not
// sent once the connection is up: Drain reads the clock after Connect, and
// the batch waits for Expire, which fails it as never sent. Drained at the
// time read before the dial, it went out past its deadline, and Expire,
// finding it in flight, failed it as maybe written, though its request
// might be refused unwritten.
func TestABatchThatTimesOutDuringTheDialIsNotSent(t *testing.T) {
	var r *rig
	r = newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) { c.DeliveryTimeout = time.Second },
		sender: func(c *Config) {
			c.Hooks.Connect = func(context.Context) (Conn, error) {
				r.clk.Advance(time.Second) // the dial took the whole DeliveryTimeout
				return r.conn, nil
			}
		},
	})
	r.produce(parts[0], 1)
	r.passed()
	select {
	case c := <-r.conn.requests:
		t.Fatalf("a batch past its DeliveryTimeout was sent (partitions %v)", c.partitions())
	default:
	}
	r.acc.Expire(r.clk.Now())
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, accumulator.ErrDeliveryTimeout)
	require.NotErrorIs(t, out.Err, accumulator.ErrMaybeWritten)
}

func TestStaleLeaderHintKeepsTheBackoff(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	c := r.next()
	resp := answer(c.req, kerr.NotLeaderOrFollower.Code, -1)
	resp.Topics[0].Partitions[0].CurrentLeader = &protocol.ProduceResponseLeader{LeaderID: 1, LeaderEpoch: 0}
	c.done(resp, nil)
	retry := r.afterBackoff(120 * time.Millisecond) // fails if the retry came before the backoff
	retry.done(answer(retry.req, 0, 5), nil)
	require.Equal(t, int64(5), r.outcome(1).Offset)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Contains(t, r.refreshes, "NOT_LEADER_OR_FOLLOWER", "a hint without news leaves metadata to a refresh")
}

// A sender connects only once a batch is ready: a broker with nothing to
// send gets no connection (and a dead one no metadata refreshes).
func TestConnectsOnlyWhenABatchIsReady(t *testing.T) {
	var passes, connects atomic.Int32
	r := newRig(t, func(c *Config) {
		parts := c.Hooks.Partitions
		c.Hooks.Partitions = func() []accumulator.TopicPartition { passes.Add(1); return parts() }
		connect := c.Hooks.Connect
		c.Hooks.Connect = func(ctx context.Context) (Conn, error) { connects.Add(1); return connect(ctx) }
	})
	// Two woken passes: the second begins only after the first has ended,
	// so a connection made by the first would be counted by then.
	for want := int32(1); want <= 2; want++ {
		r.s.Wake()
		require.Eventually(t, func() bool { return passes.Load() >= want }, 10*time.Second, time.Millisecond,
			"the sender made no pass within 10s of a wake")
	}
	require.Zero(t, connects.Load(), "connected with nothing to send")

	r.produce(parts[0], 1)
	c := r.next()
	c.done(answer(c.req, 0, 0), nil)
	r.outcome(1)
	require.Positive(t, connects.Load())
}

// The sender arms its timer at the deadline of the pass that read the
// clock, so an Advance that lands between that reading and the arming
// (here every time: the fake runs it just before) still wakes it when the
// batch's linger ends. Armed for the time left, read before the Advance,
// the timer counted it again: the batch, ready at the linger's end, waited
// for a second linger the clock never reached.
func TestTheSenderWakesAtItsDeadlineThoughTheClockMovedBeforeItsTimer(t *testing.T) {
	const linger = time.Second
	var start time.Time
	r := newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) { c.Linger = linger },
		sender: func(c *Config) {
			// Appended before the sender runs: its first pass finds the
			// batch lingering, and nothing wakes it but its timer.
			start = c.Clock.Now()
			_, err := c.Accumulator.Append(context.Background(), parts[0], nil,
				&accumulator.Record{Data: record.Data{TimestampMs: 1000, Value: []byte("v1")}, Callback: 1})
			require.NoError(t, err)
			fake := c.Clock.(*clock.Fake)
			var once sync.Once
			fake.BeforeArm(func(deadline time.Time) {
				if deadline.Equal(start.Add(linger)) {
					once.Do(func() { fake.Advance(linger) })
				}
			})
		},
	})
	c := r.next()
	c.done(answer(c.req, 0, 0), nil)
	r.outcome(1)
}

// A leader that appended a batch but could not replicate it in time says
// so (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND): if the batch
// fails later, it may have been written. So may a batch answered
// KAFKA_STORAGE_ERROR (the flush after an append failed), or
// NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION with acks=all and the
// base offset of an append: Kafka answers so when the partition leaves the
// leader while it waits for its followers (in a controlled shutdown, say).
// NOT_ENOUGH_REPLICAS, and those two with base offset -1 or acks=1, refuse
// before appending: a later failure was certainly not written.
func TestAnAnswerOfAppendedButNotReplicatedMakesTheBatchMaybeWritten(t *testing.T) {
	for _, tc := range []struct {
		code         *kerr.Error
		baseOffset   int64
		acks         int16
		maybeWritten bool
	}{
		{kerr.RequestTimedOut, -1, -1, true},
		{kerr.NotEnoughReplicasAfterAppend, -1, -1, true},
		{kerr.NotEnoughReplicas, -1, -1, false},
		{kerr.NotEnoughReplicas, 7, -1, false},
		{kerr.NotLeaderOrFollower, 7, -1, true},
		{kerr.NotLeaderOrFollower, 0, -1, true},
		{kerr.UnknownTopicOrPartition, 7, -1, true},
		{kerr.KafkaStorageError, 7, -1, true},
		{kerr.KafkaStorageError, -1, 1, true},
		{kerr.NotLeaderOrFollower, -1, -1, false},
		{kerr.NotLeaderOrFollower, 7, 1, false},
	} {
		t.Run(fmt.Sprintf("%s/base_offset_%d/acks_%d", tc.code.Name, tc.baseOffset, tc.acks), func(t *testing.T) {
			r := newRig(t, func(c *Config) { c.Acks = tc.acks })
			r.produce(parts[0], 1)
			c := r.next()
			c.done(answer(c.req, tc.code.Code, tc.baseOffset), nil)
			require.Eventually(t, func() bool { return r.clk.Timers() > 0 }, 10*time.Second, time.Millisecond,
				"the sender armed no backoff timer: the answer was not booked as a retry")
			r.acc.Abort(errors.New("closing"))
			out := r.outcome(1)
			require.ErrorIs(t, out.Err, accumulator.ErrClosed)
			require.Equal(t, tc.maybeWritten, errors.Is(out.Err, accumulator.ErrMaybeWritten), "%v", out.Err)
		})
	}
}
