package producer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
)

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
	go func() { returned <- p.appendHeld(p.ctx, &waitingTopic{}, p.cluster.Snapshot(), &h, 0, nil) }()
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

// Records set aside go first also when their partition comes during the
// round that set them aside: the round starts over, those set aside first.
// Going on, it appended a record behind them for that partition before
// them. Here the round's record between them is held in its partitioner
// while the partition comes. The topic is made only once the three are
// held: had its metadata come between two Produces, the first record set
// aside would hold up no other (TestARecordHeldForAMissingPartitionBeforeItsTopicWasKnownHoldsUpNoOther),
// and the next Produce would have called the partitioner itself, to wait
// there for a release the test, waiting with it, never gave.
func TestRecordsSetAsideGoFirstWhenTheirPartitionComesMidRound(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	entered, release := make(chan struct{}), make(chan struct{})
	enter := sync.OnceFunc(func() { close(entered) }) // a second call must not panic
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		if string(key) == "waits" {
			enter()
			<-release
		}
		return 0
	})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Partitioner = clk, part
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // before the producer's Close, which waits for the drain
	o := newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("first")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("between")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("second")}, o.cb(2))
	require.Equal(t, int64(3), p.held.count.Load(), "the records held for t, unknown yet")
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record between the two for partition 2")
	require.NoError(t, c.AddPartitions("t", 3)) // partitions 0 to 2
	awaitPartitions(t, p, clk, "t", 3)
	releaseOnce()
	o.wait(t, "the held records")
	for i := range 3 {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	var stored []string
	for _, r := range c.Records("t", 2) {
		stored = append(stored, string(r.Value))
	}
	require.Equal(t, []string{"first", "second"}, stored, "partition 2")
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
	awaitPartitions(t, p, clk, "t", 0)
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

// A record held for the partition just past its topic's last, once the
// topic's metadata came, holds up no record behind it: the drain sees that
// its partition has not come, and the keyless record goes. Seen as come,
// it would go first and wait for its partition, the others behind it. Set
// aside, and the only record left, it holds up no record produced later
// either: Produce appends one at once. Such a record was held behind it,
// until a metadata update woke the drain, while the producer counted
// partition 1 among the topic's, or the keyless record, appended by then,
// as still waiting.
func TestARecordHeldForThePartitionJustPastTheLastHoldsUpNoOther(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk := heldProducer(t, c)
	o := newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 1, ExplicitPartition: true, Value: []byte("names partition 1")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("keyless")}, o.cb(1))
	require.NoError(t, c.CreateTopic("late", 1))
	eventually(t, "the keyless record, behind the one for partition 1", func() bool {
		releasePacing(clk) // only the metadata loop's pacing: the hour of MaxBlock stays far off
		return o.first.Load() == 1
	})
	require.NoError(t, o.one(t, 1).err)

	eventually(t, "the drain waiting for partition 1, its round done", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["late"]
		return wt != nil && len(wt.aside) == 1 && wt.round == nil && wt.stopAppend != nil
	})
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("keyless, produced later")}, o.cb(2))
	require.Equal(t, int64(1), p.held.count.Load(), "the record produced later was held behind the one for partition 1")
	eventually(t, "the record produced later", func() bool { return o.has(2) })
	require.NoError(t, o.one(t, 2).err)
	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed, "the record for partition 1 still waited for it")
}
