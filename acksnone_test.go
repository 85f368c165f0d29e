package producer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// With acks=0 a broker that no longer leads a partition cannot answer
// NOT_LEADER_OR_FOLLOWER: Kafka closes the connection instead, for the
// producer to notice and refresh its metadata, as the Java client does on
// every disconnect. The record sent to the old leader is lost, its
// callback saying success (acks=0 promises no more), but the next one
// reaches the new leader. Before, nothing asked for metadata: the sender
// redialed the old leader, whose refusals closed connection after
// connection, and every record was lost until MetadataMaxAge. On the fake
// clock only the loop's pacing moves, never MetadataMaxAge, and once the
// loop has settled only the broken connection can ask for the refresh.
func TestAnAcksNoneRecordAfterItsLeaderMovedReachesTheNewLeader(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1},
		Leader: func(string, int32) int32 { return 0 }, KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Acks, cfg.DisableIdempotence = AcksNone, true
		cfg.Linger, cfg.DeliveryTimeout, cfg.MaxBlock = NoLinger, 2*time.Hour, time.Hour
		cfg.MetadataMaxAge = 5 * time.Hour
	})
	learnTopic(t, p, clk, "t")
	settleMetadata(t, p, clk)
	send := func(v string) {
		t.Helper()
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte(v)})
		require.NoError(t, err, "acks=0: done once written")
	}
	send("before")
	eventually(t, "the first record on node 0", func() bool { return len(c.Records("t", 0)) == 1 })

	require.NoError(t, c.SetLeader("t", 0, 1))
	send("lost") // refused by node 0, which closes the connection
	eventually(t, "the metadata naming node 1 the leader", func() bool {
		releasePacing(clk)
		leader, _, _ := p.cluster.Snapshot().Leader("t", 0)
		return leader == 1
	})
	send("after")
	eventually(t, "the record after the move on node 1", func() bool { return len(c.Records("t", 0)) == 2 })
	require.Equal(t, "after", string(c.Records("t", 0)[1].Value))
}

// settleMetadata leaves the metadata loop with no refresh asked for and
// none under way, so that the next refresh is one something asks for from
// then on. learnTopic may leave an ask behind (a PartitionsFor that asked
// while a refresh was under way), which would run whenever a test next
// releases the loop's pacing. Each round asks for a refresh and waits for
// an update; the first may end with a refresh already under way, leaving
// the ask, but the second update can only be the refresh of that ask.
func settleMetadata(t *testing.T, p *Producer, clk *clock.Fake) {
	t.Helper()
	for range 2 {
		updated := p.cluster.Changed()
		p.cluster.RequestRefresh("a test settling the metadata loop")
		eventually(t, "a metadata update", func() bool {
			releasePacing(clk)
			select {
			case <-updated:
				return true
			default:
				return false
			}
		})
	}
}
