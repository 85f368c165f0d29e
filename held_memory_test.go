package producer

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// A large record waiting for the held records' share of BufferMemory takes
// the bytes given back before a smaller record produced after it: the
// share serves its waiters first come first served, as the pool does. A
// newcomer that fitted went in past it, and under a stream of small held
// records, each failing at its MaxBlock, the large one waited out its own
// and failed with ErrBufferFull while later ones were held.
func TestAHeldRecordWaitingForTheShareIsNotPassedByASmallerLaterOne(t *testing.T) {
	f := shareFull(t)
	f.waiting(t, ctx(t), 3, f.large)

	f.clk.Advance(f.t0.Add(shareMaxBlock + pastDeadline).Sub(f.clk.Now()))
	eventually(t, "the first small record failed", func() bool { return f.o.first.Load() == 1 })
	f.waiting(t, ctx(t), 4, f.small) // later than the large one, and it would fit

	f.clk.Advance(f.t0.Add(time.Second + shareMaxBlock + pastDeadline).Sub(f.clk.Now()))
	eventually(t, "the second small record failed, its share taken again", func() bool {
		return f.o.first.Load() == 2 && f.reserved() > f.smallSize
	})
	require.Equal(t, f.smallSize+f.largeSize, f.reserved(),
		"the large record waited first, but the small one produced after it took the share")
}

// A record that gives up its wait for the share lets the one behind it
// take what is free: the oldest waiter alone may take bytes, so the next
// must be told when it leaves.
func TestARecordLeavingTheQueueForTheShareLetsTheNextOneIn(t *testing.T) {
	f := shareFull(t)
	largeCtx, giveUp := context.WithCancel(ctx(t))
	defer giveUp()
	f.waiting(t, largeCtx, 3, f.large)
	f.clk.Advance(time.Second / 4) // for a MaxBlock of its own
	f.waiting(t, ctx(t), 4, f.small)

	f.clk.Advance(f.t0.Add(shareMaxBlock + pastDeadline).Sub(f.clk.Now()))
	eventually(t, "the first small record failed", func() bool { return f.o.first.Load() == 1 })
	require.Equal(t, 2*f.smallSize, f.reserved(), "the small record waits behind the large one")

	giveUp()
	eventually(t, "the small record held once the large one gave up", func() bool {
		return f.reserved() == 3*f.smallSize
	})
	// The large record's callback may run after the small one is in: its
	// Produce leaves the queue before it reports.
	eventually(t, "the large record's outcome", func() bool { return f.o.first.Load() == 2 })
	f.o.mu.Lock()
	defer f.o.mu.Unlock()
	require.Len(t, f.o.got[3], 1, "the large record's outcome")
	require.ErrorIs(t, f.o.got[3][0].err, context.Canceled)
}

// shareMaxBlock is the MaxBlock of shareFull's producer.
const shareMaxBlock = 8 * time.Second

// shareFixture is a producer whose held records fill their share of
// BufferMemory, for tests of the waits for it.
type shareFixture struct {
	p                    *Producer
	clk                  *clock.Fake
	t0                   time.Time
	o                    *outcomes // records 0-2 are held, 3 and 4 the tests'
	small, large         []byte
	smallSize, largeSize int
}

// shareFull holds three small records for a missing topic, at t0, t0+1s and
// t0+2s, which fill the held records' share but for less than a large
// record, and leaves the clock at t0+2.5s. Each small record fails at its
// MaxBlock; a large one fits beside one, not two.
func shareFull(t *testing.T) *shareFixture {
	t.Helper()
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize, cfg.BufferMemory = 1024, 4096 // the share: 3072 bytes
		cfg.MaxBlock, cfg.DeliveryTimeout = shareMaxBlock, 10*time.Second
		cfg.RequestTimeout, cfg.Linger = time.Second, NoLinger
	})
	t.Cleanup(func() { // fail what is held at once, rather than at its limit
		closing, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(closing)
	})
	f := &shareFixture{p: p, clk: clk, t0: clk.Now(), o: newOutcomes(5),
		small: make([]byte, 800), large: make([]byte, 1500)}
	f.smallSize = record.BatchHeaderSize + record.RecordSize(0, 0, nil, f.small, nil)
	f.largeSize = record.BatchHeaderSize + record.RecordSize(0, 0, nil, f.large, nil)
	share := p.held.reserveCap
	require.Greater(t, 4*f.smallSize, share, "four small records do not fit the share")
	require.Greater(t, 2*f.smallSize+f.largeSize, share, "the large one does not fit beside two")
	require.LessOrEqual(t, f.smallSize+f.largeSize, share, "it fits beside one")
	for i := range 3 {
		clk.Advance(f.t0.Add(time.Duration(i) * time.Second).Sub(clk.Now()))
		p.Produce(ctx(t), &Record{Topic: "missing", Value: f.small}, f.o.cb(i))
	}
	require.Equal(t, 3*f.smallSize, f.reserved(), "three small records fit the share")
	clk.Advance(time.Second / 2)
	return f
}

func (f *shareFixture) reserved() int {
	f.p.held.mu.Lock()
	defer f.p.held.mu.Unlock()
	return f.p.held.reserved
}

// waiting produces record i in a goroutine, which stays in Produce while
// it waits for the share, and returns once the record is held or waits:
// its MaxBlock is armed. The small records' deadlines (MaxBlock,
// DeliveryTimeout) fall on whole seconds from t0, and f's clock is off them.
func (f *shareFixture) waiting(t *testing.T, ctx context.Context, i int, value []byte) {
	t.Helper()
	deadline, was := f.clk.Now().Add(shareMaxBlock), f.reserved()
	armed := func() bool { return slices.ContainsFunc(f.clk.Deadlines(), deadline.Equal) }
	require.False(t, armed(), "a timer at record %d's MaxBlock already", i)
	go f.p.Produce(ctx, &Record{Topic: "missing", Value: value}, f.o.cb(i))
	eventually(t, fmt.Sprintf("record %d held or waiting", i), func() bool {
		return armed() || f.reserved() > was
	})
}

// A Produce waiting for room in the held records' share waits for memory
// as one waiting for a batch's does, and fails alike at MaxBlock with
// ErrBufferFull: Stats counts it among the waits for memory. Before, it
// counted only the pool's queue, and showed none.
func TestBufferWaitersCountsAProduceWaitingForTheHeldRecordsShare(t *testing.T) {
	f := shareFull(t)
	f.waiting(t, ctx(t), 3, f.large)
	require.Equal(t, 1, f.p.Stats().BufferWaiters)
}

// A held record whose wait for its batch's memory the abort of its
// transaction ended reads as one sentence under its PartitionError,
// whichever of the abort's two ends of the wait came first: its cancel of
// the append's ctx, which the pool tells as a ctx canceled, or its end of
// every wait for memory. Before, the first read "transaction aborted:
// while the record waited for its batch's memory: producer: topic "late"
// partition 0: waiting for buffer memory: context canceled", and the
// second "producer: topic "late" partition 0: transaction aborted". A
// failure of its own that came meanwhile is kept.
func TestAHeldRecordsWaitForMemoryEndedByAnAbortReadsAsOneSentence(t *testing.T) {
	p := &Producer{}
	const want = `producer: topic "late" partition 0: transaction aborted: while the record waited for its batch's memory`
	ends := map[string]error{
		"the append's ctx canceled": p.memoryErr(&bufferpool.WaitError{Size: 16 << 10, Err: context.Canceled}, false),
		"every wait ended":          ErrTransactionAborted,
	}
	for how, waitErr := range ends {
		err := endedByAbort(&PartitionError{Topic: "late", Partition: 0, Err: waitErr}, ErrTransactionAborted)
		require.EqualError(t, err, want, how)
		require.ErrorIs(t, err, ErrTransactionAborted, how)
		require.NotErrorIs(t, err, context.Canceled, "%s: the abort, not a ctx of the user's, ended the wait", how)
		var pe *PartitionError
		require.ErrorAs(t, err, &pe, how)
	}
	tooLate := fmt.Errorf("%w: its DeliveryTimeout passed", ErrDeliveryTimeout)
	err := endedByAbort(&PartitionError{Topic: "late", Partition: 0, Err: tooLate}, ErrTransactionAborted)
	require.EqualError(t, err, want+": "+tooLate.Error())
	require.ErrorIs(t, err, ErrDeliveryTimeout)
}

// A held record whose topic's metadata comes while buffer memory is short
// waits for memory only as long as its DeliveryTimeout, which runs from
// Produce, leaves; so does the record behind it, each failing at its own
// deadline with ErrDeliveryTimeout. Before, the append waited a fresh
// MaxBlock from when the metadata came, past the record's DeliveryTimeout.
func TestAHeldRecordWaitsForMemoryOnlyWithinItsDeliveryTimeout(t *testing.T) {
	c, p, clk, o, t0 := heldPairShortOfMemory(t, &Record{Topic: "late", Value: []byte("first")})
	const deliveryTimeout = shortOfMemoryDeliveryTimeout
	require.Less(t, clk.Now().Sub(t0), deliveryTimeout-time.Second, "the test's own pace leaves the records time to wait")

	clk.Advance(t0.Add(deliveryTimeout + pastDeadline).Sub(clk.Now()))
	eventually(t, "the first record's outcome at its DeliveryTimeout", func() bool { return o.first.Load() == 1 })
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.NotErrorIs(t, err, ErrBufferFull, "MaxBlock did not pass")
	eventually(t, "the second record waiting for memory", func() bool { return p.pool.Waiters() == 1 })
	require.EqualValues(t, 1, o.first.Load(), "the second record fails no sooner than its own DeliveryTimeout")

	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// recordOneFailsAtItsDeliveryTimeout moves clk past the DeliveryTimeout of
// record 1 of o, produced a second after t0 and still waiting for a
// batch's memory, checks that it fails then, and lets the batches that
// fill the memory settle, for Close.
func recordOneFailsAtItsDeliveryTimeout(t *testing.T, c *fakebroker.Cluster, clk *clock.Fake, o *outcomes, t0 time.Time) {
	t.Helper()
	clk.Advance(t0.Add(time.Second + shortOfMemoryDeliveryTimeout + pastDeadline).Sub(clk.Now()))
	o.wait(t, "record 1 at its DeliveryTimeout")
	require.ErrorIs(t, o.one(t, 1).err, ErrDeliveryTimeout)
	c.OnProduce(nil)
	clk.Advance(shortOfMemoryDeliveryTimeout)
}

// The settings of shortOfMemoryProducer, and how far past a deadline its
// tests move the clock.
const (
	shortOfMemoryMaxBlock        = 8 * time.Second
	shortOfMemoryDeliveryTimeout = 10 * time.Second
	pastDeadline                 = 100 * time.Millisecond
)

// shortOfMemoryProducer is a producer on a fake clock with memory for four
// batches of 1 KiB, and a cluster with a topic "full" of three partitions
// for fillBufferMemory.
func shortOfMemoryProducer(t *testing.T) (*fakebroker.Cluster, *Producer, *clock.Fake) {
	t.Helper()
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"full": 3}})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize, cfg.BufferMemory = 1024, 4096
		cfg.MaxBlock, cfg.DeliveryTimeout = shortOfMemoryMaxBlock, shortOfMemoryDeliveryTimeout
		cfg.RequestTimeout, cfg.Linger = time.Second, NoLinger
	})
	learnTopic(t, p, clk, "full")
	return c, p, clk
}

// fillBufferMemory takes, with three batches of "full", all of p's memory
// but what its held records reserve and less than a batch. The batches
// keep their memory: their broker refuses them, and they retry until their
// DeliveryTimeout, or until the test calls c.OnProduce(nil).
func fillBufferMemory(t *testing.T, c *fakebroker.Cluster, p *Producer) {
	t.Helper()
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		return fakebroker.FailAll(kerr.NotEnoughReplicas, "")
	})
	for i, n := range []int{900, 900, 1500} {
		p.Produce(ctx(t), &Record{Topic: "full", Partition: int32(i), ExplicitPartition: true, Value: make([]byte, n)}, nil)
	}
}

// Records set aside for a partition their topic does not have yet keep
// their copies, and so count against the held records' share of
// BufferMemory (BufferMemory less one batch) until they are appended or
// failed: past it, Produce waits for memory. Their drain round gave their
// memory back, and nothing counted them again: every record was taken,
// however many, while the buffer showed free.
func TestRecordsSetAsideStayWithinTheHeldRecordsShareOfBufferMemory(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := clock.NewFake(heldClockStart)
	const bufferMemory, batchSize, valueSize = 64 << 10, 16 << 10, 4 << 10
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BufferMemory, cfg.BatchSize = bufferMemory, batchSize
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	learnTopic(t, p, clk, "t")
	payload := make([]byte, valueSize)
	toPartition5 := func(ctx context.Context, o *outcomes) {
		p.Produce(ctx, &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: payload}, o.cb(0))
	}
	size := record.BatchHeaderSize + record.RecordSize(0, 0, nil, payload, nil)
	fit := (bufferMemory - batchSize) / size
	aside := make([]*outcomes, fit)
	for i := range aside {
		aside[i] = newOutcomes(1)
		toPartition5(ctx(t), aside[i])
		eventually(t, "the record set aside", func() bool {
			releasePacing(clk) // each record held brings a metadata refresh, and a new round
			return setAside(p, "t") == i+1
		})
	}

	over := newOutcomes(1)
	toPartition5(ctxWithin(t, 100*time.Millisecond), over) // past the share: waits for memory until its ctx ends
	over.wait(t, "the record past the held records' share")
	err := over.one(t, 0).err
	require.ErrorIs(t, err, context.DeadlineExceeded, "it waited for memory")
	require.ErrorContains(t, err, "buffer memory")
	require.Equal(t, fit, setAside(p, "t"))

	require.ErrorIs(t, closeAtOnce(t, p, aside[0], 0), ErrClosed)
	for i, o := range aside {
		o.wait(t, "the records set aside, at Close")
		require.ErrorIs(t, o.one(t, 0).err, ErrClosed, "record %d", i)
	}
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	require.Zero(t, p.held.reserved, "each record's share given back once")
}

// A Flush from a callback waits for a record held before it once the wait
// of its topic's drain for a batch's memory has ended: only while the
// drain waits for that memory, which the callbacks behind the caller give
// back, does the Flush look past the topic's records. Here record 1 waited
// for memory and was written; the drain now waits for partition 5, which
// record 0, set aside, names. Had the end of the memory wait stayed
// unnoticed, the Flush would return at once, before record 0's outcome,
// which comes at its MaxBlock.
func TestAFlushFromACallbackWaitsForAHeldRecordOnceItsTopicsMemoryWaitEnded(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	var resent atomic.Int32 // a bit for each partition of "full" sent again
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
		for _, rt := range req.Topics {
			for _, rp := range rt.Partitions {
				if rt.Name == "full" {
					resent.Or(1 << rp.Index)
				}
			}
		}
		return fakebroker.Action{}
	})
	// The clock moves only until the batches filling the memory are sent
	// again, far from record 0's MaxBlock; each then completes, and so
	// does record 1's, which their memory let in. None is left for the
	// Flush to wait for but record 0.
	eventually(t, "every batch complete once those filling the memory were sent again", func() bool {
		if resent.Load() != 0b111 {
			releasePacing(clk)
		}
		return o.first.Load() == 1 && p.acc.Incomplete() == 0
	})
	require.NoError(t, o.one(t, 1).err)
	eventually(t, "the drain waiting for the partition of record 0", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["late"]
		return wt != nil && wt.round == nil && wt.stopAppend != nil
	})
	require.Equal(t, 1, setAside(p, "late"), "record 0 still waits")
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock, "record 0's MaxBlock not passed")
	// Registered after newProducer's Close, this runs before it: a failed
	// check below leaves record 0 to fail at once, not Close to wait for it.
	t.Cleanup(func() {
		if left := t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()); left > 0 {
			clk.Advance(left)
		}
	})

	fctx := bounded.NewWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 0, ExplicitPartition: true, Value: []byte("flushes from its callback")}, func(RecordMetadata, error) {
		flushed <- p.Flush(fctx)
	})
	eventually(t, "the Flush from the callback waiting or returned", func() bool {
		select {
		case <-fctx.Asked():
			return true
		default:
			return len(flushed) > 0
		}
	})
	select {
	case err := <-flushed:
		t.Fatalf("the Flush from a callback returned (%v) while record 0, held before it, still waited", err)
	default:
	}

	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	require.NoError(t, receive(t, flushed, "the Flush from the callback once record 0 failed"))
	o.wait(t, "record 0 at its MaxBlock")
	require.ErrorIs(t, o.one(t, 0).err, ErrInvalidRecord)
}
