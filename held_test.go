package producer

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// Records for a topic that does not exist yet wait (Produce does not
// block) and are delivered in order once it appears; records produced after
// it appeared queue behind them.
func TestRecordsWaitForATopicThatAppearsLater(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p := newProducer(t, c, nil)
	const n = 200
	o := newOutcomes(2 * n)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, i)}, o.cb(i))
	}
	require.False(t, o.done())
	require.NoError(t, c.CreateTopic("late", 1))
	for i := n; i < 2*n; i++ {
		p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, i)}, o.cb(i))
	}
	o.wait(t, "records for a late topic")
	log := c.Records("late", 0)
	require.Len(t, log, 2*n)
	for i := 0; i < 2*n; i++ {
		out := o.one(t, i)
		require.NoError(t, out.err)
		require.Equal(t, int64(i), out.md.Offset)
		require.Equal(t, value(0, i), log[i].Value)
	}
}

// Records for a topic that never appears fail with ErrUnknownTopic after
// MaxBlock, naming the topic; other topics are unaffected.
func TestTopicThatNeverAppearsFailsAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"real": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 300 * time.Millisecond })
	awaitMetadata(t, p, "real")
	o := newOutcomes(3)
	began := time.Now()
	for i := 0; i < 3; i++ {
		p.Produce(ctx(t), &Record{Topic: "ghost", Value: value(0, i)}, o.cb(i))
	}
	o.wait(t, "records for a missing topic")
	for i := 0; i < 3; i++ {
		out := o.one(t, i)
		require.ErrorIs(t, out.err, ErrUnknownTopic)
		require.Contains(t, out.err.Error(), `"ghost"`)
		require.Equal(t, int64(-1), out.md.Offset)
	}
	require.GreaterOrEqual(t, time.Since(began), 300*time.Millisecond, "not before MaxBlock")
	_, err := p.Send(ctx(t), &Record{Topic: "real", Value: []byte("v")})
	require.NoError(t, err)
}

// While records of one topic wait for its metadata (a mistyped name waits
// out MaxBlock), a record of a known topic that has none held takes no
// lock of the held records': the test holds that lock, and the record is
// still appended. Produce used to take it for every record while any was
// held, so that one missing topic made every goroutine's Produce to every
// topic queue on a single mutex.
func TestARecordOfATopicWithNoneHeldTakesNoHeldLock(t *testing.T) {
	p := producerWaitingLong(t, 1)
	typo, known := newOutcomes(1), newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "typo", Value: []byte("waits")}, typo.cb(0))
	require.NotZero(t, p.held.count.Load(), "the record of the missing topic is held")

	p.held.mu.Lock()
	unlock := sync.OnceFunc(p.held.mu.Unlock)
	defer unlock() // before Close, which takes it, should the wait below fail
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("goes")}, known.cb(0))
	}()
	receive(t, produced, `Produce of a record of "t", known and with none held, while held.mu was taken`)
	unlock()

	known.wait(t, "the record of t")
	require.NoError(t, known.one(t, 0).err)
	require.False(t, typo.done(), "the record of the missing topic still waits")
	require.ErrorIs(t, closeAtOnce(t, p, typo, 0), ErrClosed, "the record of the missing topic at Close")
}

// A topic hidden by metadata fails the same way, and the producer recovers
// when metadata shows it again. MaxBlock runs on a fake clock, moved past
// it once an answer has hidden the topic: on the wall clock, the refresh
// that shows it again, through the metadata loop's backoff, could take a
// loaded machine longer than a MaxBlock short enough for the test.
func TestHiddenTopicFailsThenRecovers(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	var hidden atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		for _, rt := range req.Topics {
			if rt.Name != nil && *rt.Name == "t" {
				hidden.Store(true)
			}
		}
		return fakebroker.Action{Hide: []string{"t"}}
	})
	clk := clock.NewFake(heldClockStart)
	const maxBlock = time.Minute
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.MaxBlock, cfg.Linger = clk, maxBlock, NoLinger
	})
	o := newOutcomes(1)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "an answer hiding t", func() bool {
		releasePacing(clk)
		return hidden.Load()
	})
	require.Less(t, clk.Now().Sub(t0), maxBlock, "the test's own pace leaves the record time to wait")
	require.Zero(t, o.first.Load(), "the record waits out its MaxBlock")
	clk.Advance(t0.Add(maxBlock + pastDeadline).Sub(clk.Now()))
	o.wait(t, "the record of the hidden topic")
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)

	c.OnMetadata(nil)
	again := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, again.cb(0))
	eventually(t, "the record of t, shown again", func() bool {
		releasePacing(clk)
		return again.done()
	})
	require.NoError(t, again.one(t, 0).err)
}

// An explicit partition is checked when the held record's topic arrives:
// out of range fails that record only, at its MaxBlock. MaxBlock runs on
// a fake clock, which the test moves past it only once the other records
// are written: on the wall clock, a MaxBlock short enough for the test
// could run out before a loaded machine's metadata round trip.
func TestHeldRecordWithOutOfRangePartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	const maxBlock = time.Minute
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.MaxBlock = clk, maxBlock })
	o := newOutcomes(3)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 0)}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 1), Partition: 5, ExplicitPartition: true}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "late", Value: value(0, 2), Partition: 1, ExplicitPartition: true}, o.cb(2))
	require.NoError(t, c.CreateTopic("late", 2))
	eventually(t, "the records for partitions the topic has", func() bool {
		releasePacing(clk)
		return o.first.Load() >= 2
	})
	require.Less(t, clk.Now().Sub(t0), maxBlock, "the test's own pace leaves the records time to wait")
	require.Equal(t, int64(2), o.first.Load(), "the record for partition 5 waits out its MaxBlock")
	clk.Advance(t0.Add(maxBlock + pastDeadline).Sub(clk.Now()))
	o.wait(t, "held records")
	require.NoError(t, o.one(t, 0).err)
	require.ErrorIs(t, o.one(t, 1).err, ErrInvalidRecord, "partition 5 never came within MaxBlock")
	out := o.one(t, 2)
	require.NoError(t, out.err)
	require.Equal(t, value(0, 2), c.Records("late", 1)[out.md.Offset].Value)
}

// A lagging broker may call a topic unknown while its held records drain:
// the record the drain reaches then waits, within its limit, for the
// topic's partitions to come back (the topic is wanted meanwhile, so the
// metadata loop polls for it), and goes. Before, it failed at once with
// ErrUnknownTopic, "it disappeared from metadata", though the topic
// exists. The test appends the record as the drain does, at a moment the
// metadata lacks the partitions: the drain's goroutine reaches a record at
// no moment a test could choose. On the fake clock, only the drain's wait
// can bring the topic back: nothing else wants it, and no periodic refresh
// comes within the test.
func TestAHeldRecordWhoseTopicIsCalledUnknownMidDrainWaitsForIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	var hide, hidden atomic.Bool
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			hidden.Store(true)
			return fakebroker.Action{Hide: []string{"t"}}
		}
		return fakebroker.Action{}
	})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MetadataMaxAge, cfg.MaxBlock = time.Hour, time.Hour
	})
	eventually(t, "the topic's metadata", func() bool {
		clk.Advance(cfgRetryBackoff)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), "t")
		return n > 0
	})
	hide.Store(true)
	eventually(t, "a refresh answered by the lagging broker", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return hidden.Load()
	})
	// The loop waits for the clock after every refresh: the answer is
	// applied, and stays, until the test moves time again.
	eventually(t, "the lagging answer applied", func() bool {
		tp := p.cluster.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 0
	})

	defer p.cluster.Want("t")() // as while the topic's held records drain
	o := newOutcomes(1)
	h := heldRecord{rec: Record{Topic: "t", Value: []byte("v")}, cb: Callback(o.cb(0)), since: clk.Now()}
	returned := make(chan bool, 1)
	go func() { returned <- p.appendHeld(p.ctx, &waitingTopic{}, p.cluster.Snapshot(), &h, 0) }()
	var appended bool
	eventually(t, "the held record's append to end", func() bool {
		select {
		case appended = <-returned:
			return true
		default:
			clk.Advance(cfgRetryBackoff)
			return false
		}
	})
	if !appended {
		o.wait(t, "the failed record's outcome")
		t.Fatalf("the held record failed: %v", o.one(t, 0).err)
	}
	require.NoError(t, p.Flush(ctx(t)))
	require.NoError(t, o.one(t, 0).err)
}

// heldClockStart is where the fake clocks of these tests start.
var heldClockStart = time.Unix(1_700_000_000, 0)

// learnTopic waits, moving clk, until p has topic's metadata: on the fake
// clock the metadata loop's pacing waits for the test to move time.
func learnTopic(t *testing.T, p *Producer, clk *clock.Fake, topic string) {
	t.Helper()
	eventually(t, topic+"'s metadata", func() bool {
		releasePacing(clk)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), topic)
		return n > 0
	})
}

// awaitDrain moves clk, in steps, until a goroutine appends topic's held
// records, and no further: the drain's waits are timed on a clock that then
// stands still, at most one step past the time they read.
func awaitDrain(t *testing.T, p *Producer, clk *clock.Fake, topic string) {
	t.Helper()
	eventually(t, "the drain of "+topic+"'s held records", func() bool {
		p.held.mu.Lock()
		wt := p.held.topics[topic]
		draining := wt != nil && wt.draining
		p.held.mu.Unlock()
		if !draining {
			releasePacing(clk)
		}
		return draining
	})
}

// releasePacing moves clk to its earliest timer when that is due within
// newProducer's longest retry backoff (the metadata loop's pacing between
// refreshes, or its poll), and not otherwise: moved at every look, fake
// time would run ahead of a slow machine's metadata round trips, toward
// the deadlines the tests set.
func releasePacing(clk *clock.Fake) {
	// newProducer's RetryBackoffMax, spread by its jitter (+20%)
	const longestBackoff = 120 * time.Millisecond
	now, next := clk.Now(), time.Duration(-1)
	for _, d := range clk.Deadlines() {
		if wait := max(d.Sub(now), 0); wait <= longestBackoff && (next < 0 || wait < next) {
			next = wait
		}
	}
	if next >= 0 {
		clk.Advance(next)
	}
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

// A record set aside for a partition its topic does not have fails at its
// MaxBlock also while a record of its round, behind it, waits for a
// batch's memory: the expiry loop fails it. The drain looks at the records
// set aside only once its round is done, and the expiry loop skipped a
// topic being drained: the record failed only when the one waiting for
// memory did, at that one's DeliveryTimeout, 3 seconds late.
func TestARecordSetAsideFailsAtItsMaxBlockWhileItsRoundWaitsForMemory(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 1 })
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, `topic "late" partition 5: invalid record: no such partition (the topic has 1)`)
	require.Equal(t, 1, p.pool.Waiters(), "the keyless record still waits for memory")

	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// heldPairShortOfMemory holds two records of "late", first at t0 and a
// keyless one a second later, then lets "late" come with one partition
// while memory is full, and returns once a drained record waits for a
// batch's memory: first, or, if first is set aside, the keyless one.
func heldPairShortOfMemory(t *testing.T, first *Record) (*fakebroker.Cluster, *Producer, *clock.Fake, *outcomes, time.Time) {
	t.Helper()
	c, p, clk := shortOfMemoryProducer(t)
	o := newOutcomes(2)
	t0 := clk.Now()
	p.Produce(ctx(t), first, o.cb(0))
	clk.Advance(time.Second)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("keyless")}, o.cb(1))
	clk.Advance(4 * time.Second)
	fillBufferMemory(t, c, p)
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "a held record waiting for memory", func() bool { return p.pool.Waiters() == 1 })
	return c, p, clk, o, t0
}

// asideBehindAMemoryWait sets the scene of the tests of a record set aside
// while its round waits for memory: record 0, produced at t0, names
// partition 5 of "late"; record 1, keyless, a second later; "late" comes
// with one partition while memory is full, so record 0 is set aside and
// record 1 waits for a batch's memory, each well within its MaxBlock.
func asideBehindAMemoryWait(t *testing.T) (*fakebroker.Cluster, *Producer, *clock.Fake, *outcomes, time.Time) {
	t.Helper()
	c, p, clk, o, t0 := heldPairShortOfMemory(t, &Record{Topic: "late", Partition: 5, ExplicitPartition: true, Value: []byte("names partition 5")})
	require.Equal(t, 1, setAside(p, "late"), "the record for partition 5")
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock-time.Second, "the test's own pace leaves the record time to wait")
	return c, p, clk, o, t0
}

// A record set aside whose partition comes within its MaxBlock, while its
// round still waits for memory, is not failed at its MaxBlock: the drain
// appends it once the round ends, within its DeliveryTimeout. The expiry
// loop failed it at its MaxBlock all the same, told that partition 5 did
// not exist, the topic having 6.
func TestARecordSetAsideWhosePartitionCameOutlivesItsMaxBlock(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	require.NoError(t, c.AddPartitions("late", 6))
	eventually(t, "metadata with 6 partitions", func() bool {
		p.cluster.RequestRefresh("test")
		releasePacing(clk)
		tp := p.cluster.Snapshot().Peek("late")
		return tp != nil && len(tp.Partitions) == 6
	})
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock, "partition 5 known within the record's MaxBlock")

	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	c.OnProduce(nil) // memory frees as the batches filling it are answered
	eventually(t, "both outcomes", func() bool {
		releasePacing(clk)
		return o.first.Load() == 2
	})
	require.NoError(t, o.one(t, 1).err, "the keyless record")
	require.NoError(t, o.one(t, 0).err, "the record for partition 5, which came within its MaxBlock")
	clk.Advance(shortOfMemoryDeliveryTimeout) // the batches that filled memory settle, for Close
}

// A record set aside after the expiry loop's last pass fails at its
// MaxBlock while a record behind it in its round waits for memory: setting
// it aside wakes the loop, which did not count it at that pass (it waited
// in a round then, behind a record waiting for memory). The loop slept on
// until the next deadline it knew of, the batches' that fill the memory,
// and the record failed only when the round went on, at the DeliveryTimeout
// of the record behind it.
func TestARecordSetAsideAfterTheExpiryLoopsLastPassFailsAtItsMaxBlock(t *testing.T) {
	c, p, clk := shortOfMemoryProducer(t)
	o := newOutcomes(3)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("waits for memory")}, o.cb(0))
	clk.Advance(3 * time.Second)
	named := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 5, ExplicitPartition: true, Value: []byte("names partition 5")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("waits for memory behind it")}, o.cb(2))
	clk.Advance(time.Second / 2)
	filled := clk.Now()
	fillBufferMemory(t, c, p)
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "the first record waiting for memory", func() bool { return p.pool.Waiters() == 1 })

	// The loop's pass that finds the round under way (its first, from
	// newProducer, was before t0): it then sleeps until the batches
	// filling the memory expire, past the MaxBlock of the record naming
	// partition 5.
	clk.Advance(t0.Add(shortOfMemoryMaxBlock).Sub(clk.Now()))
	batchesExpire := filled.Add(shortOfMemoryDeliveryTimeout)
	require.True(t, named.Add(shortOfMemoryMaxBlock).Before(batchesExpire))
	eventually(t, "the expiry loop asleep until the batches expire", func() bool {
		return slices.Contains(clk.Deadlines(), batchesExpire)
	})

	// The first record fails at its DeliveryTimeout; the round sets the
	// record for partition 5 aside, and the one behind it waits for memory.
	clk.Advance(t0.Add(shortOfMemoryDeliveryTimeout + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record behind waiting for memory", func() bool {
		return o.first.Load() == 1 && setAside(p, "late") == 1 && p.pool.Waiters() == 1
	})
	require.ErrorIs(t, o.one(t, 0).err, ErrDeliveryTimeout)

	clk.Advance(named.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 2 })
	require.ErrorIs(t, o.one(t, 1).err, ErrInvalidRecord)

	c.OnProduce(nil)
	clk.Advance(shortOfMemoryDeliveryTimeout)
	o.wait(t, "the last record")
}

// setAside is how many records of topic p's drain has set aside.
func setAside(p *Producer, topic string) int {
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	if wt := p.held.topics[topic]; wt != nil {
		return len(wt.aside)
	}
	return 0
}

// A held record whose DeliveryTimeout ended before its turn to be appended
// came (it waited behind a record waiting for the same partition) fails
// with ErrDeliveryTimeout without joining a batch: appended, it would bring
// the batch's deadline forward to one already past, and the records
// appended after it would fail with it.
func TestAHeldRecordPastItsDeliveryTimeoutJoinsNoBatch(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := clock.NewFake(heldClockStart)
	const deliveryTimeout = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = 20*time.Second, deliveryTimeout, time.Second
	})
	o := newOutcomes(2)
	t0 := clk.Now()
	// Both are held before the topic is known, and the second names the
	// partition the first waits for, so it waits behind it. (A record the
	// partitioner places went on at once: the topic's one partition is not
	// the one the first waits for.)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits for its partition")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits behind it")}, o.cb(1))
	awaitDrain(t, p, clk, "t")

	clk.Advance(t0.Add(deliveryTimeout + 100*time.Millisecond).Sub(clk.Now()))
	o.wait(t, "the held records at their DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord, "its partition never came")
	require.ErrorIs(t, err, ErrDeliveryTimeout, "it waited for it until its DeliveryTimeout")
	require.ErrorIs(t, o.one(t, 1).err, ErrDeliveryTimeout)
	require.Zero(t, p.Stats().Batches, "the record behind joined no batch")
	require.Zero(t, p.Stats().BufferedBatches)
}

// A record that waited for its partition brings its DeliveryTimeout, begun
// at Produce, into the batch it joins; the expiry loop, asleep for a full
// timeout since it last looked (it does not count a topic being appended),
// wakes for that earlier deadline, and the batch expires on time. (The
// record waits for a partition added late: a record the partitioner
// places, which this test once held behind it, no longer waits for a
// partition the topic does not have.)
func TestABatchThatAHeldRecordJoinedExpiresAtTheRecordsDeadline(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := clock.NewFake(heldClockStart)
	const deliveryTimeout = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 20*time.Second, deliveryTimeout, time.Second, 5*time.Second
	})
	o := newOutcomes(2)
	// The expiry loop's last pass before the batch exists: when the record
	// of a topic that never appears expires, at t0+DeliveryTimeout. It then
	// sleeps a full DeliveryTimeout.
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("marks the loop's pass")}, o.cb(0))
	clk.Advance(3 * time.Second)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("waits for its partition")}, o.cb(1))
	awaitDrain(t, p, clk, "t")

	clk.Advance(t0.Add(deliveryTimeout).Sub(clk.Now()))
	eventually(t, "the expiry loop's pass at t0+DeliveryTimeout", func() bool { return o.first.Load() == 1 })
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)
	// The partition comes, with three seconds of the record's
	// DeliveryTimeout left, and the record joins a batch (Linger keeps it
	// from being sent before its deadline).
	require.NoError(t, c.AddPartitions("t", 2))
	eventually(t, "the record appended once its partition came", func() bool {
		releasePacing(clk)
		return p.Stats().BufferedBatches == 1
	})
	deadline := since.Add(deliveryTimeout)
	require.True(t, clk.Now().Before(deadline), "the test's own pace leaves the record time to wait")
	eventually(t, "the expiry loop waiting for the batch's deadline", func() bool {
		return slices.Contains(clk.Deadlines(), deadline)
	})

	clk.Advance(deadline.Sub(clk.Now()))
	o.wait(t, "the batch at the deadline of the held record in it")
	err := o.one(t, 1).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	// The record waited its whole DeliveryTimeout, counted from its
	// Produce, before the batch was created: the error said "within
	// 2.999s (DeliveryTimeout)", the batch's age.
	require.Contains(t, err.Error(), "within 10s (DeliveryTimeout)")
}

// heldProducer is a producer for c on a fake clock, whose held records
// wait for an hour (MaxBlock) and go as soon as they are appended.
func heldProducer(t *testing.T, c *fakebroker.Cluster) (*Producer, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	return p, clk
}

// closeAtOnce closes p with a ctx already ended, so that Close waits for
// nothing and what still waits fails, then returns record i's error once
// every record of o has its outcome.
func closeAtOnce(t *testing.T, p *Producer, o *outcomes, i int) error {
	t.Helper()
	closing, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Close(closing)
	o.wait(t, "the records at Close")
	return o.one(t, i).err
}

// A record that names a partition its topic does not have, held before the
// topic's metadata came, holds up no record of the topic that could not
// land beside it: neither one held with it (the drain sets it aside rather
// than wait for its partition in turn) nor later ones, keyless, keyed or
// for a partition the topic has. They all waited behind it until its
// MaxBlock, as if it could go anywhere; the Java client blocks only the
// thread that sent it.
func TestARecordHeldForAMissingPartitionBeforeItsTopicWasKnownHoldsUpNoOther(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	p, clk := heldProducer(t, c)
	o := newOutcomes(5)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 7, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("held with it")}, o.cb(1))
	learnTopic(t, p, clk, "t")
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("keyless")}, o.cb(2))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("keyed")}, o.cb(3))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("partition 1")}, o.cb(4))
	eventually(t, "the records for partitions t has", func() bool {
		releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
		return o.first.Load() == 4
	})
	for i := 1; i < 5; i++ {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	require.False(t, o.done(), "the record for partition 7 still waits for it")

	err := closeAtOnce(t, p, o, 0)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorContains(t, err, "partition 7 of t")
}

// Records set aside for a partition their topic does not have keep their
// order once it comes, and go before the records that could land on it
// behind them: here one for the same partition, held after they were set
// aside.
func TestRecordsSetAsideGoFirstOnceTheirPartitionComes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p, clk := heldProducer(t, c)
	o := newOutcomes(3)
	values := []string{"first", "second", "third, held behind them"}
	toPartition2 := func(i int) {
		p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte(values[i])}, o.cb(i))
	}
	toPartition2(0)
	toPartition2(1)
	learnTopic(t, p, clk, "t")
	eventually(t, "the records for partition 2 set aside", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && len(wt.aside) == 2 && wt.stopAppend != nil
	})
	toPartition2(2)
	require.NoError(t, c.AddPartitions("t", 3)) // partitions 0 to 2
	eventually(t, "the records appended once partition 2 came", func() bool {
		releasePacing(clk)
		return o.done()
	})
	for i := range values {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	stored := c.Records("t", 2)
	require.Len(t, stored, len(values))
	for i, r := range stored {
		require.Equal(t, values[i], string(r.Value), "partition 2, offset %d", i)
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

// A record set aside for a partition its topic does not have still holds
// up no other record when a lagging broker calls the topic unknown
// meanwhile: the drain waits for the topic's partitions, and once they are
// back sets the record aside again. It waited for its own partition
// instead, and the record held while the topic was unknown waited behind
// it until its MaxBlock.
func TestARecordSetAsideHoldsUpNoOtherAfterALaggingBrokerCalledItsTopicUnknown(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	var lagging atomic.Bool
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if lagging.Load() {
			return fakebroker.Action{Hide: []string{"t"}}
		}
		return fakebroker.Action{}
	})
	p, clk := heldProducer(t, c)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 7, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	learnTopic(t, p, clk, "t")
	eventually(t, "the record for partition 7 set aside", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && len(wt.aside) == 1 && wt.stopAppend != nil
	})

	lagging.Store(true)
	eventually(t, "the lagging answer applied", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		tp := p.cluster.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 0
	})
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("held while t was called unknown")}, o.cb(1))
	lagging.Store(false)
	eventually(t, "the record held while t was called unknown", func() bool {
		releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
		return o.first.Load() == 1
	})
	require.NoError(t, o.one(t, 1).err)
	require.False(t, o.done(), "the record for partition 7 still waits for it")

	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed)
}

// A record set aside for a partition its topic does not have fails, at
// its MaxBlock, as naming that partition (ErrInvalidRecord, the partition
// and the count the producer saw) also when the latest metadata, from a
// lagging broker, calls the topic unknown: the producer saw the topic with
// 3 partitions, and the record waited only for its own. (The lagging
// answer wakes the drain, whose round takes the record back to wait for
// the topic's partitions: the drain fails it, appendHeld.) It failed as an
// unknown topic, naming no partition (-1).
func TestARecordSetAsideFailsAsNamingItsPartitionWhenALaggingBrokerCallsItsTopicUnknown(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	lagging := lagWith(c, "t")
	p, clk := heldProducer(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	eventually(t, "the record for partition 5 set aside", func() bool {
		releasePacing(clk)
		return setAside(p, "t") == 1
	})

	lagging.Store(true)
	awaitLaggingAnswer(t, p, clk, "t")
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	requireNamesMissingPartition(t, o.one(t, 0).err, "t", 5, 3)
}

// So does a record that the expiry loop fails, set aside while a record
// behind it in its round waits for a batch's memory (asideTooLong): it
// failed as an unknown topic too.
func TestARecordSetAsideBehindAMemoryWaitFailsAsNamingItsPartitionWhenItsTopicIsCalledUnknown(t *testing.T) {
	c, p, clk, o, t0 := asideBehindAMemoryWait(t)
	lagWith(c, "late").Store(true)
	awaitLaggingAnswer(t, p, clk, "late")
	require.Less(t, clk.Now().Sub(t0), shortOfMemoryMaxBlock, "the lagging answer came within the record's MaxBlock")

	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 1 })
	requireNamesMissingPartition(t, o.one(t, 0).err, "late", 5, 1)

	c.OnMetadata(nil)
	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// So does a record held by Produce for a partition its known topic lacks
// when the first metadata after it calls the topic unknown, so that no
// drain takes it: it failed as an unknown topic too.
func TestARecordHeldForAPartitionItsKnownTopicLacksFailsAsNamingItWhenALaggingBrokerCallsTheTopicUnknown(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	lagging := lagWith(c, "t")
	p, clk := heldProducer(t, c)
	learnTopic(t, p, clk, "t")
	lagging.Store(true) // the metadata p has still shows 3 partitions
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	awaitLaggingAnswer(t, p, clk, "t")

	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	requireNamesMissingPartition(t, o.one(t, 0).err, "t", 5, 3)
}

// A record for a partition its known topic lacks waits for it, and at its
// MaxBlock fails saying so, as the Java client's "not present in metadata
// after N ms" does. Its error said only that the topic had no such
// partition: `producer: topic "t" partition 5: invalid record: no such
// partition (the topic has 3)`, as if it had been refused at once.
func TestARecordForAPartitionItsTopicLacksSaysItWaitedMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	p, clk := heldProducer(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	err := o.one(t, 0).err
	requireNamesMissingPartition(t, err, "t", 5, 3)
	require.EqualError(t, err, `producer: topic "t" partition 5: invalid record: no such partition (the topic has 3): not in the metadata within MaxBlock (1h0m0s)`)
}

// lagWith makes c's metadata answers, once the flag returned is set, call
// topic unknown, as a broker restarted and not yet caught up does.
func lagWith(c *fakebroker.Cluster, topic string) *atomic.Bool {
	var lagging atomic.Bool
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if lagging.Load() {
			return fakebroker.Action{Hide: []string{topic}}
		}
		return fakebroker.Action{}
	})
	return &lagging
}

// awaitLaggingAnswer asks for metadata, moving clk only through the
// metadata loop's pacing, until p's has topic without partitions.
func awaitLaggingAnswer(t *testing.T, p *Producer, clk *clock.Fake, topic string) {
	t.Helper()
	eventually(t, "the lagging answer applied", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		tp := p.cluster.Snapshot().Topic(topic)
		return tp == nil || len(tp.Partitions) == 0
	})
}

// requireNamesMissingPartition checks that err is a record's for naming
// partition of topic, which has partitions partitions, and that waited its
// MaxBlock for it.
func requireNamesMissingPartition(t *testing.T, err error, topic string, partition int32, partitions int) {
	t.Helper()
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.NotErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, fmt.Sprintf("no such partition (the topic has %d): not in the metadata within MaxBlock", partitions))
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, topic, pe.Topic)
	require.Equal(t, partition, pe.Partition)
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

// A record that waited for its topic's metadata in vain says why the last
// metadata refresh failed, when no broker answered it: "no metadata" alone
// would leave the user to guess between the topic and the brokers.
func TestARecordThatFoundNoMetadataSaysWhyNoBrokerAnswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, startCluster(t, fakebroker.Options{}), func(cfg *Config) {
		cfg.Brokers, cfg.clock, cfg.MaxBlock = []string{dead}, clk, time.Second
	})
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "a metadata refresh that no broker answered", func() bool { return p.refreshFailed.Load() != nil })
	clk.Advance(time.Second)
	o.wait(t, "the record")
	err = o.one(t, 0).err
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "the last metadata refresh failed")
	require.ErrorContains(t, err, dead, "the error names the broker that did not answer")
}

// Close whose ctx ends while a held record's append waits for buffer
// memory fails that record with ErrClosed, as Close promises for what is
// left: it failed with the producer's own context's "context canceled",
// though the user's was not.
func TestCloseEndingAHeldRecordsWaitForMemoryFailsItAsClosed(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BufferMemory, cfg.BatchSize, cfg.Linger = 64<<10, 16<<10, NoLinger
	})
	// Known before the records: none of them but "late"'s waits for
	// metadata, so the Produce that waits for memory below is the one the
	// test starts.
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	// A callback that blocks keeps every batch's memory in use.
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("blocker")}, func(RecordMetadata, error) {
		close(entered)
		<-release
	})
	receive(t, entered, "the blocker's callback did not run")
	held := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: make([]byte, 8<<10)}, held.cb(0)) // reserves 8 KiB
	o := newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("a")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("b")}, o.cb(1))
	// A new batch needs 16 KiB, and 8 are free: this one waits first.
	go p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("c")}, o.cb(2))
	eventually(t, "a Produce waiting for memory", func() bool { return p.Stats().BufferWaiters == 1 })
	require.NoError(t, c.CreateTopic("late", 1))
	// The held record's reserved memory went to the waiter: its append
	// waits for memory now.
	eventually(t, "the held record's append waiting for memory", func() bool {
		return p.Stats().BufferWaiters == 1 && p.held.count.Load() == 1 && o.first.Load() == 0
	})
	// Close's flush cannot end while the callback blocks: its ctx does.
	closing, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = p.Close(closing)
	releaseOnce.Do(func() { close(release) })
	held.wait(t, "the held record")
	err = held.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	// Its words go under its PartitionError, as every record's do, where
	// they came before it: `producer closed: producer: topic "late" ...`.
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, pe.Err, ErrClosed, "ErrClosed under the PartitionError: %v", err)
	require.True(t, strings.HasPrefix(err.Error(), `producer: topic "late"`), "%v", err)
	require.Equal(t, 1, strings.Count(err.Error(), "producer: topic"), "%v", err)
}

// A record held to queue behind its topic's held records, whose drain ends
// while the record waits for memory, is appended at once: its topic's
// metadata is known, and no metadata update is due that would start a
// drain for it. It waited for a refresh instead, paced at RetryBackoff,
// and the records of the topic produced meanwhile queued behind it, each
// in turn: with BufferMemory of a batch or two, every record of a known
// topic cost a refresh (40 records of 3000 bytes took 7.6 s with
// RetryBackoff at 200ms), and failed with a MaxBlock below the pacing. On
// the fake clock, which stands still once the first record's drain has
// begun, no refresh comes.
func TestARecordHeldBehindADrainThatEndsWhileItWaitsForMemoryGoesWithoutARefresh(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize, cfg.BufferMemory = 1024, 4096
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("first")}, o.cb(0))
	// The test takes the memory the first record left: once "late" comes,
	// its append waits for a batch's.
	taken := p.pool.Available()
	require.NoError(t, p.pool.Reserve(ctx(t), taken, time.Second))
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "the first record's append waiting for memory", func() bool { return p.pool.Waiters() == 1 })
	before := c.MetadataRequests()

	// Held behind the first, the second waits for its own memory behind
	// the first's wait, and needs more than the first's batch gives back.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.Produce(ctx(t), &Record{Topic: "late", Value: make([]byte, 2000)}, o.cb(1))
	}()
	eventually(t, "the second record waiting for memory", func() bool { return p.pool.Waiters() == 2 })
	p.pool.Release(p.cfg.BatchSize) // the first record's batch
	eventually(t, "the first record's drain ended", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		return p.held.topics["late"] == nil
	})
	p.pool.Release(taken - p.cfg.BatchSize) // the second record's memory
	receive(t, produced, "the second record's Produce did not return")

	o.wait(t, "the second record, held as its topic's drain ended")
	require.NoError(t, o.one(t, 0).err)
	require.NoError(t, o.one(t, 1).err)
	require.Equal(t, before, c.MetadataRequests(), "metadata refreshes once the topic's metadata was known")
}

// A record whose topic never appears fails naming the topic once, as does
// PartitionsFor: under the PartitionError, which names it, the error read
// `producer: topic "nope": unknown topic "nope": ...`. Both still match
// ErrUnknownTopic, and the held record's ErrDeliveryTimeout when its
// DeliveryTimeout is the shorter.
func TestAnUnknownTopicsErrorNamesTheTopicOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	for _, deliveryTimeout := range []time.Duration{2 * time.Hour, 30 * time.Minute} {
		clk := clock.NewFake(heldClockStart)
		p := newProducer(t, c, func(cfg *Config) {
			cfg.clock = clk
			cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, deliveryTimeout, NoLinger
			cfg.RequestTimeout = time.Minute
		})
		o := newOutcomes(1)
		since := clk.Now()
		p.Produce(ctx(t), &Record{Topic: "nope"}, o.cb(0))
		clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now()))
		o.wait(t, "the record of a topic that never appears")
		err := o.one(t, 0).err
		require.ErrorIs(t, err, ErrUnknownTopic)
		if deliveryTimeout < time.Hour {
			require.ErrorIs(t, err, ErrDeliveryTimeout)
		}
		require.Equal(t, 1, strings.Count(err.Error(), `"nope"`), "the topic named once: %v", err)

		done, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = p.PartitionsFor(done, "nope")
		require.ErrorIs(t, err, ErrUnknownTopic)
		require.Equal(t, 1, strings.Count(err.Error(), `"nope"`), "the topic named once: %v", err)
	}
}

// A record that names the partition just past its topic's last, held
// before the topic's metadata came, is set aside like any record for a
// partition the topic lacks, and fails at its MaxBlock. Taken as fitting
// the topic, it would wait for its partition in its round and hold up
// the records behind it until its DeliveryTimeout.
func TestARecordForThePartitionJustPastTheLastIsSetAsideAndFailsAtItsMaxBlock(t *testing.T) {
	c, p, clk, o, t0 := heldPairShortOfMemory(t, &Record{Topic: "late", Partition: 1, ExplicitPartition: true, Value: []byte("names partition 1")})
	require.Equal(t, 1, setAside(p, "late"), "the record for partition 1, of a topic of one")
	clk.Advance(t0.Add(shortOfMemoryMaxBlock + pastDeadline).Sub(clk.Now()))
	eventually(t, "the record set aside failed at its MaxBlock", func() bool { return o.first.Load() == 1 })
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, `topic "late" partition 1: invalid record: no such partition (the topic has 1)`)
	recordOneFailsAtItsDeliveryTimeout(t, c, clk, o, t0)
}

// A record held for the partition just past its topic's last, once the
// topic's metadata came, holds up no record behind it: the drain sees that
// its partition has not come, and the keyless record goes. Seen as come,
// it would go first and wait for its partition, the others behind it.
func TestARecordHeldForThePartitionJustPastTheLastHoldsUpNoOther(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 1, ExplicitPartition: true, Value: []byte("names partition 1")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("keyless")}, o.cb(1))
	require.NoError(t, c.CreateTopic("late", 1))
	eventually(t, "the keyless record, behind the one for partition 1", func() bool {
		releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
		return o.first.Load() == 1
	})
	require.NoError(t, o.one(t, 1).err)
	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed, "the record for partition 1 still waited for it")
}

// Produce copies what it needs of a record before it returns, as Record's
// doc promises, a held record too, partitioned and written later from its
// copy: a caller reusing its buffers (key, value, a header's value, the
// headers' slice) after Produce must not change what is written.
func TestAHeldRecordIsWrittenAsItWasWhenProduced(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p, clk := heldProducer(t, c)
	key, val, hval := []byte("key-1"), []byte("value-1"), []byte("header-1")
	headers := []Header{{Key: "h", Value: hval}}
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Key: key, Value: val, Headers: headers}, o.cb(0))
	copy(key, "XXXXX")
	copy(val, "XXXXXXX")
	copy(hval, "XXXXXXXX")
	headers[0] = Header{Key: "other", Value: []byte("other")}
	require.NoError(t, c.CreateTopic("late", 1))
	eventually(t, "the held record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
	written := c.Records("late", 0)
	require.Len(t, written, 1)
	require.Equal(t, "key-1", string(written[0].Key))
	require.Equal(t, "value-1", string(written[0].Value))
	require.Equal(t, []Header{{Key: "h", Value: []byte("header-1")}}, written[0].Headers)
}

// The count of held records comes back to zero once each has its outcome,
// appended or failed (here by its partitioner's panic), each alone: a
// Produce takes the held records' lock only while the count says some are
// held (TestARecordOfATopicWithNoneHeldTakesNoHeldLock). Left above zero,
// every Produce would take the lock for nothing; below, a record could
// pass one held before it.
func TestTheHeldCountComesBackToZeroOnceTheHeldRecordsHaveTheirOutcomes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		if string(key) == "panics" {
			panic("user partitioner bug")
		}
		return 0
	})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Partitioner = clk, part
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	for i, key := range []string{"panics", "goes"} {
		topic := fmt.Sprintf("late%d", i)
		o := newOutcomes(1)
		p.Produce(ctx(t), &Record{Topic: topic, Key: []byte(key), Value: []byte("v")}, o.cb(0))
		require.EqualValues(t, 1, p.held.count.Load(), "the record keyed %s held", key)
		require.NoError(t, c.CreateTopic(topic, 1))
		eventually(t, "the held count back to zero after the record keyed "+key, func() bool {
			releasePacing(clk)
			return o.done() && p.held.count.Load() == 0
		})
	}
}

// A topic whose held records all failed at their MaxBlock is forgotten by
// the held records: otherwise the producer would keep asking for the
// metadata of a topic no record waits for (a mistyped name, for ever).
func TestATopicWhoseHeldRecordsAllExpiredIsForgotten(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "never", Value: []byte("v")}, o.cb(0))
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	require.ErrorIs(t, o.one(t, 0).err, ErrUnknownTopic)
	eventually(t, "the topic forgotten by the held records", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		_, waiting := p.held.waiting.Load("never")
		return len(p.held.topics) == 0 && !waiting
	})
}

// A record naming a partition of a topic that never appears fails at its
// MaxBlock as an unknown topic: the producer never saw the topic, so it
// cannot say the partition is missing from it (no count of partitions to
// name), and a user told ErrInvalidRecord would look for a bad partition
// rather than a missing topic.
func TestAnExplicitPartitionOfATopicNeverSeenFailsAsUnknown(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "never", Partition: 0, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldProducer's MaxBlock
	o.wait(t, "the record at its MaxBlock")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.NotErrorIs(t, err, ErrInvalidRecord)
}
