package producer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A Send that gave up on its ctx leaves its waiter to the callback still to
// come: a later Send must get its own record's outcome, never that late one.
func TestSendAfterAnAbandonedSendGetsItsOwnOutcome(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	short, cancel := context.WithCancel(context.Background())
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	first := true
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if first { // the broker's one connection goroutine: no race on first
			first = false
			cancel() // the first Send gives up while its request is held here
			<-gate
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	t.Cleanup(open) // should the test fail: the fake cluster's Close waits for its hook
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)

	_, err = p.Send(short, &Record{Topic: "t", Value: []byte("abandoned")})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, ErrMaybeWritten, "the record was buffered, and may still be written")

	open()
	require.NoError(t, p.Flush(ctx(t)), "the abandoned record's callback has run once Flush returns")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("second")})
	require.NoError(t, err)
	require.Equal(t, int64(1), md.Offset, "the second Send returned the abandoned record's outcome (offset 0)")
}

// A Send whose ctx is done before it is called sends nothing, and says so
// for certain: the record is never buffered, where Produce, whose done ctx
// allows it only memory free at once, would buffer it and Send could then
// only say it "may still be written". Before, about half of these Sends said
// that of a record refused at once (Go picks either ready case of a
// select at random).
func TestSendWithADoneCtxSendsNothing(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, topic := range []string{"t", "not a topic"} {
		for range 100 {
			_, err := p.Send(done, &Record{Topic: topic, Value: []byte("v")})
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorContains(t, err, "not sent")
		}
	}
	require.NoError(t, p.Flush(ctx(t)))
	require.Zero(t, c.HighWatermark("t", 0), "a Send with a done ctx wrote its record")
	require.NoError(t, p.Close(ctx(t)))
	_, err = p.Send(done, &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, context.Canceled)
}

// A Send whose ctx ends while its record waits for buffer memory returns
// the record's outcome, certain: never buffered, the record cannot be
// written, and the error does not match ErrMaybeWritten, as it does once
// the record is buffered (TestSendAfterAnAbandonedSendGetsItsOwnOutcome).
// Send's doc said that any ctx that ends gives an error matching it.
func TestSendWhoseCtxEndsWhileItWaitsForMemoryWritesNothing(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	answer := make(chan struct{})
	answerAll := sync.OnceFunc(func() { close(answer) })
	t.Cleanup(answerAll) // before the cluster closes, should the test fail
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		<-answer // the batches' memory stays taken
		return fakebroker.Action{}
	})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize, cfg.BufferMemory, cfg.Linger = 1024, 2048, time.Hour
	})
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	for range 2 { // each opens a batch: the memory is all taken
		p.Produce(ctx(t), &Record{Topic: "t", Value: make([]byte, 900)}, nil)
	}
	waiting, cancel := context.WithCancel(ctx(t))
	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(waiting, &Record{Topic: "t", Value: make([]byte, 900)})
		sent <- err
	}()
	eventually(t, "the Send's record waiting for memory", func() bool { return p.pool.Waiters() == 1 })
	cancel()
	err = receive(t, sent, "the Send whose ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, ErrMaybeWritten, "the record was never buffered")
	answerAll()
	require.NoError(t, p.Flush(ctx(t)))
	require.Equal(t, int64(2), c.HighWatermark("t", 0), "only the two records buffered")
}

// A ctx already done lets Produce take memory free at once but not wait
// for any: the way never to block, whether the record opens a batch or
// joins one. Before, a record that needed a new batch was refused with
// the ctx's error though all the memory was free, and one that joined the
// open batch was taken.
func TestProduceWithADoneCtxTakesOnlyMemoryFreeAtOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	// The first batch, sealed as the second record starts the next, goes
	// at once: its answer, and its memory, wait until the three Produce
	// calls are done.
	answer := make(chan struct{})
	answerAll := sync.OnceFunc(func() { close(answer) })
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		<-answer
		return fakebroker.Action{}
	})
	p := newProducer(t, c, func(cfg *Config) {
		// Two batches fill the memory, and linger until flushed.
		cfg.BatchSize, cfg.BufferMemory, cfg.Linger = 1024, 2048, time.Hour
	})
	t.Cleanup(answerAll) // should the test fail: the fake cluster's Close waits for its hook
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	outcomes := make(chan error, 3)
	cb := func(_ RecordMetadata, err error) { outcomes <- err }
	for range 3 { // each opens a batch; the third finds no memory
		p.Produce(done, &Record{Topic: "t", Value: make([]byte, 900)}, cb)
	}
	require.ErrorIs(t, bounded.Receive(t, outcomes, waitFor, "the record short of memory"), context.Canceled)
	answerAll()
	require.NoError(t, p.Flush(ctx(t)))
	require.NoError(t, bounded.Receive(t, outcomes, waitFor, "the first record"))
	require.NoError(t, bounded.Receive(t, outcomes, waitFor, "the second record"))
	require.Equal(t, int64(2), c.HighWatermark("t", 0))
}

// Send of a nil record returns what Produce's refusal gives, whatever its
// ctx: an error matching ErrNilRecord, heard by the HookRecordRefused hooks
// as their doc promises (otelhooks reads a nil record by it), and the
// metadata of a nil record, sizes -1. With a done ctx it checked the ctx
// first: the hooks got "not sent: context canceled" with the zero Record,
// and the sizes read 0.
func TestSendOfANilRecordGivesProducesRefusalWhateverItsCtx(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	h := &refusals{}
	p := newProducer(t, c, func(cfg *Config) { cfg.Hooks = []Hook{h} })
	done, cancel := context.WithCancel(context.Background())
	cancel()
	want := RecordMetadata{Partition: -1, Offset: -1, SerializedKeySize: -1, SerializedValueSize: -1}
	for _, sendCtx := range []context.Context{ctx(t), done} {
		md, err := p.Send(sendCtx, nil)
		require.ErrorIs(t, err, ErrNilRecord)
		require.Equal(t, want, md)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.errs, 2)
	for _, err := range h.errs {
		require.ErrorIs(t, err, ErrNilRecord, "the error a hook got for a nil record")
	}
}

// The metadata's Timestamp is the record's, to the millisecond and in the
// local time zone, as RecordMetadata's doc says: equal to the Record's
// truncated, never == to it. A record refused before joining a batch has
// its Record's Timestamp as given.
func TestTheMetadatasTimestampIsTheRecordsToTheMillisecond(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("X", 3600))
	md, err := p.Send(ctx(t), &Record{Topic: "t", Timestamp: ts})
	require.NoError(t, err)
	require.True(t, md.Timestamp.Equal(ts.Truncate(time.Millisecond)), "got %v for %v", md.Timestamp, ts)
	require.Equal(t, time.Local, md.Timestamp.Location())
	md, err = p.Send(ctx(t), &Record{Topic: "t", Timestamp: ts, Partition: -1, ExplicitPartition: true})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.Equal(t, ts, md.Timestamp)
}

// Send whose ctx is done when it is called returns the metadata Produce
// gives a record it refuses: its topic and sizes, -1 for the partition and
// offset it never got. A caller logging the failed record from it would
// otherwise read an empty topic and sizes of 0.
func TestSendWithADoneCtxReturnsTheRefusedRecordsMetadata(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	md, err := p.Send(done, &Record{Topic: "t", Key: []byte("k"), Value: []byte("vv")})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, RecordMetadata{Topic: "t", Partition: -1, Offset: -1, SerializedKeySize: 1, SerializedValueSize: 2}, md)
}
