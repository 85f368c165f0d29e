package producer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

func TestExplicitPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = 500 * time.Millisecond })
	awaitMetadata(t, p, "t")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("x"), Partition: 3, ExplicitPartition: true})
	require.NoError(t, err)
	require.Equal(t, int32(3), md.Partition)
	require.Equal(t, []byte("x"), c.Records("t", 3)[0].Value)

	// Out of range: the record waits MaxBlock for the partition, which does
	// not come; the callback says so.
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("y"), Partition: 4, ExplicitPartition: true})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.Equal(t, 1, strings.Count(err.Error(), "partition 4"), "the partition named once: %v", err)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "t", pe.Topic)

	// Negative: rejected before Produce returns, whatever the metadata.
	called := false
	p.Produce(ctx(t), &Record{Topic: "t", Partition: -1, ExplicitPartition: true}, func(_ RecordMetadata, err error) {
		called = true
		require.ErrorIs(t, err, ErrInvalidRecord)
	})
	require.True(t, called, "a negative partition must fail at once")

	md, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("z"), Partition: 0, ExplicitPartition: true})
	require.NoError(t, err, "the producer keeps working")
	require.Equal(t, int32(0), md.Partition)
}

// A partition added after the producer cached the topic is waited for, as
// the Java client's send waits for it, instead of failing until the next
// periodic refresh. Records of the topic's other partitions do not wait
// behind it; a later one for the same partition does, and keeps its order.
func TestExplicitPartitionAddedLaterIsWaitedFor(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, nil)
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("new"), Partition: 3, ExplicitPartition: true}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("new too"), Partition: 3, ExplicitPartition: true}, o.cb(1))
	for _, r := range []*Record{
		{Topic: "t", Value: []byte("other"), Partition: 0, ExplicitPartition: true},
		{Topic: "t", Value: []byte("placed")},
	} {
		_, err = p.Send(ctx(t), r)
		require.NoError(t, err, "a record for a partition the topic has goes at once")
	}
	require.False(t, o.done(), "the records wait for their partition")
	require.NoError(t, c.AddPartitions("t", 4))
	o.wait(t, "records once the partition exists")
	require.NoError(t, o.one(t, 0).err)
	require.NoError(t, o.one(t, 1).err)
	written := c.Records("t", 3)
	require.Len(t, written, 2)
	require.Equal(t, []byte("new"), written[0].Value)
	require.Equal(t, []byte("new too"), written[1].Value, "in the order produced")
}

// producerWaitingLong is a producer that knows topic "t", of partitions
// partitions, and lets a record wait for a partition longer than any test.
func producerWaitingLong(t *testing.T, partitions int32) *Producer {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": partitions}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock = time.Hour; cfg.DeliveryTimeout = 2 * time.Hour })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	return p
}

// One record for a partition the topic does not have holds up no other
// partition's records, even with MaxBlock as long as the test: they used
// to wait behind it until it failed.
func TestAMissingPartitionHoldsUpNoOtherPartition(t *testing.T) {
	p := producerWaitingLong(t, 2)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("typo"), Partition: 7, ExplicitPartition: true}, o.cb(0))
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("good"), Partition: 1, ExplicitPartition: true})
	require.NoError(t, err, "a record for partition 1 waited behind one for partition 7")
	require.Equal(t, int32(1), md.Partition)
	_, err = p.Send(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("keyed")})
	require.NoError(t, err, "a keyed record waited behind one for partition 7")
	require.False(t, o.done(), "the record for partition 7 still waits for it")

	require.ErrorIs(t, closeAtOnce(t, p, o, 0), ErrClosed, "the record for partition 7 at Close")
}

// Close whose ctx ends while a held record's drain waits for a partition
// the topic does not have fails that record, once, with ErrClosed, as
// Close promises for what is left: it failed as an invalid record, as if
// its wait had ended.
func TestCloseEndingAWaitForAPartitionFailsTheRecordAsClosed(t *testing.T) {
	p := producerWaitingLong(t, 1)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v"), Partition: 3, ExplicitPartition: true}, o.cb(0))
	eventually(t, "the drain to wait for partition 3", func() bool {
		p.held.mu.Lock()
		defer p.held.mu.Unlock()
		wt := p.held.topics["t"]
		return wt != nil && wt.draining && len(wt.aside) == 1 && wt.stopAppend != nil
	})
	closing, cancel := context.WithCancel(context.Background())
	cancel() // nothing left to wait for but the held record
	_ = p.Close(closing)
	o.wait(t, "the held record")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrClosed)
	require.NotErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "partition 3 of t")
}

// A partitioner that picks a partition the topic does not have fails that
// record at once, naming what it chose, and not the records after it.
func TestPartitionerChoosingAMissingPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
			switch string(key) {
			case "astray":
				return 7
			case "below":
				return -3
			}
			return 1
		})
	})
	_, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("astray"), Value: []byte("x")})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "the partitioner chose a partition the topic does not have (it has 2)")
	require.Equal(t, 1, strings.Count(err.Error(), "7"), "the partition named once: %v", err)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "t", pe.Topic)
	require.Equal(t, int32(7), pe.Partition)

	// A negative choice, which the PartitionError's words leave out, is
	// named by the words under it.
	_, err = p.Send(ctx(t), &Record{Topic: "t", Key: []byte("below"), Value: []byte("x")})
	require.ErrorIs(t, err, ErrInvalidRecord)
	require.ErrorContains(t, err, "the partitioner chose -3, not a partition of the topic (it has 2)")

	md, err := p.Send(ctx(t), &Record{Topic: "t", Key: []byte("k"), Value: []byte("y")})
	require.NoError(t, err, "the producer keeps working")
	require.Equal(t, int32(1), md.Partition)
}

// A record for the partition just past a known topic's last waits for it,
// as for any partition the topic lacks, and goes once it is added: taken
// as one the topic has, it would go to a batch no leader leads.
func TestARecordForThePartitionJustPastTheLastWaitsForIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, 2*time.Hour })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	require.False(t, o.done(), "the record waits for partition 2")
	require.NoError(t, c.AddPartitions("t", 3))
	o.wait(t, "the record once partition 2 exists")
	require.NoError(t, o.one(t, 0).err)
	require.Len(t, c.Records("t", 2), 1)
}

// A negative explicit partition is refused at once, in Produce, whether or
// not the topic is known: no partition will ever have that number, so
// waiting for one would only delay the error until MaxBlock.
func TestANegativePartitionIsRefusedAtOnce(t *testing.T) {
	p := producerWaitingLong(t, 2)
	for _, topic := range []string{"t", "unknown"} {
		for _, partition := range []int32{-1, -2} {
			var got error
			called := false
			p.Produce(ctx(t), &Record{Topic: topic, Partition: partition, ExplicitPartition: true, Value: []byte("v")}, func(_ RecordMetadata, err error) { called, got = true, err })
			require.True(t, called, "topic %s, partition %d: the callback ran in Produce", topic, partition)
			require.ErrorIs(t, got, ErrInvalidRecord, "topic %s, partition %d", topic, partition)
			require.ErrorContains(t, got, fmt.Sprintf("negative partition %d", partition), "topic %s", topic)
		}
	}
}

// A record refused at once keeps the partition it named in the metadata
// its callback gets, as RecordMetadata's doc says: a callback logging where
// a failed record was going must not read -1 for it.
func TestARefusedRecordsMetadataKeepsItsExplicitPartition(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, nil)
	require.NoError(t, p.Close(ctx(t)))
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(1))
	o.wait(t, "the records refused after Close")
	require.ErrorIs(t, o.one(t, 0).err, ErrClosed)
	require.Equal(t, int32(3), o.one(t, 0).md.Partition, "the partition the record named")
	require.Equal(t, int32(-1), o.one(t, 1).md.Partition, "a record that named none")
}
