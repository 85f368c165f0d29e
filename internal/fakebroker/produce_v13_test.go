package fakebroker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// Produce v13 names topics by the ids Metadata gives (KIP-516): the fake
// appends to the topic an id names, answers by id, and refuses an id it
// does not know with UNKNOWN_TOPIC_ID.
func TestProduceByTopicID(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	cn := dial(t, c, 0, conn.Config{})
	md := metadata(t, cn, 12, false, "t")
	require.Len(t, md.Topics, 1)
	id := md.Topics[0].TopicID
	require.NotZero(t, id, "Metadata v10+ gives the topic's id")

	var hooked []string
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) Action {
		for _, rt := range req.Topics {
			hooked = append(hooked, rt.Name)
		}
		return Action{}
	})
	unknown := wire.UUID{15: 1}
	req := &protocol.ProduceRequest{Acks: 1, TimeoutMs: 5000, Topics: []protocol.ProduceRequestTopic{
		{TopicID: id, Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: batch(t, "a", "b")}}},
		{TopicID: unknown, Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: batch(t, "c")}}},
	}}
	resp, err := request(t, cn, req, 13)
	require.NoError(t, err)
	pr := resp.(*protocol.ProduceResponse)
	require.Len(t, pr.Topics, 2)

	require.Equal(t, id, pr.Topics[0].TopicID, "the answer is keyed by id")
	require.Empty(t, pr.Topics[0].Name, "v13 carries no names")
	require.Zero(t, pr.Topics[0].Partitions[0].ErrorCode)
	require.Equal(t, int64(0), pr.Topics[0].Partitions[0].BaseOffset)

	require.Equal(t, unknown, pr.Topics[1].TopicID)
	require.Equal(t, kerr.UnknownTopicID.Code, pr.Topics[1].Partitions[0].ErrorCode)
	require.Equal(t, int64(-1), pr.Topics[1].Partitions[0].BaseOffset)

	require.Len(t, c.Records("t", 0), 2, "only the known id's records are appended")
	require.Equal(t, []string{"t", ""}, hooked, "hooks see the names the ids stand for; none for an unknown id")
}

// A topic deleted and created again under its name keeps its partitions'
// leaders and nothing else: a new id, by which Metadata names it and the
// old one no longer finds it, epochs and offsets from 0, no records, and no
// state of the producer that wrote to it, whose next batch is taken at any
// sequence.
func TestARecreatedTopicStartsOver(t *testing.T) {
	c := start(t, Options{Nodes: 2, Topics: map[string]int32{"t": 2}, KeepRecords: true})
	require.NoError(t, c.SetLeader("t", 0, 1)) // epoch 1
	cn := dial(t, c, 1, conn.Config{})
	oldID := metadata(t, cn, 12, false, "t").Topics[0].TopicID
	_, p := produce(t, cn, 12, "t", 0, stamped(t, 7, 0, 0, "a", "b"))
	requireAppended(t, p, 0)

	require.NoError(t, c.RecreateTopic("t"))
	md := metadata(t, cn, 12, false, "t").Topics[0]
	require.NotEqual(t, oldID, md.TopicID, "a new id")
	require.NotZero(t, md.TopicID)
	require.Len(t, md.Partitions, 2)
	for i, leader := range []int32{1, 1} {
		require.Equal(t, leader, md.Partitions[i].LeaderID, "partition %d keeps its leader", i)
		require.Zero(t, md.Partitions[i].LeaderEpoch, "partition %d's epochs start over", i)
	}
	require.Zero(t, c.HighWatermark("t", 0))
	require.Empty(t, c.Records("t", 0))
	_, known := c.ProducerState("t", 0, 7)
	require.False(t, known, "no state of the producer")

	_, p = produce(t, cn, 12, "t", 0, stamped(t, 7, 0, 5, "c"))
	requireAppended(t, p, 0) // sequence 5, taken as a first one
	req := &protocol.ProduceRequest{Acks: 1, TimeoutMs: 5000, Topics: []protocol.ProduceRequestTopic{
		{TopicID: oldID, Partitions: []protocol.ProduceRequestPartition{{Index: 0, Records: batch(t, "d")}}},
	}}
	resp, err := request(t, cn, req, 13)
	require.NoError(t, err)
	require.Equal(t, kerr.UnknownTopicID.Code, resp.(*protocol.ProduceResponse).Topics[0].Partitions[0].ErrorCode, "the old id names no topic")
	require.Len(t, c.Records("t", 0), 1)

	require.Error(t, c.RecreateTopic("none"))
}
