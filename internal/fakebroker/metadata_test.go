package fakebroker

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestMetadataDescribesNodesAndLeaders(t *testing.T) {
	c := start(t, Options{Nodes: 3, Topics: map[string]int32{"a": 4}})
	cn := dial(t, c, 1, conn.Config{})
	for _, v := range []int16{1, 9, 12} {
		resp := metadata(t, cn, v, false, "a", "missing")
		require.Len(t, resp.Brokers, 3, "v%d", v)
		for i, b := range resp.Brokers {
			require.Equal(t, int32(i), b.NodeID)
			require.Equal(t, c.Addrs()[i], net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
		}
		require.Len(t, resp.Topics, 2)
		a := resp.Topics[0]
		require.Zero(t, a.ErrorCode)
		require.Len(t, a.Partitions, 4)
		for i, p := range a.Partitions {
			require.Equal(t, int32(i%3), p.LeaderID, "round-robin leaders")
		}
		require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[1].ErrorCode, "v%d", v)
		require.Empty(t, resp.Topics[1].Partitions)
	}
}

// Each new topic's partitions are led round-robin from the node after the
// one that led the last topic's partition 0, and partitions added later go
// on round-robin: a test on several nodes, whatever its topics, gets more
// than one leader to send to, where a fake putting every partition 0, or
// every added partition, on node 0 would leave it testing one broker.
func TestLeadersAreSpreadOverTheNodes(t *testing.T) {
	c := start(t, Options{Nodes: 3})
	for i, name := range []string{"a", "b", "c"} {
		require.NoError(t, c.CreateTopic(name, 1))
		leader, _, err := c.Leader(name, 0)
		require.NoError(t, err)
		require.Equal(t, int32(i), leader, "partition 0 of topic %s", name)
	}
	require.NoError(t, c.AddPartitions("a", 3))
	for p := int32(1); p < 3; p++ {
		leader, _, err := c.Leader("a", p)
		require.NoError(t, err)
		require.Equal(t, p, leader, "added partition %d", p)
	}
}

func TestMetadataAllTopicsAndLeaderEpochs(t *testing.T) {
	c := start(t, Options{Nodes: 2, Topics: map[string]int32{"b": 1, "a": 2}})
	require.NoError(t, c.SetLeader("a", 0, 1))
	cn := dial(t, c, 0, conn.Config{})
	resp := metadata(t, cn, 12, false)
	require.Len(t, resp.Topics, 2)
	require.Equal(t, "a", *resp.Topics[0].Name, "all topics, by name")
	require.Equal(t, "b", *resp.Topics[1].Name)
	p := resp.Topics[0].Partitions[0]
	require.Equal(t, int32(1), p.LeaderID)
	require.Equal(t, int32(1), p.LeaderEpoch, "SetLeader bumps the epoch")
	require.NotZero(t, resp.Topics[0].TopicID)
}

func TestMetadataAutoCreateNeedsBothSides(t *testing.T) {
	c := start(t, Options{AutoCreateTopics: true, DefaultPartitions: 3})
	cn := dial(t, c, 0, conn.Config{})
	resp := metadata(t, cn, 12, false, "new")
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode, "the request did not allow creation")
	resp = metadata(t, cn, 12, true, "new", "bad/name")
	require.Zero(t, resp.Topics[0].ErrorCode)
	require.Len(t, resp.Topics[0].Partitions, 3)
	require.Equal(t, kerr.InvalidTopicException.Code, resp.Topics[1].ErrorCode)
	require.Equal(t, int32(3), c.Partitions("new"))

	off := start(t, Options{})
	cn = dial(t, off, 0, conn.Config{})
	resp = metadata(t, cn, 12, true, "new")
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode, "the broker did not allow creation")
}

func TestMetadataHookHidesTopic(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"shy": 1, "open": 1}})
	c.OnMetadata(func(_ int32, _ *protocol.MetadataRequest) Action { return Action{Hide: []string{"shy"}} })
	cn := dial(t, c, 0, conn.Config{})
	resp := metadata(t, cn, 12, false, "shy")
	require.Equal(t, kerr.UnknownTopicOrPartition.Code, resp.Topics[0].ErrorCode)
	resp = metadata(t, cn, 12, false)
	require.Len(t, resp.Topics, 1)
	require.Equal(t, "open", *resp.Topics[0].Name)

	c.OnMetadata(nil)
	resp = metadata(t, cn, 12, false, "shy")
	require.Zero(t, resp.Topics[0].ErrorCode)
}

// A topic the hook refuses is answered with the refusal and no
// partitions, by name, and left out of "all topics"; the others as usual.
func TestMetadataHookRefusesTopic(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"secret": 1, "open": 1}})
	c.OnMetadata(func(_ int32, _ *protocol.MetadataRequest) Action {
		return Action{Refuse: map[string]*kerr.Error{"secret": kerr.TopicAuthorizationFailed}}
	})
	cn := dial(t, c, 0, conn.Config{})
	resp := metadata(t, cn, 12, false, "secret", "open")
	require.Equal(t, kerr.TopicAuthorizationFailed.Code, resp.Topics[0].ErrorCode)
	require.Empty(t, resp.Topics[0].Partitions)
	require.Zero(t, resp.Topics[1].ErrorCode)
	require.Len(t, resp.Topics[1].Partitions, 1)
	resp = metadata(t, cn, 12, false)
	require.Len(t, resp.Topics, 1)
	require.Equal(t, "open", *resp.Topics[0].Name)
}

// CreateTopic makes a topic of the partitions asked for, and refuses one
// that exists or a count below one, as a controller would.
func TestCreateTopic(t *testing.T) {
	c := start(t, Options{})
	require.NoError(t, c.CreateTopic("x", 5))
	require.Equal(t, int32(5), c.Partitions("x"))
	require.Error(t, c.CreateTopic("x", 1), "a topic that exists")
	require.Error(t, c.CreateTopic("y", 0), "no partition")
	require.Zero(t, c.Partitions("y"))
}

func TestFrozenMetadataLagsBehindLeadership(t *testing.T) {
	c := start(t, Options{Nodes: 2, Topics: map[string]int32{"t": 1}})
	c.FreezeMetadata()
	require.NoError(t, c.SetLeader("t", 0, 1))
	cn := dial(t, c, 0, conn.Config{})
	resp := metadata(t, cn, 12, false, "t")
	require.Equal(t, int32(0), resp.Topics[0].Partitions[0].LeaderID, "metadata still names the old leader")
	_, p := produce(t, cn, 12, "t", 0, batch(t, "a"))
	require.Equal(t, kerr.NotLeaderOrFollower.Code, p.ErrorCode, "while the old leader refuses")
	require.Equal(t, int32(1), p.CurrentLeader.LeaderID)

	c.ThawMetadata()
	resp = metadata(t, cn, 12, false, "t")
	require.Equal(t, int32(1), resp.Topics[0].Partitions[0].LeaderID)
}

// A Metadata answer lost after the request was processed still created
// the topic it asked for.
func TestMetadataLostAnswer(t *testing.T) {
	c := start(t, Options{AutoCreateTopics: true})
	c.OnMetadata(func(int32, *protocol.MetadataRequest) Action { return Action{LoseAnswer: true} })
	name := "fresh"
	_, err := request(t, dial(t, c, 0, conn.Config{}), &protocol.MetadataRequest{
		Topics: []protocol.MetadataRequestTopic{{Name: &name}}, AllowAutoTopicCreation: true}, 12)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	require.Equal(t, int32(1), c.Partitions("fresh"))
}

// A Metadata hook's Err is the answer's top-level error code from v13
// (KIP-1102); before v13 there is no such field, and the answer is plain.
func TestMetadataTopLevelError(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	c.OnMetadata(func(int32, *protocol.MetadataRequest) Action { return Action{Err: kerr.UnknownServerError} })
	cn := dial(t, c, 0, conn.Config{})
	require.Equal(t, kerr.UnknownServerError.Code, metadata(t, cn, 13, false, "t").ErrorCode)
	require.Zero(t, metadata(t, cn, 12, false, "t").ErrorCode)
}

func TestMetadataAnswersAPartitionWithoutALeaderAsOffline(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"a": 2},
		Leader: func(_ string, partition int32) int32 { return partition - 1 }})
	cn := dial(t, c, 0, conn.Config{})
	p := metadata(t, cn, 12, false, "a").Topics[0].Partitions
	require.Equal(t, kerr.LeaderNotAvailable.Code, p[0].ErrorCode)
	require.Equal(t, int32(-1), p[0].LeaderID)
	require.Empty(t, p[0].ReplicaNodes)
	require.Zero(t, p[1].ErrorCode)
	require.Equal(t, int32(0), p[1].LeaderID)
}
