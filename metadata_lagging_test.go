package producer

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
)

// One Metadata answer from a broker that lags behind calls a topic
// unknown while records of it are buffered: its partitions are dropped,
// and no sender leads them. The producer keeps asking for the topic while
// it has batches of it, polling with backoff rather than waiting for
// MetadataMaxAge, and the records go once a broker names it again. Before,
// the topic was never asked for again (with no other topic of use, it was
// even deleted from the cache), and the records waited for their
// DeliveryTimeout. On the fake clock, only the poll can bring the topic
// back: no periodic refresh and no expiry comes within the test.
func TestRecordsOfATopicCalledUnknownOnceAreSentOnceItIsKnownAgain(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	var hide, hidden, askedAgain atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			hidden.Store(true)
			return fakebroker.Action{Hide: []string{"t"}}
		}
		for _, rt := range req.Topics {
			if hidden.Load() && rt.Name != nil && *rt.Name == "t" {
				askedAgain.Store(true)
			}
		}
		return fakebroker.Action{}
	})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		// The records linger until the Flush below.
		cfg.MetadataMaxAge, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, time.Hour
	})
	eventually(t, "the topic's metadata", func() bool {
		clk.Advance(cfgRetryBackoff)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), "t")
		return n > 0
	})
	const n = 10
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	require.Zero(t, o.first.Load(), "a record has an outcome before the Flush")

	hide.Store(true)
	p.cluster.RequestRefresh("test")
	// The requests after the lagging answer come once it is applied.
	eventually(t, "a request for the topic after the answer calling it unknown", func() bool {
		clk.Advance(cfgRetryBackoff)
		return askedAgain.Load()
	})
	eventually(t, "the topic's partitions known again", func() bool {
		clk.Advance(cfgRetryBackoff)
		tp := p.cluster.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 2
	})
	require.NoError(t, p.Flush(ctx(t)))
	for i := range n {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	require.Len(t, append(c.Records("t", 0), c.Records("t", 1)...), n)
}

// A Metadata answer from a broker that has not seen CreatePartitions yet
// lists fewer partitions than the topic has, while a record of a partition
// past its count is buffered. With topic ids the cache keeps the partitions
// past the answer's count (Kafka never removes one); without them it takes
// the answer, and the metadata loop polls for the buffered partition,
// which has no leader. Either way the record is sent. Before, the partition
// left the metadata, no sender led it, nothing asked for metadata again
// before MetadataMaxAge, and the record failed with ErrDeliveryTimeout,
// "sent 0 times". On the fake clock only the loop's pacing moves.
func TestARecordOfAPartitionALaggingAnswerLeftOutIsSent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions map[protocol.APIKey]protocol.VersionRange
	}{
		{"topic ids", nil},
		{"no topic ids", map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}, KeepRecords: true, Versions: tc.versions})
			p, clk := lingeringOnFakeClock(t, c) // until the Flush below
			learnTopic(t, p, clk, "t")
			o := newOutcomes(1)
			p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

			var shrink, shrunk atomic.Bool
			var beforeShrunk atomic.Pointer[metadata.Snapshot]
			c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
				if !shrink.CompareAndSwap(true, false) {
					return fakebroker.Action{}
				}
				// Refreshes run one after another: this is the snapshot
				// the shrunk answer replaces.
				beforeShrunk.Store(p.cluster.Snapshot())
				shrunk.Store(true)
				return fakebroker.Action{Shrink: map[string]int32{"t": 2}}
			})
			shrink.Store(true)
			p.cluster.RequestRefresh("test")
			eventually(t, "the lagging answer applied", func() bool {
				releasePacing(clk)
				return shrunk.Load() && p.cluster.Snapshot() != beforeShrunk.Load()
			})
			require.Zero(t, o.first.Load(), "the record has an outcome before the Flush")

			go func() { _ = p.Flush(ctx(t)) }()
			eventually(t, "the record's outcome", func() bool {
				releasePacing(clk) // the loop's pacing only, never DeliveryTimeout
				return o.done()
			})
			got := o.one(t, 0)
			require.NoError(t, got.err, "partition 3 exists; only a lagging broker left it out")
			require.Equal(t, int32(3), got.md.Partition)
			require.Len(t, c.Records("t", 3), 1)
		})
	}
}

// A topic seen with 6 partitions under its id is called unknown by a
// broker that has not caught up, and then another, which has not seen
// CreatePartitions, lists 3 under the same id. Kafka never removes a
// partition: a keyed record still goes to its partition among the 6, one
// the short answer leaves without a known leader until the next answer
// names it. Before, the unknown answer's zero id hid the id the 6 were
// seen under, the producer took the 3, and keyed records hashed modulo 3,
// silently landing on other partitions. On the fake clock only the loop's
// pacing moves.
func TestAKeyedRecordKeepsItsPartitionAfterAnUnknownThenAShortAnswer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 6}, KeepRecords: true})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	key := []byte("k0") // one whose partition differs among 6 and among 3
	for i := 1; partitioner.KeyPartition(key, 6) == partitioner.KeyPartition(key, 3); i++ {
		key = []byte(fmt.Sprint("k", i))
	}

	// 1: the next answer calls t unknown; 2: the next lists 3 of its
	// partitions; 3: answers are whole again.
	var lagging atomic.Int32
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		switch {
		case lagging.CompareAndSwap(1, 2):
			return fakebroker.Action{Hide: []string{"t"}}
		case lagging.CompareAndSwap(2, 3):
			return fakebroker.Action{Shrink: map[string]int32{"t": 3}}
		}
		return fakebroker.Action{}
	})
	lagging.Store(1)
	p.cluster.RequestRefresh("test")
	eventually(t, "the unknown answer applied", func() bool {
		releasePacing(clk)
		tt := p.cluster.Snapshot().Peek("t")
		return tt != nil && len(tt.Partitions) == 0
	})

	// Held until the short answer comes.
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Key: key, Value: []byte("v")}, o.cb(0))
	go func() { _ = p.Flush(ctx(t)) }()
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	got := o.one(t, 0)
	require.NoError(t, got.err)
	require.Equal(t, partitioner.KeyPartition(key, 6), got.md.Partition, "the key's partition among the topic's 6")
}
