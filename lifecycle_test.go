package producer

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// Flush sends lingering batches at once and waits for every record
// buffered before it, including records still waiting for their topic.
func TestFlushWaitsForEverythingBuffered(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"known": 3}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Linger = time.Hour // only Flush can send these batches in time
		cfg.DeliveryTimeout = 2 * time.Hour
	})
	const n = 300
	o := newOutcomes(2 * n)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "known", Value: value(0, i)}, o.cb(i))
		p.Produce(ctx(t), &Record{Topic: "later", Value: value(1, i)}, o.cb(n+i))
	}
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(ctx(t)) }()
	require.NoError(t, c.CreateTopic("later", 1))
	require.NoError(t, receive(t, flushed, "Flush did not return"))
	// A Flush that returned without waiting for the records of "later"
	// left them lingering for an hour once their topic came.
	require.True(t, o.done(), "Flush returned before every record had its outcome")
	for i := 0; i < 2*n; i++ {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	require.Equal(t, int64(2*n), c.ProduceCount())
}

// A Flush whose context ends while a callback is still running says that
// the batch's callbacks have not all run, not that it has no outcome: its
// outcome came, and only its callback keeps the Flush waiting.
func TestAFlushCutShortByASlowCallbackSaysTheCallbacksHaveNotRun(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	entered, release := make(chan struct{}), make(chan struct{})
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) {
		require.NoError(t, err)
		close(entered)
		<-release
	})
	receive(t, entered, "the record's callback did not run")
	cut, cancel := context.WithCancel(ctx(t))
	cancel()
	err := p.Flush(cut)
	close(release)
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "producer: flush: batches whose callbacks have not all run: 1: context canceled")
}

// Close with requests in flight to a broker that never answers, and a
// context that ends: Close returns soon after the context, and every
// record, in flight or queued, fails with ErrClosed, those the broker got
// also with ErrMaybeWritten (the callbacks may run just after Close
// returns: a context that ended does not wait for them).
func TestCloseWithStuckBrokerHonoursContext(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	var mu sync.Mutex
	got := map[string]bool{} // the values of the records the broker got
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range requestValues(t, req) {
			got[v] = true
		}
		return fakebroker.Action{Hang: true}
	})
	// A Close that ignored its context would wait for the hung request to
	// time out: far past the bound on Close below.
	const requestTimeout = time.Minute
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxInFlight, cfg.RequestTimeout = 1, requestTimeout })
	const n = 1000
	o := newOutcomes(n)
	values := make([]string, n)
	for i := 0; i < n; i++ {
		v := append(value(0, i), make([]byte, 200)...)
		values[i] = string(v)
		p.Produce(ctx(t), &Record{Topic: "t", Value: v}, o.cb(i))
	}
	eventually(t, "a Produce request in flight", func() bool { return c.ProduceRequests() > 0 })

	closeCtx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := p.Close(closeCtx)
	took := time.Since(began)
	require.ErrorIs(t, err, context.DeadlineExceeded, "Close reports that it gave up")
	require.Less(t, took, requestTimeout/3, "Close must return soon after its context ends")
	o.wait(t, "outcomes after Close")
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, got, "the broker got no record")
	for i := 0; i < n; i++ {
		out := o.one(t, i)
		require.ErrorIs(t, out.err, ErrClosed, "record %d", i)
		// It said "producer closed: accumulator closed: producer closed",
		// or "producer closed: accumulator closed; not retried: ...".
		require.NotContains(t, out.err.Error(), "accumulator", "record %d", i)
		require.Equal(t, 1, strings.Count(out.err.Error(), "producer closed"), "record %d: %v", i, out.err)
		if got[values[i]] {
			require.ErrorIs(t, out.err, ErrMaybeWritten, "record %d was in flight", i)
		}
	}
}

// requestValues returns the values of the records req carries, as strings.
func requestValues(t testing.TB, req *protocol.ProduceRequest) []string {
	var values []string
	for _, topic := range req.Topics {
		for _, part := range topic.Partitions {
			for rest := part.Records; len(rest) > 0; {
				batch, after, err := record.DecodeBatch(rest)
				if err != nil {
					t.Errorf("decoding a batch of %s/%d: %v", topic.Name, part.Index, err)
					break
				}
				for _, r := range batch.Records {
					values = append(values, string(r.Value))
				}
				rest = after
			}
		}
	}
	return values
}

// Close sends what is buffered when its context allows.
func TestCloseDeliversBufferedRecords(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Linger = time.Hour
		cfg.DeliveryTimeout = 2 * time.Hour
	})
	o := newOutcomes(100)
	for i := 0; i < 100; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	require.NoError(t, p.Close(ctx(t)))
	require.True(t, o.done())
	for i := 0; i < 100; i++ {
		require.NoError(t, o.one(t, i).err)
	}
	require.Equal(t, int64(100), c.ProduceCount())
}

func TestCallsAfterCloseFailWithErrClosed(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	require.NoError(t, p.Close(ctx(t)))

	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, ErrClosed)
	called := false
	p.Produce(ctx(t), &Record{Topic: "t"}, func(_ RecordMetadata, err error) {
		called = true
		require.ErrorIs(t, err, ErrClosed)
	})
	require.True(t, called, "Produce after Close fails at once")
	require.ErrorIs(t, p.Flush(ctx(t)), ErrClosed)
	require.NoError(t, p.Close(ctx(t)), "a second Close returns what the first returned")
	require.NoError(t, p.Close(context.Background()))
}

// A batch whose retriable error arrives while Close is failing what is
// left (after the accumulator was aborted, before the senders stop) once
// went back in its queue, where nothing would ever send or fail it. Close
// must give it an outcome, and it is not sent again. The broker holds the
// answer until the callback of a record waiting for a missing topic, which
// Close fails only after aborting the accumulator, so the answer comes
// after the abort; and before the senders stop, since Close waits for each
// sender's requests in flight, whatever its ctx.
func TestCloseCompletesABatchRetriedWhileClosing(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	entered := make(chan struct{})
	release := make(chan struct{})
	// Once each: a request after the first (a retry) must neither panic
	// on a closed channel nor be held.
	enter := sync.OnceFunc(func() { close(entered) })
	var once sync.Once
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		enter()
		<-release
		return fakebroker.FailAll(kerr.NotEnoughReplicas, "")
	})
	p := newProducer(t, c, func(cfg *Config) {
		// A long backoff keeps the retried batch in its queue until the
		// senders have stopped.
		cfg.RetryBackoff, cfg.RetryBackoffMax = 5*time.Second, 5*time.Second
	})
	// Before the producer's Close at cleanup, should a check fail: that
	// Close waits for the request held at the broker, and its flush for
	// the batch, which the broker refuses, retried until DeliveryTimeout.
	// Let go, and closed with an ended ctx, they fail at once.
	t.Cleanup(func() {
		once.Do(func() { close(release) })
		closing, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(closing)
	})
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("retried")}, o.cb(0))
	receive(t, entered, "the Produce request never reached the broker")
	ghost := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "ghost", Value: []byte("w")}, func(_ RecordMetadata, err error) {
		once.Do(func() { close(release) })
		ghost <- err
	})

	// The flush under Close's ctx cannot finish: the answer is held.
	closeCtx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- p.Close(closeCtx) }()
	require.Error(t, receive(t, closed, "Close did not return: a sender never finished with the request in flight"))
	require.ErrorIs(t, receive(t, ghost, "Close did not fail the record of the missing topic"), ErrClosed)
	require.Equal(t, int64(1), p.Stats().Requests, "the request's answer was handled during Close")
	require.Zero(t, p.Stats().Retries, "the batch was sent again while the producer closed")
	// Close's context ended, so it did not wait for the callbacks: they
	// come right after.
	o.wait(t, "the batch re-enqueued during Close")
	require.ErrorIs(t, o.one(t, 0).err, ErrClosed)
}

// Records whose topic's metadata has just arrived are appended, one at a
// time, by a goroutine of their own. If Close's context ends while that
// goroutine is busy with one record (here a partitioner that blocks, as an
// append can block on buffer memory), Close must still fail the records
// queued behind it, rather than skip the whole topic and leave them to get
// their outcome once that append returns, or never.
func TestCloseFailsRecordsOfATopicBeingReleased(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	entered := make(chan struct{})
	release := make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
			if string(key) == "block" {
				enterOnce.Do(func() { close(entered) })
				<-release
			}
			return 0
		})
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	// The first record blocks inside the user's partitioner; the others
	// queue behind it.
	const queued = 9
	blocked, o := newOutcomes(1), newOutcomes(queued)
	p.Produce(ctx(t), &Record{Topic: "late", Key: []byte("block")}, blocked.cb(0))
	for i := range queued {
		p.Produce(ctx(t), &Record{Topic: "late", Key: []byte("k"), Value: value(0, i)}, o.cb(i))
	}
	require.NoError(t, c.CreateTopic("late", 1))
	receive(t, entered, "the held records were never released")

	closeCtx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.Error(t, p.Close(closeCtx))
	// A Close whose ctx ended returns at once and leaves the callbacks it
	// queued to run after it: wait for them, not for the blocked record,
	// which has its outcome only once the partitioner returns.
	o.wait(t, "records queued behind the one being appended, after Close")
	for i := range queued {
		require.ErrorIs(t, o.one(t, i).err, ErrClosed, "queued record %d", i)
	}
	require.False(t, blocked.done(), "the record inside the partitioner has no outcome before it returns")
}

// Close is idempotent: concurrent and later Closes return what the first
// returned, after it is done.
func TestCloseTwiceReturnsTheFirstOutcome(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Close(ctx(t))
		}()
	}
	wg.Wait()
	require.Equal(t, []error{nil, nil, nil, nil}, errs)
	require.ErrorIs(t, p.Flush(ctx(t)), ErrClosed, "Flush after Close")
}

// A second Close after a first that gave up returns the first one's error.
func TestCloseAfterAFailedCloseReturnsItsError(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	p := newProducer(t, c, nil)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("hangs")}, nil)
	eventually(t, "the request in flight", func() bool { return c.ProduceRequests() > 0 })
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	first := p.Close(short)
	require.ErrorIs(t, first, context.DeadlineExceeded)
	require.Equal(t, first, p.Close(ctx(t)))
}

// Stats tells the buffer memory in use: all of it is free again once the
// records have their outcomes.
func TestStatsBufferMemory(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	release := make(chan struct{})
	answer := sync.OnceFunc(func() { close(release) })
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		<-release
		return fakebroker.Action{}
	})
	p := newProducer(t, c, func(cfg *Config) { cfg.BufferMemory = 1 << 20 })
	t.Cleanup(answer) // should the test fail: the fake cluster's Close waits for its hook
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "the request at the broker", func() bool { return c.ProduceRequests() > 0 })
	s := p.Stats()
	require.Equal(t, int64(1<<20), s.BufferTotalBytes)
	require.Equal(t, int64(1<<20-DefaultBatchSize), s.BufferAvailableBytes, "one batch's buffer in use")
	require.Zero(t, s.BufferWaiters)
	answer()
	o.wait(t, "the record")
	require.NoError(t, p.Flush(ctx(t)))
	require.Equal(t, int64(1<<20), p.Stats().BufferAvailableBytes)
}

// A Close from a callback while another Close waits for that callback
// returns at once: waiting for the first Close would wait for itself.
func TestCloseFromACallbackDuringClose(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	release := make(chan struct{})
	answer := sync.OnceFunc(func() { close(release) })
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		<-release
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	t.Cleanup(answer) // should the test fail: the fake cluster's Close waits for its hook
	inner := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) {
		inner <- p.Close(ctx(t))
	})
	eventually(t, "the request at the broker", func() bool { return c.ProduceRequests() > 0 })
	outer := make(chan error, 1)
	go func() { outer <- p.Close(ctx(t)) }()
	eventually(t, "the first Close under way", p.closed.Load)
	answer()
	require.NoError(t, receive(t, inner, "the callback's Close did not return"), "the Close from the callback")
	require.NoError(t, receive(t, outer, "the first Close did not return"), "the first Close")
}

// A callback closes the producer (on a fatal error, say): that Close cannot
// wait for the callbacks behind it. The application's own Close, later and
// outside every callback, waits for them within its ctx, so that a program
// that exits after it loses none.
func TestCloseAfterACloseFromACallbackWaitsForTheCallbacksLeft(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.Linger = time.Hour; cfg.DeliveryTimeout = 2 * time.Hour })
	inner, hold := make(chan error, 1), make(chan struct{})
	var holdOnce sync.Once
	t.Cleanup(func() { holdOnce.Do(func() { close(hold) }) })
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("first")}, func(RecordMetadata, error) {
		inner <- p.Close(context.Background())
		<-hold // the rest of a callback that takes a moment
	})
	const n = 10
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	go func() { _ = p.Flush(ctx(t)) }() // sends the batch despite the Linger
	require.NoError(t, receive(t, inner, "the Close from the callback did not return"), "the Close from the callback")

	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Close(short), context.DeadlineExceeded, "a Close while the callbacks left cannot run yet")
	require.False(t, o.done())

	holdOnce.Do(func() { close(hold) })
	require.NoError(t, p.Close(ctx(t)))
	require.True(t, o.done(), "Close returned before every record had its callback")
}

// Close from a callback while a record that waited for its topic waits, in
// its append, for a batch's memory: only the callbacks behind this one
// would give memory back, so that wait is hopeless. Close ends it rather
// than stall every callback until MaxBlock, and the record fails with
// ErrClosed.
func TestCloseFromACallbackEndsAHeldRecordsWaitForMemory(t *testing.T) {
	closed, held, o := callbackBehindAHeldRecordsWaitForMemory(t, func(p *Producer) error { return p.Close(context.Background()) })
	require.NoError(t, receive(t, closed, "Close from a callback waits for memory that only the callbacks behind it free"), "Close from the callback")
	held.wait(t, "the held record")
	err := held.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, context.Canceled, "how its wait ended")
	o.wait(t, "the other records")
}

// So does a Close from a callback begun before the held record's append
// came to wait for memory: the append, finding none free, may not wait
// for it, and the record fails with ErrClosed, since Close is why. With a
// bare ErrBufferFull, as if memory had run out, a user matching ErrClosed
// to tell a record the Close dropped from one the producer could not take
// would miss it.
func TestAHeldRecordFindingNoMemoryAfterACloseFromACallbackFailsAsClosed(t *testing.T) {
	closed, held, o := callbackBeforeAHeldRecordsWaitForMemory(t,
		func(p *Producer) error { return p.Close(context.Background()) },
		func(p *Producer) bool { return p.held.noWait.Load() })
	require.NoError(t, receive(t, closed, "Close from the callback did not return"), "Close from the callback")
	held.wait(t, "the held record")
	err := held.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, ErrBufferFull, "how its append ended")
	o.wait(t, "the other records")
}

// callbackBehindAHeldRecordsWaitForMemory has a callback call inCallback
// while a record that waited for its topic waits, in its append, for a
// batch's memory that only the callbacks behind this one would give back.
// It returns what inCallback returned, once it has, and the outcomes of
// the held record and of three others, each in a batch of its own.
func callbackBehindAHeldRecordsWaitForMemory(t *testing.T, inCallback func(*Producer) error) (result <-chan error, held, others *outcomes) {
	t.Helper()
	return callbackAndAHeldRecordsWaitForMemory(t, inCallback, nil)
}

// callbackBeforeAHeldRecordsWaitForMemory is as
// callbackBehindAHeldRecordsWaitForMemory, but inCallback is called before
// the held record's topic appears, and the record's append comes to wait
// for memory once inCallback is under way, as underWay tells.
func callbackBeforeAHeldRecordsWaitForMemory(t *testing.T, inCallback func(*Producer) error, underWay func(*Producer) bool) (result <-chan error, held, others *outcomes) {
	t.Helper()
	return callbackAndAHeldRecordsWaitForMemory(t, inCallback, underWay)
}

// callbackAndAHeldRecordsWaitForMemory is the scene of the two above:
// with underWay nil, inCallback is called once the held record waits for
// memory; otherwise before its topic appears.
func callbackAndAHeldRecordsWaitForMemory(t *testing.T, inCallback func(*Producer) error, underWay func(*Producer) bool) (result <-chan error, held, others *outcomes) {
	t.Helper()
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BufferMemory = 64 << 10
		cfg.BatchSize = 16 << 10
		cfg.Linger = NoLinger
		cfg.MaxBlock = time.Hour
		cfg.DeliveryTimeout = 2 * time.Hour
	})
	// Known before the records: none of them waits for t's metadata, so
	// the Produce that waits for memory below is the one this starts.
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	entered, callNow := make(chan struct{}), make(chan struct{})
	results := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("blocker")}, func(RecordMetadata, error) {
		close(entered)
		<-callNow
		results <- inCallback(p)
	})
	receive(t, entered, "the blocker's callback did not run")
	// The callback keeps the first batch's 16 KiB; the held record
	// reserves 8 KiB, two more batches take 32 KiB, and a third Produce
	// waits for 16 KiB where 8 are left.
	held = newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: make([]byte, 8<<10)}, held.cb(0))
	others = newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("a")}, others.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("b")}, others.cb(1))
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("c")}, others.cb(2))
	}()
	eventually(t, "a Produce waiting for memory", func() bool { return p.Stats().BufferWaiters == 1 })
	if underWay != nil {
		close(callNow)
		eventually(t, "the call from the callback under way", func() bool { return underWay(p) })
	}
	// The topic appears: the held record gives its 8 KiB back, the Produce
	// waiting takes them, and the held record's append waits in its place.
	require.NoError(t, c.CreateTopic("late", 1))
	receive(t, waited, "the Produce waiting for memory never got it")
	if underWay == nil {
		eventually(t, "the held record's append waiting for memory", func() bool { return p.Stats().BufferWaiters == 1 })
		close(callNow)
	}
	return results, held, others
}

// A record that waited for its topic and is appended while a Close from a
// callback runs still goes if memory for its batch is free: Close ends only
// the waits for memory.
func TestCloseFromACallbackStillSendsAHeldRecordThatFindsMemory(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = time.Hour; cfg.DeliveryTimeout = 2 * time.Hour })
	held := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("held")}, held.cb(0))
	closed := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("first")}, func(RecordMetadata, error) {
		closed <- p.Close(context.Background())
	})
	eventually(t, "the Close from the callback under way", p.held.noWait.Load)
	require.NoError(t, c.CreateTopic("late", 1))
	require.NoError(t, receive(t, closed, "Close from the callback did not return"), "Close from the callback")
	held.wait(t, "the held record")
	require.NoError(t, held.one(t, 0).err)
}
