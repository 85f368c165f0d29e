package producer

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A held record whose wait for its topic's partitions Close ends fails
// with ErrClosed alone, not as if its limit had passed: it had not waited
// its MaxBlock, and the topic may well exist. (The drain meets such a
// record when a lagging broker called its topic unknown as Close came.)
// It failed with ErrUnknownTopic too, "no metadata within MaxBlock". The
// test appends the record as the drain does, and ends the producer's
// context as Close does.
func TestAHeldRecordWhoseWaitForItsTopicCloseEndedFailsOnlyAsClosed(t *testing.T) {
	p, clk := heldProducer(t, startCluster(t, fakebroker.Options{}))
	o := newOutcomes(1)
	h := heldRecord{rec: Record{Topic: "late", Value: []byte("v")}, cb: Callback(o.cb(0)), since: clk.Now()}
	returned := make(chan bool, 1)
	go func() { returned <- p.appendHeld(p.ctx, &waitingTopic{}, p.cluster.Snapshot(), &h, 0, nil) }()
	p.cancel()
	require.False(t, receive(t, returned, "the held record's append did not end with the producer's context"))
	o.wait(t, "the held record's outcome")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, ErrUnknownTopic, "the record's MaxBlock had not passed")
	require.ErrorContains(t, err, "while the record waited for the partitions of late")
}

// A record whose Produce found the producer open, and that reaches hold
// only once Close has failed the held records (failAll), fails with
// ErrClosed: held then, it waited for metadata nobody fetches any more
// (Close goes on to stop the loops), and its callback never ran. The test
// holds the record as that Produce does, at that point of Close, which a
// Produce reaches at no moment a test could choose (the random Closes of
// TestCloseRacingProduceAndSendKeepsEveryPromise rarely land there).
func TestARecordHeldOnceCloseFailedTheHeldRecordsFailsAsClosed(t *testing.T) {
	p, _ := heldProducer(t, startCluster(t, fakebroker.Options{}))
	p.held.mu.Lock()
	p.held.closed = true // as Close's failAll leaves it, the pool still open
	p.held.mu.Unlock()
	o := newOutcomes(1)
	r := &Record{Topic: "late", Value: []byte("v")}
	p.hold(ctx(t), &admission{}, r, 0, o.cb(0), goesTo(r))
	require.True(t, o.has(0), "the record has no outcome")
	require.ErrorIs(t, o.one(t, 0).err, ErrClosed)
	require.Zero(t, p.held.count.Load(), "the record is held")
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	require.Zero(t, p.held.reserved, "the record's share of memory given back")
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

// Close fails every held record it finds, of whichever kind: waiting for
// its topic (holding), taken by a drain round behind the record being
// appended (released), or set aside for its partition, each counted once
// as failing, for Flush, and once as delivered. Failed uncounted, the
// counts fell below zero, and a later Flush took a failure it should wait
// for as one that made up for them. Here the round is held up in the
// partitioner as Close comes.
func TestCloseCountsEachHeldRecordItFailsOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk, entered, release := heldUpProducer(t, c, &cutOffDialer{}, nil)
	o := newOutcomes(4)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("set aside")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("being appended")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("behind it in the round")}, o.cb(2))
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("waiting for its topic")}, o.cb(3))
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record behind the one for partition 5")

	closing, cancel := context.WithCancel(context.Background())
	cancel() // Close fails what is held, and returns without waiting for the drain
	_ = p.Close(closing)
	release()
	o.wait(t, "the held records at Close")
	for i := range 4 {
		require.ErrorIs(t, o.one(t, i).err, ErrClosed, "record %d", i)
	}
	eventually(t, "every failure counted as delivered", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		return p.held.failing == 0 && p.held.unbooked == 0 && p.held.count.Load() == 0
	})
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	require.Zero(t, p.held.failing, "failures counted as failing and delivered")
	require.Zero(t, p.held.unbooked, "failures counted as failing and booked")
	// What TestARecordHeldOnceCloseFailedTheHeldRecordsFailsAsClosed
	// starts from: no record is held, nor drain started, after Close.
	require.True(t, p.held.closed, "the held records closed")
}
