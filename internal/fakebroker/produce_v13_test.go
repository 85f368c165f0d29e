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
