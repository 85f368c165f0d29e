package producer

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
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
