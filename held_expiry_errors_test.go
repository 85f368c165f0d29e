package producer

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A record set aside for a partition its topic does not have fails, at
// its MaxBlock, as naming that partition (ErrInvalidRecord, the partition
// and the count the producer saw) also when the latest metadata, from a
// lagging broker, calls the topic unknown: the producer saw the topic with
// 3 partitions, and the record waited only for its own. (The lagging
// answer wakes the drain, whose round takes the record back to wait for
// the topic's partitions: the drain fails it, appendHeld.) It failed as an
// unknown topic, naming no partition (-1).
func TestARecordSetAsideFailsAsNamingItsPartitionWhenALaggingBrokerCallsItsTopicUnknown(t *testing.T) {
	_, clk, o, since := asideWhenALaggingBrokerCallsItsTopicUnknown(t)
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

// asideWhenALaggingBrokerCallsItsTopicUnknown sets a record aside for
// partition 5 of topic t, which has 3, and then has the broker answer as a
// lagging one that calls t unknown. It returns the record's outcome, as
// o's 0, and when it was produced: its MaxBlock (heldProducer's, an hour)
// counts from then.
func asideWhenALaggingBrokerCallsItsTopicUnknown(t *testing.T) (*Producer, *clock.Fake, *outcomes, time.Time) {
	t.Helper()
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
	return p, clk, o, since
}

// failedAtMaxBlockOfAnHour produces a record to a topic no broker has and
// returns its error once clk passes the producer's MaxBlock, which must be
// an hour.
func failedAtMaxBlockOfAnHour(t *testing.T, p *Producer, clk *clock.Fake) error {
	t.Helper()
	o := newOutcomes(1)
	since := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("v")}, o.cb(0))
	clk.Advance(since.Add(time.Hour + pastDeadline).Sub(clk.Now()))
	o.wait(t, "the record at its MaxBlock")
	return o.one(t, 0).err
}

// awaitPartitions refreshes p's metadata until it gives topic n partitions.
func awaitPartitions(t *testing.T, p *Producer, clk *clock.Fake, topic string, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d partitions of %s in the metadata", n, topic), func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		tp := p.cluster.Snapshot().Topic(topic)
		return tp != nil && len(tp.Partitions) == n
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

// A record whose topic never came fails as one whose MaxBlock passed when
// its DeliveryTimeout is as long: only a shorter DeliveryTimeout makes the
// limit its own (heldLimit), and the error name it.
func TestARecordWaitingForItsTopicAsLongAsItsDeliveryTimeoutFailsAtItsMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, time.Hour
	})
	err := failedAtMaxBlockOfAnHour(t, p, clk)
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.NotErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorContains(t, err, "no metadata within MaxBlock (1h0m0s)")
}
