package producer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A topic deleted and created again under its name, with the same leader,
// is one whose leader has no state for the producer: it takes any first
// sequence. A partition acknowledged on the old topic pipelined its first
// requests to the new one: the first refused (NOT_LEADER_OR_FOLLOWER, a
// broker still taking the new partition on) and the next written ahead of
// it, the first failed as passed, though a retry would have written it. The
// metadata refresh that names the new topic id, or, without ids (Metadata
// before v10), that gives the topic partitions after an answer called it
// unknown, makes the partition keep one request in flight, as a new
// producer id does, until the leader acknowledges one. On the fake clock,
// which moves only the metadata loop's pacing and the retry's backoff.
func TestABurstToARecreatedTopicKeepsItsOrderWhenItsFirstRequestIsRefused(t *testing.T) {
	t.Run("under a new id", func(t *testing.T) {
		burstToARecreatedTopic(t, nil, func(t *testing.T, c *fakebroker.Cluster, p *Producer, clk *clock.Fake) {
			old := p.cluster.Snapshot().Peek("t").ID
			require.NoError(t, c.RecreateTopic("t"))
			p.cluster.RequestRefresh("a test re-creating the topic")
			eventually(t, "the new topic id in the metadata", func() bool {
				releasePacing(clk)
				return p.cluster.Snapshot().Peek("t").ID != old
			})
		})
	})
	t.Run("without ids, unknown in between", func(t *testing.T) {
		noIDs := map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}
		burstToARecreatedTopic(t, noIDs, func(t *testing.T, c *fakebroker.Cluster, p *Producer, clk *clock.Fake) {
			c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
				return fakebroker.Action{Hide: []string{"t"}} // deleted
			})
			p.cluster.RequestRefresh("a test deleting the topic")
			eventually(t, "the topic unknown to the metadata", func() bool {
				releasePacing(clk)
				return len(p.cluster.Snapshot().Peek("t").Partitions) == 0
			})
			require.NoError(t, c.RecreateTopic("t"))
			c.OnMetadata(nil)
			learnTopic(t, p, clk, "t") // unknown, with no batches, it is asked for only while awaited
		})
	})
}

// burstToARecreatedTopic is the test above on a cluster speaking versions,
// with recreate re-creating t and waiting until the producer's metadata
// tells it.
func burstToARecreatedTopic(t *testing.T, versions map[protocol.APIKey]protocol.VersionRange,
	recreate func(*testing.T, *fakebroker.Cluster, *Producer, *clock.Fake)) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true, Versions: versions})
	clk := clock.NewFake(heldClockStart)
	written := &requestsWritten{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize = 1024
		cfg.Linger = NoLinger
		cfg.MetadataMaxAge = time.Hour // no refresh but those the test asks for
		cfg.Hooks = []Hook{written}
	})
	learnTopic(t, p, clk, "t")
	for part := int32(0); part < 2; part++ {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("warm"), Partition: part, ExplicitPartition: true})
		require.NoError(t, err, "partition %d acknowledged on the old topic", part)
	}
	recreate(t, c, p, clk)

	o, values, other := burstBehindAHeldRequest(t, c, p, written, kerr.NotLeaderOrFollower,
		"to a re-created topic before its leader acknowledges a batch")

	eventually(t, "every record's outcome", func() bool {
		releasePacing(clk) // the retry's backoff, the refresh it asks for
		return o.done() && other.done()
	})
	for i := range values {
		out := o.one(t, i)
		require.NoError(t, out.err, "record %d", i)
		require.Equal(t, int64(i), out.md.Offset, "record %d: its offset is its place in the new topic", i)
	}
	requireExactlyOnceInOrder(t, c, "t", 0, values)
	require.NoError(t, other.one(t, 0).err)
}
