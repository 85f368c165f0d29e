package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// Flush waits for the callbacks of the records held before it began, not
// for those of records held after: with a steady stream of records to a
// missing topic, each failing at its MaxBlock, some failure is always
// waiting for its callback, and a Flush that waited for every one returned
// only when its ctx ended. Here the record held after Flush began fails
// with the one before it, and its callback holds the delivery goroutine
// until the test ends.
func TestFlushDoesNotWaitForTheCallbacksOfRecordsHeldAfterItBegan(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout = 10*time.Second, time.Hour
	})
	before := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("before")}, before.cb(0))

	fctx := newWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.asked, "Flush never waited for the record held before it")

	release, entered := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the producer's Close, which waits for the callback
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("after")}, func(RecordMetadata, error) {
		close(entered)
		<-release
	})
	clk.Advance(10 * time.Second) // both fail, in one pass of the expiry loop
	before.wait(t, "the record held before Flush")
	require.ErrorIs(t, before.one(t, 0).err, ErrUnknownTopic)
	receive(t, entered, "the callback of the record held after Flush began")
	require.NoError(t, receive(t, flushed, "Flush waited for the callback of a record held after it began"))
}

// waitedOn is a context that tells, by closing asked, when its Done is
// first called: a Flush calls it once it has marked the records it waits
// for and found one to wait for.
type waitedOn struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func newWaitedOn(ctx context.Context) *waitedOn {
	return &waitedOn{Context: ctx, asked: make(chan struct{})}
}

func (c *waitedOn) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// Flush from a callback while a record that waited for its topic waits, in
// its append, for a batch's memory that only the callbacks behind this one
// give back: Flush does not wait for that record, which goes once the
// callback returns. Flush waited for it, and it for the callback that
// called Flush: every callback stalled until the record's MaxBlock, and
// the record then failed for want of memory that was a callback away.
// (Close from a callback fails such a record instead:
// TestCloseFromACallbackEndsAHeldRecordsWaitForMemory.)
func TestFlushFromACallbackDoesNotWaitForAHeldRecordsMemory(t *testing.T) {
	flushed, held, o := callbackBehindAHeldRecordsWaitForMemory(t, func(p *Producer) error { return p.Flush(context.Background()) })
	require.NoError(t, receive(t, flushed, "Flush from a callback waited for memory that only the callbacks behind it give back"))
	held.wait(t, "the held record")
	require.NoError(t, held.one(t, 0).err, "the held record, once the callback returned")
	o.wait(t, "the other records")
	for i := range 3 {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
}

// A Flush from a callback begun before a held record's append came to wait
// for memory that only the callbacks behind it give back returns too: the
// append's wait wakes the Flush, which then stops waiting for that record.
// A Flush asleep since it began, told nothing, would stall every callback
// behind it until the record's MaxBlock.
func TestAFlushFromACallbackBegunBeforeAHeldRecordsWaitForMemoryReturns(t *testing.T) {
	flushed, held, o := callbackBeforeAHeldRecordsWaitForMemory(t,
		func(p *Producer) error { return p.Flush(ctx(t)) },
		func(p *Producer) bool {
			p.held.mu.Lock()
			defer p.held.mu.Unlock()
			return len(p.held.flushes) == 1
		})
	require.NoError(t, receive(t, flushed, "Flush from a callback, begun before the held record's append waited for memory, did not return"))
	held.wait(t, "the held record")
	require.NoError(t, held.one(t, 0).err, "the held record, once the callback returned")
	o.wait(t, "the other records")
}

// Flush returns once the held record it waits for is appended and written,
// though a record held after it began, behind that one, is set aside for a
// partition its topic lacks: the append that takes the first record off
// the held records tells the Flush. Told only later, when the round ended,
// the Flush would wait as long as the record set aside waits, up to its
// MaxBlock.
func TestFlushReturnsOnceItsHeldRecordIsWrittenThoughALaterOneIsSetAside(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("first")}, o.cb(0))
	fctx := newWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.asked, "Flush never waited for the record held before it")
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 3, ExplicitPartition: true, Value: []byte("aside")}, o.cb(1))
	require.NoError(t, c.CreateTopic("late", 1))
	var err error
	eventually(t, "Flush's return once the record it waited for was written", func() bool {
		releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
		select {
		case err = <-flushed:
			return true
		default:
			return false
		}
	})
	require.NoError(t, err)
	require.NoError(t, o.one(t, 0).err)
	require.ErrorIs(t, closeAtOnce(t, p, o, 1), ErrClosed, "the record set aside still waited")
}

// Flush returns only once the callback of the last record held before it
// has run, also when that record fails (here at its MaxBlock), as Flush
// promises: a caller reading what its callbacks gathered once Flush
// returns would otherwise miss that record's failure. The callback looks,
// under the held records' lock, whether the Flush still counts it.
func TestFlushWaitsForTheCallbackOfTheLastHeldRecordThatFails(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	var ran atomic.Bool
	counted := make(chan bool, 1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "never", Value: []byte("v")}, func(RecordMetadata, error) {
		p.held.mu.Lock()
		counted <- len(p.held.flushes) == 1 && p.held.flushes[0].failing == 1
		p.held.mu.Unlock()
		ran.Store(true)
	})
	fctx := newWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.asked, "Flush never waited for the held record")
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	require.True(t, receive(t, counted, "the held record's callback did not run"), "the Flush waiting counted the record's callback as still to run")
	require.NoError(t, receive(t, flushed, "Flush did not return"))
	require.True(t, ran.Load(), "Flush returned before the held record's callback had run")
}
