package producer

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
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

	fctx := bounded.NewWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.Asked(), "Flush never waited for the record held before it")

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
	fctx := bounded.NewWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.Asked(), "Flush never waited for the record held before it")
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

// A flush that waits for outcomes only (from a callback, or an abort's)
// waits for a held record taken off the lists to fail until its failure is
// booked: the transaction told, the callback queued. It looked at the
// failures whose callbacks had yet to run only for a flush to callbacks,
// so a commit from a callback could go on before the transaction heard of
// the failure, and commit without the record. The test counts the record
// as failing as the expiry loop does (fail), then books it as the failure's
// delivery does: no goroutine stops between the two at a moment a test
// could choose.
func TestAFlushForOutcomesWaitsForAHeldRecordsFailureToBeBooked(t *testing.T) {
	for _, to := range []flushTo{flushToOutcomes, flushToReachableOutcomes} {
		p, _ := heldProducer(t, startCluster(t, fakebroker.Options{}))
		w := &p.held
		w.mu.Lock()
		w.seq++
		h := heldRecord{seq: w.seq}
		w.fail(h)
		w.mu.Unlock()

		fctx := bounded.NewWaitedOn(ctx(t))
		awaited := make(chan error, 1)
		go func() { awaited <- w.await(fctx, to) }()
		select {
		case err := <-awaited:
			t.Fatalf("flushTo %d returned (%v) before the failure was booked", to, err)
		case <-fctx.Asked():
		}
		w.mu.Lock()
		w.booked(h.seq)
		w.left.Notify()
		w.mu.Unlock()
		require.NoError(t, receive(t, awaited, "the flush did not return once the failure was booked"), "flushTo %d", to)
		w.mu.Lock()
		w.delivered(h.seq)
		w.mu.Unlock()
	}
}

// Flush returns only once the callback of the last record held before it
// has run, also when that record fails, as Flush promises: a caller
// reading what its callbacks gathered once Flush returns would otherwise
// miss that record's failure. It fails at its MaxBlock, once its topic
// came, in its append (here its partitioner panics), where the failure
// was not counted for the Flush: once the drain moved past the record,
// Flush returned before its callback had run; or once an answer refuses
// its topic (release), where a failure left uncounted went unseen as
// soon as it left the held records. The callback looks,
// under the held records' lock, whether the Flush still counts it.
func TestFlushWaitsForTheCallbackOfTheLastHeldRecordThatFails(t *testing.T) {
	fails := []struct {
		name string
		fail func(t *testing.T, c *fakebroker.Cluster, clk *clock.Fake, since time.Time, ran *atomic.Bool)
	}{
		{"at its MaxBlock", func(_ *testing.T, _ *fakebroker.Cluster, clk *clock.Fake, since time.Time, _ *atomic.Bool) {
			clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now()))
		}},
		{"in its append", func(t *testing.T, c *fakebroker.Cluster, clk *clock.Fake, _ time.Time, ran *atomic.Bool) {
			require.NoError(t, c.CreateTopic("never", 1))
			eventually(t, "the held record's callback", func() bool {
				releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
				return ran.Load()
			})
		}},
		{"refused by the broker", func(t *testing.T, c *fakebroker.Cluster, clk *clock.Fake, _ time.Time, ran *atomic.Bool) {
			c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
				return fakebroker.Action{Refuse: map[string]*kerr.Error{"never": kerr.TopicAuthorizationFailed}}
			})
			eventually(t, "the held record's callback", func() bool {
				releasePacing(clk) // the refusal fails it at once: the hour of MaxBlock stays far off
				return ran.Load()
			})
		}},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{})
			clk := clock.NewFake(heldClockStart)
			p := newProducer(t, c, func(cfg *Config) {
				cfg.clock, cfg.Logger = clk, slog.New(&errorLog{})
				cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
				cfg.Partitioner = partitioner.Func(func(*partitioner.Topic, []byte) int32 { panic("user partitioner bug") })
			})
			var ran atomic.Bool
			counted := make(chan bool, 1)
			since := clk.Now()
			p.Produce(ctx(t), &Record{Topic: "never", Value: []byte("v")}, func(RecordMetadata, error) {
				p.held.mu.Lock()
				counted <- len(p.held.flushes) == 1 && p.held.flushes[0].failing == 1
				p.held.mu.Unlock()
				ran.Store(true)
			})
			fctx := bounded.NewWaitedOn(ctx(t))
			flushed := make(chan error, 1)
			go func() { flushed <- p.Flush(fctx) }()
			receive(t, fctx.Asked(), "Flush never waited for the held record")
			f.fail(t, c, clk, since, &ran)
			require.True(t, receive(t, counted, "the held record's callback did not run"), "the Flush waiting counted the record's callback as still to run")
			require.NoError(t, receive(t, flushed, "Flush did not return"))
			require.True(t, ran.Load(), "Flush returned before the held record's callback had run")
		})
	}
}

// Flush waits for records held before it until each has its callback, also
// when they expire together: each is counted as failing in the same hold of
// the lock that takes it out of the held records, so that Flush never sees
// one that is neither held nor failing while its callback has yet to run.
func TestFlushWaitsForTheCallbacksOfHeldRecordsThatExpireTogether(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = 10*time.Second, time.Hour, time.Second
	})
	// Many records, so that the delivery goroutine has every chance to
	// deliver the first failures while the later ones are still being
	// failed. When the first callback runs, the others must all count as
	// failing: a Flush looking then must wait for them.
	const n = 2000
	var called atomic.Int64
	failingAtFirst := make(chan int, 1)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "nowhere", Value: value(0, i)}, func(RecordMetadata, error) {
			if called.Add(1) == 1 {
				p.held.mu.Lock()
				failingAtFirst <- p.held.failing
				p.held.mu.Unlock()
			}
		})
	}
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(ctx(t)) }()
	clk.Advance(10 * time.Second)
	require.NoError(t, receive(t, flushed, "Flush did not return after the held records' MaxBlock"))
	require.Equal(t, int64(n), called.Load(), "Flush returned before every record held before it had its callback")
	require.Equal(t, n, receive(t, failingAtFirst, "the first callback did not report"), "records failing when the first of them had its callback")
}

// A Flush that returned, here as its ctx ended, stops counting the held
// records' failures: left among the Flushes waiting, each later failure
// was counted for it too, for as long as the producer lived.
func TestAFlushThatReturnedCountsNoMoreFailures(t *testing.T) {
	p, _ := heldProducer(t, startCluster(t, fakebroker.Options{}))
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("v")}, o.cb(0))
	base, cancel := context.WithCancel(ctx(t))
	defer cancel()
	fctx := bounded.NewWaitedOn(base)
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.Asked(), "Flush never waited for the held record")
	cancel()
	require.ErrorIs(t, receive(t, flushed, "Flush did not return as its ctx ended"), context.Canceled)
	p.held.mu.Lock()
	waiting := len(p.held.flushes)
	p.held.mu.Unlock()
	require.Zero(t, waiting, "Flushes counting failures after they returned")
	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed)
}
