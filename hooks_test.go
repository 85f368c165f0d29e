package producer

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// recorder is a hook of every event. It notes each event, and which of
// them ran off the goroutine the documentation promises.
type recorder struct {
	mu         sync.Mutex
	p          *Producer
	newCalls   int
	buffered   []string // topics
	acked      []RecordAcknowledged
	ackCtx     []context.Context
	batches    []BatchWritten
	written    []RequestWritten
	answered   []RequestAnswered
	opened     []ConnectionOpened
	closed     []ConnectionClosed
	retried    []BatchRetried
	throttled  []Throttled
	ids        []ProducerID
	restarts   []SequenceRestart
	misplaced  []string // events that ran on a goroutine they should not
	bufferedBy func(ctx context.Context, r Record) context.Context
}

// delivered notes an event that must run on the delivery goroutine.
func (r *recorder) delivered(what string) {
	if !r.p.acc.InCallback() {
		r.misplaced = append(r.misplaced, what)
	}
}

func (r *recorder) OnNewProducer(p *Producer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p = p
	r.newCalls++
}

func (r *recorder) OnRecordBuffered(ctx context.Context, rec Record) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p.acc.InCallback() {
		r.misplaced = append(r.misplaced, "buffered")
	}
	r.buffered = append(r.buffered, rec.Topic)
	if r.bufferedBy != nil {
		return r.bufferedBy(ctx, rec)
	}
	return ctx
}

func (r *recorder) OnRecordAcknowledged(ctx context.Context, a RecordAcknowledged) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered("acknowledged")
	r.acked = append(r.acked, a)
	r.ackCtx = append(r.ackCtx, ctx)
}

// note records event e, of the kind named what, in dst: each hook below is
// one of these, checked to run on the delivery goroutine.
func note[E any](r *recorder, what string, dst *[]E, e E) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delivered(what)
	*dst = append(*dst, e)
}

func (r *recorder) OnBatchWritten(e BatchWritten)         { note(r, "batch written", &r.batches, e) }
func (r *recorder) OnRequestWritten(e RequestWritten)     { note(r, "request written", &r.written, e) }
func (r *recorder) OnRequestAnswered(e RequestAnswered)   { note(r, "request answered", &r.answered, e) }
func (r *recorder) OnConnectionOpened(e ConnectionOpened) { note(r, "connection opened", &r.opened, e) }
func (r *recorder) OnConnectionClosed(e ConnectionClosed) { note(r, "connection closed", &r.closed, e) }
func (r *recorder) OnBatchRetried(e BatchRetried)         { note(r, "batch retried", &r.retried, e) }
func (r *recorder) OnThrottled(e Throttled)               { note(r, "throttled", &r.throttled, e) }
func (r *recorder) OnProducerID(e ProducerID)             { note(r, "producer id", &r.ids, e) }
func (r *recorder) OnSequenceRestart(e SequenceRestart)   { note(r, "sequence restart", &r.restarts, e) }

// locked runs f under the recorder's lock, to read what it noted.
func (r *recorder) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

type ctxKey struct{}

// Every event of a produce with a retry and a throttle reaches the hooks,
// with the figures of what happened, on the goroutine its documentation
// names; the context the buffered hook returns reaches the acknowledged
// hook.
func TestHooksSeeEveryEvent(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}})
	var requests sync.Map
	c.OnProduce(func(node int32, _ *protocol.ProduceRequest) fakebroker.Action {
		n, _ := requests.LoadOrStore(node, new(int))
		*n.(*int)++
		switch *n.(*int) {
		case 1: // each broker refuses its first request, retriably
			return fakebroker.FailAll(kerr.NotEnoughReplicas, "")
		case 2: // and throttles its second
			return fakebroker.Action{Throttle: 7 * time.Millisecond}
		}
		return fakebroker.Action{}
	})
	rec := &recorder{bufferedBy: func(ctx context.Context, r Record) context.Context {
		return context.WithValue(ctx, ctxKey{}, string(r.Value))
	}}
	p := newProducer(t, c, func(cfg *Config) { cfg.Hooks = []Hook{rec} })
	const n = 10
	for i := range n {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Partition: int32(i % 2), ExplicitPartition: true, Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err, "record %d", i)
	}
	require.NoError(t, p.Close(ctx(t)))

	rec.locked(func() {
		require.Empty(t, rec.misplaced, "events off their goroutine")
		require.Equal(t, 1, rec.newCalls)
		require.Same(t, p, rec.p)
		require.Len(t, rec.buffered, n)
		require.Len(t, rec.acked, n)
		for i, a := range rec.acked {
			require.NoError(t, a.Err)
			require.Equal(t, string(fmt.Sprint(i)), rec.ackCtx[i].Value(ctxKey{}), "the buffered hook's context reaches the acknowledgement")
			require.Equal(t, int32(i%2), a.Metadata.Partition)
			require.GreaterOrEqual(t, a.Metadata.Offset, int64(0))
			require.LessOrEqual(t, a.QueueTime, a.Latency)
			require.True(t, a.Sent)
		}

		records, written, answered := 0, 0, 0
		for _, b := range rec.batches {
			records += b.Records
			require.Positive(t, b.Bytes)
			require.Equal(t, b.Bytes, b.CompressedBytes, "no compression")
			require.GreaterOrEqual(t, b.BaseOffset, int64(0))
			require.GreaterOrEqual(t, b.QueueTime, time.Duration(0))
		}
		require.Equal(t, n, records, "every record in a written batch")
		require.Equal(t, 2, rec.batches[0].Attempt, "the first batch was written on its second attempt")
		for _, w := range rec.written {
			written += w.Records
			require.Contains(t, []int32{0, 1}, w.Broker)
			require.Positive(t, w.Bytes)
		}
		throttledAnswers := 0
		for _, a := range rec.answered {
			answered += a.Records
			require.NoError(t, a.Err)
			require.False(t, a.Unanswered, "acks=all: the broker answered")
			if a.Throttle != 0 {
				require.Equal(t, 7*time.Millisecond, a.Throttle)
				throttledAnswers++
			}
		}
		require.Equal(t, 2, throttledAnswers, "each answer gives its throttle time, 0 when not throttled")
		require.Equal(t, n+2, written, "ten records, two of them sent twice")
		require.Equal(t, written, answered)

		require.Len(t, rec.retried, 2, "one refused request per broker")
		for _, r := range rec.retried {
			require.ErrorIs(t, r.Err, kerr.NotEnoughReplicas)
			require.Equal(t, 1, r.Attempt)
			require.Equal(t, 1, r.Records)
			require.False(t, r.MaybeWritten, "the broker answered")
		}
		require.Len(t, rec.throttled, 2)
		require.Equal(t, 7*time.Millisecond, rec.throttled[0].Time)

		require.Equal(t, []ProducerID{{ID: rec.ids[0].ID, Epoch: 0}}, rec.ids, "one producer id, no bump")
		require.Empty(t, rec.restarts)

		ok := 0
		for _, o := range rec.opened {
			require.NoError(t, o.Err)
			require.NotEmpty(t, o.Addr)
			ok++
		}
		require.GreaterOrEqual(t, ok, 3, "a seed broker and both brokers")
		require.Len(t, rec.closed, ok, "every connection opened was closed once, by Close")
	})
}

// With acks=0 each request's RequestAnswered says no answer was awaited,
// so that a hook counts no answer and no latency of 0: without Unanswered
// it could not tell the write from an answer.
func TestHooksTellARequestAskingForNoAnswer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{rec}
		cfg.Acks, cfg.DisableIdempotence = AcksNone, true
	})
	const n = 5
	for i := range n {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))})
		require.NoError(t, err, "record %d", i)
	}
	require.NoError(t, p.Close(ctx(t)))
	rec.locked(func() {
		require.NotEmpty(t, rec.answered)
		records := 0
		for _, a := range rec.answered {
			records += a.Records
			require.NoError(t, a.Err)
			require.True(t, a.Unanswered)
			require.Zero(t, a.Latency)
		}
		require.Equal(t, n, records)
	})
}

// Partitions' sequences restarting under a bumped epoch reach the hooks:
// each restart with its partition, and the epoch as one ProducerID event,
// told by the first partition to restart under it alone.
func TestHooksSeeASequenceRestart(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	// An answer older brokers or other implementations may send: Kafka
	// takes any sequence from a producer id it has no state for, as here.
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.OutOfOrderSequenceNumber, "")))
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{rec}
		cfg.Linger = time.Hour // both partitions in one request, sent by Flush
	})
	awaitMetadata(t, p, "t") // so that both records are in batches before Flush
	o := newOutcomes(2)
	for i := range 2 {
		p.Produce(ctx(t), &Record{Topic: "t", Partition: int32(i), ExplicitPartition: true, Value: []byte("v")}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "both records")
	for i := range 2 {
		require.NoError(t, o.one(t, i).err)
	}
	require.NoError(t, p.Close(ctx(t)))
	rec.locked(func() {
		require.Empty(t, rec.misplaced)
		require.Len(t, rec.ids, 2, "the first id, then its epoch bumped, once")
		id := rec.ids[0].ID
		require.Equal(t, ProducerID{ID: id, Epoch: 1, Bumped: true}, rec.ids[1])
		require.ElementsMatch(t, []SequenceRestart{
			{Topic: "t", Partition: 0, ProducerID: id, Epoch: 1, Renumbered: 1},
			{Topic: "t", Partition: 1, ProducerID: id, Epoch: 1, Renumbered: 1},
		}, rec.restarts)
		require.Len(t, rec.retried, 2)
		for _, r := range rec.retried {
			require.True(t, r.SequenceRejected)
		}
	})
}

// A batch split after MESSAGE_TOO_LARGE (KIP-126) is told as retried, with
// Split set: its halves go in its place, at once, and their BatchWritten
// show a second attempt. Before, no hook heard of the split, and the halves
// appeared as written on attempt 2 with no retry to explain it.
func TestHooksSeeASplitBatchAsRetried(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.MessageTooLarge, "")))
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{rec}
		cfg.Linger = time.Hour // one batch of four, sent by Flush
	})
	const n = 4
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: []byte(fmt.Sprint(i))}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "every record")
	require.NoError(t, p.Close(ctx(t)))
	require.Equal(t, int64(1), p.Stats().Splits)
	rec.locked(func() {
		require.Empty(t, rec.misplaced)
		require.Len(t, rec.retried, 1)
		r := rec.retried[0]
		require.ErrorIs(t, r.Err, kerr.MessageTooLarge)
		require.True(t, r.Split)
		require.Equal(t, BatchRetried{Topic: "t", Partition: 0, Records: n, Attempt: 1, Err: r.Err, Split: true}, r,
			"sent again at once, not maybe written")
		require.Len(t, rec.batches, 2)
		for _, b := range rec.batches {
			require.Equal(t, n/2, b.Records)
			require.Equal(t, 2, b.Attempt)
		}
	})
}

// A record that fails inside Produce (its ctx ended while it waited for
// memory) is acknowledged there, on the caller's goroutine, with the error
// in the user's words; a record Produce refuses at once reaches neither of
// these hooks (HookRecordRefused hears of it).
func TestHooksOfARecordFailingInProduce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{rec}
		cfg.BatchSize, cfg.BufferMemory = 1024, 1024
	})
	// The first record takes all the memory, and its batch never comes
	// back; the second waits for memory until its ctx ends.
	p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, 100)}, nil)
	eventually(t, "the first batch in flight", func() bool { return c.ProduceRequests() > 0 })
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	var cbErr error
	p.Produce(cancelled, &Record{Topic: "t", Value: make([]byte, 100)}, func(_ RecordMetadata, err error) { cbErr = err })
	require.ErrorIs(t, cbErr, context.Canceled)
	require.Contains(t, cbErr.Error(), "producer: ")
	require.Contains(t, cbErr.Error(), "waiting for buffer memory: buffer full: ")
	require.Contains(t, cbErr.Error(), "before the ctx ended (context canceled)")

	p.Produce(ctx(t), &Record{Topic: "bad topic"}, nil)
	closing, stop := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer stop()
	_ = p.Close(closing) // the first batch hangs: Close gives up on it
	rec.locked(func() {
		require.Len(t, rec.buffered, 2, "the invalid topic was refused at once")
		require.GreaterOrEqual(t, len(rec.acked), 1)
		require.ErrorIs(t, rec.acked[0].Err, context.Canceled)
		require.Equal(t, rec.acked[0].Latency, rec.acked[0].QueueTime, "never sent")
		require.False(t, rec.acked[0].Sent)
		require.Equal(t, "acknowledged", rec.misplaced[0], "acknowledged on the caller's goroutine, which is not the delivery goroutine")
	})
}

// A hook of a per-record event that blocks holds up the callbacks and
// hooks behind it, never a request: while the hook of partition 0's first
// record blocks, partition 1 (on another broker) sends batch after batch,
// more than it could without answers (MaxInFlight per partition is 5), so
// its answers are read too.
func TestBlockingRecordHookDoesNotStallRequests(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}})
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	hook := ackFunc(func(_ context.Context, a RecordAcknowledged) {
		if a.Metadata.Partition == 0 {
			close(entered)
			<-release
		}
	})
	p := newProducer(t, c, func(cfg *Config) { cfg.Hooks = []Hook{hook}; cfg.Linger = NoLinger })
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("blocks")}, nil)
	receive(t, entered, "the hook of partition 0's record never ran")
	const batches = 12
	for i := range batches {
		p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte(fmt.Sprint(i))}, nil)
		eventually(t, fmt.Sprintf("batch %d of partition 1 at the broker", i), func() bool { return c.ProduceCount() >= int64(i+2) })
	}
	once.Do(func() { close(release) })
	require.NoError(t, p.Flush(ctx(t)))
}

// ackFunc is a HookRecordAcknowledged made of a function.
type ackFunc func(context.Context, RecordAcknowledged)

func (f ackFunc) OnRecordAcknowledged(ctx context.Context, a RecordAcknowledged) { f(ctx, a) }

// A value that implements no hook is a configuration error, not a hook
// silently never called.
func TestHooksRejectsAValueThatIsNoHook(t *testing.T) {
	_, err := New(Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: []Hook{ackFunc(func(context.Context, RecordAcknowledged) {}), "not a hook"}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "Hooks", ce.Field)
	require.Contains(t, ce.Reason, "Hooks[1] (string)")
}

// Without hooks the layers below are given nothing to call: no event is
// built, no record tracked.
func TestNoHooksNoEvents(t *testing.T) {
	p, err := New(Config{Brokers: []string{"127.0.0.1:9092"}})
	require.NoError(t, err)
	defer p.Close(context.Background())
	require.False(t, p.hooks.records)
	se := p.senderEvents()
	require.True(t, se.Written == nil && se.Answered == nil && se.Throttled == nil && se.Retried == nil)
	ce := p.connEvents()
	require.True(t, ce.Dialed == nil && ce.Closed == nil)
	require.Nil(t, p.settledHook())
	require.Nil(t, p.restartedHook())
}

// refusals is a hook that notes the records Produce refuses at once, and
// counts those it buffers.
type refusals struct {
	mu       sync.Mutex
	topics   []string
	errs     []error
	ctxs     []context.Context
	buffered int
}

func (h *refusals) OnRecordRefused(ctx context.Context, r Record, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.topics = append(h.topics, r.Topic)
	h.errs = append(h.errs, err)
	h.ctxs = append(h.ctxs, ctx)
}

func (h *refusals) OnRecordBuffered(ctx context.Context, _ Record) context.Context {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buffered++
	return ctx
}

// Each way Produce and Send refuse a record at once reaches the
// HookRecordRefused hooks exactly once, on the caller's goroutine before
// the callback, with the record's Context and the very error the callback
// gets (Send returns); HookRecordBuffered, whose span would never end,
// hears of none of them, but of a record accepted, though no
// HookRecordAcknowledged is there to track it.
func TestHooksHearOfEachRecordRefusedAtOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	h := &refusals{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{h}
		cfg.MaxRequestSize = 1 << 10
	})
	traced := context.WithValue(context.Background(), ctxKey{}, "traced")
	// produce produces r, and checks that the hook heard of its refusal,
	// once, before its callback, with the callback's error.
	produce := func(what string, p *Producer, r *Record) {
		t.Helper()
		h.mu.Lock()
		before := len(h.errs)
		h.mu.Unlock()
		var cbErr error
		heardFirst := false
		p.Produce(ctx(t), r, func(_ RecordMetadata, err error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			cbErr, heardFirst = err, len(h.errs) == before+1
		})
		require.Error(t, cbErr, what)
		require.True(t, heardFirst, "%s: the hook did not hear of the refusal before the callback", what)
		h.mu.Lock()
		defer h.mu.Unlock()
		require.Len(t, h.errs, before+1, what)
		require.Same(t, cbErr, h.errs[before], "%s: the hook's error is the callback's", what)
	}
	produce("a nil record", p, nil)
	produce("an invalid topic", p, &Record{Topic: "bad topic", Context: traced})
	produce("a record over MaxRequestSize", p, &Record{Topic: "t", Value: make([]byte, 4<<10)})
	produce("a negative partition", p, &Record{Topic: "t", Partition: -2, ExplicitPartition: true})
	produce("a timestamp before 1970", p, &Record{Topic: "t", Timestamp: time.Unix(-10, 0)})

	// A transactional producer refuses records outside a transaction.
	txnHook := &refusals{}
	tp := newProducer(t, c, func(cfg *Config) {
		cfg.Hooks = []Hook{h, txnHook}
		cfg.TransactionalID = "refusing"
	})
	produce("a record outside a transaction", tp, &Record{Topic: "t"})

	// Send hears of a refusal through Produce's callback, and refuses a
	// record itself if its ctx is done already.
	_, sendErr := p.Send(ctx(t), &Record{Topic: "t", Value: make([]byte, 4<<10)})
	require.ErrorIs(t, sendErr, ErrRecordTooLarge)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, doneErr := p.Send(done, &Record{Topic: "t", Context: traced})
	require.ErrorIs(t, doneErr, context.Canceled)
	// A record accepted reaches HookRecordBuffered, whose hook here has
	// no HookRecordAcknowledged beside it.
	_, err := p.Send(ctx(t), &Record{Topic: "t"})
	require.NoError(t, err)

	require.NoError(t, p.Close(ctx(t)))
	produce("a record to a closed producer", p, &Record{Topic: "t"})

	h.mu.Lock()
	defer h.mu.Unlock()
	require.Equal(t, []string{"", "bad topic", "t", "t", "t", "t", "t", "t", "t"}, h.topics)
	require.Same(t, sendErr, h.errs[6], "Send's error is the hook's")
	require.Same(t, doneErr, h.errs[7], "Send's error is the hook's")
	require.Equal(t, "traced", h.ctxs[1].Value(ctxKey{}), "the record's Context")
	require.Equal(t, "traced", h.ctxs[7].Value(ctxKey{}), "the record's Context")
	require.NotNil(t, h.ctxs[0], "context.Background() for a nil record")
	require.ErrorIs(t, h.errs[0], ErrNilRecord, "tells a nil record from the zero Record")
	require.Equal(t, 1, h.buffered, "HookRecordBuffered hears of the record accepted, of no refused one")
	require.Len(t, txnHook.errs, 1, "every hook of the event hears of it")
}

// HookBatchWritten hears of batches written only: not of one the broker
// refused for good, whose records fail. A hook counting records written
// (a metric, a span) would otherwise count records that never were.
func TestBatchWrittenIsNotToldOfARefusedBatch(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		return fakebroker.FailAll(kerr.InvalidRecord, "")
	})
	rec := &recorder{}
	p := newProducer(t, c, func(cfg *Config) { cfg.Hooks = []Hook{rec} })
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	o.wait(t, "the refused record")
	require.ErrorIs(t, o.one(t, 0).err, kerr.InvalidRecord)
	require.NoError(t, p.Flush(ctx(t)))
	rec.locked(func() {
		require.Len(t, rec.acked, 1, "the record acknowledged, with its failure")
		require.Empty(t, rec.batches, "batches written")
	})
}
