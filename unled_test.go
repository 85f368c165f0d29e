package producer

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// A record buffered for partition 3 of t, whose every Metadata answer then
// lists only 2 partitions, times out unsent saying its partition is no
// longer in the metadata. Without topic ids the cache takes the answer's
// count, as it does for a topic re-created with fewer partitions, and no
// sender leads the partition. Before, the error said only "sent 0 times".
// On the fake clock only the metadata loop's pacing and then
// DeliveryTimeout move.
func TestARecordOfAPartitionNoLongerInTheMetadataTimesOutNamingIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4},
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

	var shrunk atomic.Bool
	var beforeShrunk atomic.Pointer[metadata.Snapshot]
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if !shrunk.Load() {
			// Refreshes run one after another: this is the snapshot the
			// first short answer replaces.
			beforeShrunk.Store(p.cluster.Snapshot())
			shrunk.Store(true)
		}
		return fakebroker.Action{Shrink: map[string]int32{"t": 2}}
	})
	p.cluster.RequestRefresh("test")
	eventually(t, "the short answer applied", func() bool {
		releasePacing(clk)
		return shrunk.Load() && p.cluster.Snapshot() != beforeShrunk.Load()
	})
	require.Len(t, p.cluster.Snapshot().Peek("t").Partitions, 2, "the short answer's count taken")
	err := timedOutAfter(t, o, clk, 2*time.Hour) // lingeringOnFakeClock's DeliveryTimeout
	require.ErrorContains(t, err, "never sent; the partition is not in the metadata (the topic has 2 partitions)")
	requireNamesItsPartitionOnce(t, err, "t", 3)
}

// A record for a partition the metadata names without a leader (offline:
// LEADER_NOT_AVAILABLE, leader -1) times out unsent saying so, and its
// error matches the partition's metadata error. Before, it said only
// "sent 0 times". On the fake clock only the metadata loop's pacing and
// then DeliveryTimeout move.
func TestARecordOfAPartitionWithoutALeaderTimesOutNamingIt(t *testing.T) {
	// t-0 without a leader, t-1 led by node 0.
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2},
		Leader: func(_ string, partition int32) int32 { return partition - 1 }})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

	err := timedOutAfter(t, o, clk, 2*time.Hour) // lingeringOnFakeClock's DeliveryTimeout
	require.ErrorContains(t, err, "never sent; the partition has no leader")
	requireNamesItsPartitionOnce(t, err, "t", 0)
	require.ErrorIs(t, err, kerr.LeaderNotAvailable, "the partition's metadata error")
}
