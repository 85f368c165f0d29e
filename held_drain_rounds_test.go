package producer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// Records set aside go first once the partition of any of them comes, not
// only that of the highest: here, of two set aside for partitions 2 and 5,
// only partition 2 comes while the round is held up between them and a
// record for partition 2 behind them. Looking only at the highest, the
// round went on, and the record behind passed the first on partition 2.
func TestRecordsSetAsideGoFirstWhenTheLowestOfTheirPartitionsComes(t *testing.T) {
	c := startCluster(t, fakebroker.Options{KeepRecords: true})
	p, clk, entered, release := heldUpProducer(t, c, &cutOffDialer{}, nil)
	o := newOutcomes(4)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("first")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("higher")}, o.cb(1))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("between")}, o.cb(2))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("second")}, o.cb(3))
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record between those set aside and the second for partition 2")
	require.Equal(t, 2, setAside(p, "t"), "the records for partitions 2 and 5")
	require.NoError(t, c.AddPartitions("t", 3)) // partitions 0 to 2
	awaitPartitions(t, p, clk, "t", 3)
	release()
	eventually(t, "the records for partitions t has", func() bool { return o.has(0) && o.has(2) && o.has(3) })
	for _, i := range []int{0, 2, 3} {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	var stored []string
	for _, r := range c.Records("t", 2) {
		stored = append(stored, string(r.Value))
	}
	require.Equal(t, []string{"first", "second"}, stored, "partition 2, in the order produced")
	require.False(t, o.has(1), "the record for partition 5 still waits for it")
	require.ErrorIs(t, closeAtOnce(t, p, o, 1), ErrClosed)
}

// The metadata loop polls for the highest partition a record set aside
// waits for, not only the first one set aside: here the topic grows to
// have partition 2, which the first waited for, and then partition 5,
// which the second does, and only the loop's polling (paced on the fake
// clock, with no periodic refresh within the test) can bring the news.
// Polling for the first only, the loop stopped once partition 2 came, and
// the second record waited for its MaxBlock.
func TestTheMetadataLoopPollsForTheHighestPartitionSetAside(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p, clk := heldProducer(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("lower")}, o.cb(0))
	eventually(t, "the record for partition 2 set aside", func() bool {
		releasePacing(clk)
		return setAside(p, "t") == 1
	})
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("higher")}, o.cb(1))
	eventually(t, "the record for partition 5 set aside", func() bool {
		releasePacing(clk)
		return setAside(p, "t") == 2
	})

	require.NoError(t, c.AddPartitions("t", 3)) // partitions 0 to 2
	eventually(t, "the record for partition 2 appended", func() bool {
		releasePacing(clk) // the loop's polling only
		return o.has(0)
	})
	require.NoError(t, o.one(t, 0).err)
	require.NoError(t, c.AddPartitions("t", 6)) // partitions 0 to 5
	eventually(t, "the record for partition 5 appended", func() bool {
		releasePacing(clk)
		return o.has(1)
	})
	require.NoError(t, o.one(t, 1).err)
}

// A record held while its topic's round is under way goes in the next
// round at once, though the round left a record set aside: the drain waits
// for metadata only once the records set aside are all its topic has
// left. Waiting then, the record held meanwhile waited with them for the
// next metadata, which, on a clock that stands still, never comes.
func TestARecordHeldDuringARoundGoesAtOnceThoughARecordWaitsAside(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk, entered, release := heldUpProducer(t, c, &cutOffDialer{}, nil)
	o := newOutcomes(3)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("typo")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("first")}, o.cb(1))
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record behind the one for partition 5")
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("held during the round")}, o.cb(2))
	require.Equal(t, int64(3), p.held.count.Load(), "the record produced during the round waits behind it")

	release() // the clock stays where it is from now on
	eventually(t, "the records after the one for partition 5", func() bool { return o.has(1) && o.has(2) })
	require.NoError(t, o.one(t, 1).err)
	require.NoError(t, o.one(t, 2).err)
	require.False(t, o.has(0), "the record for partition 5 still waits for it")
	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed)
}

// A record for a partition its topic lacks that its drain reaches only
// past its MaxBlock, the round held up ahead of it, fails as one set aside
// fails at its MaxBlock: saying it waited that long for its partition, not
// as if refused at once.
func TestARecordReachedPastItsMaxBlockSaysItWaitedForItsPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	p, clk, entered, release := heldUpProducer(t, c, &cutOffDialer{}, nil)
	o := newOutcomes(2)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "t", Key: []byte("waits"), Value: []byte("first")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("typo")}, o.cb(1))
	require.NoError(t, c.CreateTopic("t", 1))
	learnTopic(t, p, clk, "t")
	receive(t, entered, "the round did not reach the record before the one for partition 3")
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now())) // heldUpProducer's MaxBlock, not its DeliveryTimeout
	release()
	o.wait(t, "the held records")
	require.NoError(t, o.one(t, 0).err)
	requireNamesMissingPartition(t, o.one(t, 1).err, "t", 3, 1)
}

// A drain's record waiting for its topic's partitions, which a lagging
// broker called unknown, fails when the clock reaches its MaxBlock, not
// only once it is past: at the very deadline the drain's wait ended, and
// the record, judged still free to wait, waited again at once, for as
// long as the clock stood there.
func TestADrainsRecordWaitingForItsTopicFailsAtItsMaxBlockExactly(t *testing.T) {
	p, clk, o, since := asideWhenALaggingBrokerCallsItsTopicUnknown(t)
	eventually(t, "the drain waiting for t's partitions", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && len(wt.aside) == 0 && wt.stopAppend != nil
	})

	clk.Advance(since.Add(time.Hour).Sub(clk.Now())) // heldProducer's MaxBlock, to the nanosecond
	o.wait(t, "the record at its MaxBlock")
	requireNamesMissingPartition(t, o.one(t, 0).err, "t", 5, 3)
}
