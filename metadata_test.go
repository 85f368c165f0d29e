package producer

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Partitions added to a topic are found by the periodic refresh
// (MetadataMaxAge) with nothing else asking for metadata, and records reach
// them.
func TestPeriodicRefreshFindsNewPartitions(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"grows": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.MetadataMaxAge = 100 * time.Millisecond
		cfg.Partitioner = partitioner.RoundRobin()
	})
	n, err := p.PartitionsFor(ctx(t), "grows")
	require.NoError(t, err)
	require.Equal(t, 2, n)

	require.NoError(t, c.AddPartitions("grows", 4))
	eventually(t, "the periodic refresh to find the new partitions", func() bool {
		n, _ := p.PartitionsFor(ctx(t), "grows")
		return n == 4
	})
	for i := 0; i < 8; i++ {
		_, err := p.Send(ctx(t), &Record{Topic: "grows", Value: []byte("v")})
		require.NoError(t, err)
	}
	for part := int32(2); part < 4; part++ {
		require.NotEmpty(t, c.Records("grows", part), "round-robin never reached new partition %d", part)
	}
}

// A Metadata answer with an error for the whole response (v13+, KIP-1102)
// is not applied, whatever it carries: the producer asks again.
func TestMetadataTopLevelErrorIsNotApplied(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	var answered atomic.Int64
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if answered.Add(1) <= 2 {
			return fakebroker.Action{Err: kerr.UnknownServerError}
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.GreaterOrEqual(t, answered.Load(), int64(3), "an answer with a top-level error was taken for metadata")
}

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

// A topic the producer has not used for MetadataMaxIdle leaves its
// metadata, and refreshes stop asking for it; a record for it later waits
// for its metadata and is sent, as the first was. The clock is fake: the
// idle time passes at once.
func TestAnIdleTopicIsForgottenAndFoundAgain(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle, cfg.MaxBlock = time.Hour, 5*time.Second, time.Hour
	})
	o := newOutcomes(2)
	send := func(i int) {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
		eventually(t, fmt.Sprintf("record %d's outcome", i), func() bool {
			clk.Advance(cfgRetryBackoff) // its linger, and the metadata loop's backoff
			o.mu.Lock()
			defer o.mu.Unlock()
			return len(o.got[i]) > 0
		})
		require.NoError(t, o.one(t, i).err)
	}
	send(0)

	clk.Advance(6 * time.Second)
	eventually(t, "the idle topic forgotten", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return p.cluster.Snapshot().Topic("t") == nil
	})
	send(1)
	require.Equal(t, 2, len(c.Records("t", 0))+len(c.Records("t", 1)))
}
