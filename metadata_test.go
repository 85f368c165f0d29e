package producer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
