package sender

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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

// refreshesAsked is the reasons the sender gave for each metadata refresh
// it asked for, in order.
func (r *rig) refreshesAsked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.refreshes)
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
