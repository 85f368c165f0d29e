package fakebroker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/record"
)

// wait bounds every wait in these tests: generous for a loaded machine,
// short enough that a hang fails clearly.
const wait = 10 * time.Second

// start starts a cluster that the test closes.
func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	c, err := Start(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// dial connects to a node with our own connection layer, which negotiates
// ApiVersions the way the producer does.
func dial(t *testing.T, c *Cluster, node int32, cfg conn.Config) *conn.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cn, err := conn.Dial(ctx, c.Addrs()[node], cfg)
	require.NoError(t, err)
	t.Cleanup(func() { cn.Close() })
	return cn
}

// request sends req at version and waits for the answer.
func request(t *testing.T, cn *conn.Conn, req protocol.Request, version int16) (protocol.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return cn.RequestVersion(ctx, req, version)
}

// batch encodes one RecordBatch of the given values, keyed "k<i>", with
// timestamps 1000+i.
func batch(t *testing.T, values ...string) []byte {
	t.Helper()
	var b record.Builder
	b.Reset(make([]byte, 0, 1024))
	for i, v := range values {
		b.Append(1000+int64(i), []byte("k"+v), []byte(v), nil)
	}
	enc, err := b.Close(record.CloseOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
	require.NoError(t, err)
	return enc
}

// stamped is batch(values...) stamped as an idempotent producer's batch
// would be when first drained.
func stamped(t *testing.T, producerID int64, epoch int16, baseSequence int32, values ...string) []byte {
	t.Helper()
	b := batch(t, values...)
	record.StampProducer(b, producerID, epoch, baseSequence, false)
	return b
}

// produceReq is a Produce request with one batch per partition of topic.
func produceReq(acks int16, topic string, parts map[int32][]byte) *protocol.ProduceRequest {
	req := &protocol.ProduceRequest{Acks: acks, TimeoutMs: 5000, Topics: []protocol.ProduceRequestTopic{{Name: topic}}}
	for p, b := range parts {
		req.Topics[0].Partitions = append(req.Topics[0].Partitions, protocol.ProduceRequestPartition{Index: p, Records: b})
	}
	return req
}

// produce sends a Produce request and returns its only partition's answer.
func produce(t *testing.T, cn *conn.Conn, version int16, topic string, partition int32, b []byte) (*protocol.ProduceResponse, *protocol.ProduceResponsePartition) {
	t.Helper()
	resp, err := request(t, cn, produceReq(1, topic, map[int32][]byte{partition: b}), version)
	require.NoError(t, err)
	pr := resp.(*protocol.ProduceResponse)
	require.Len(t, pr.Topics, 1)
	require.Len(t, pr.Topics[0].Partitions, 1)
	return pr, &pr.Topics[0].Partitions[0]
}

// initProducerID sends an InitProducerId request and returns the answer.
func initProducerID(t *testing.T, cn *conn.Conn, version int16, req *protocol.InitProducerIdRequest) *protocol.InitProducerIdResponse {
	t.Helper()
	resp, err := request(t, cn, req, version)
	require.NoError(t, err)
	return resp.(*protocol.InitProducerIdResponse)
}

// metadata asks for topics (nil: all) at version.
func metadata(t *testing.T, cn *conn.Conn, version int16, allowAuto bool, topics ...string) *protocol.MetadataResponse {
	t.Helper()
	req := &protocol.MetadataRequest{AllowAutoTopicCreation: allowAuto}
	if topics != nil {
		req.Topics = make([]protocol.MetadataRequestTopic, len(topics))
		for i := range topics {
			req.Topics[i].Name = &topics[i]
		}
	}
	resp, err := request(t, cn, req, version)
	require.NoError(t, err)
	return resp.(*protocol.MetadataResponse)
}
