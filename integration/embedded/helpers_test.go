package embedded_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/bounded"
)

// testTimeout bounds every wait in these tests, as integration's does; a
// healthy run needs a fraction of it.
const testTimeout = 60 * time.Second

func start(t *testing.T, opts embedded.Options) *embedded.Cluster {
	t.Helper()
	c, err := embedded.Start(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newClient is a kgo client on c that refreshes metadata and retries
// quickly, so faults resolve in milliseconds.
func newClient(t *testing.T, c *embedded.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.Addrs()...),
		kgo.MetadataMinAge(10 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
	}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

// produce writes one record to partition 0 of topic and returns the error.
func produce(ctx context.Context, cl *kgo.Client, topic, value string) error {
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
}

func highWatermark(t *testing.T, c *embedded.Cluster, topic string, partition int32) int64 {
	t.Helper()
	pi := c.Kfake().PartitionInfo(topic, partition)
	require.NotNil(t, pi, "partition %s/%d does not exist", topic, partition)
	return pi.HighWatermark
}

// metadata asks the cluster, as a client would, about topic.
func metadata(t *testing.T, cl *kgo.Client, topic string) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t), cl)
	require.NoError(t, err)
	require.Len(t, resp.Topics, 1)
	return resp
}

// addrOf returns the address metadata gives for node.
func addrOf(t *testing.T, resp *kmsg.MetadataResponse, node int32) string {
	t.Helper()
	for _, b := range resp.Brokers {
		if b.NodeID == node {
			return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		}
	}
	t.Fatalf("metadata lists no broker %d", node)
	return ""
}

// disconnects counts the connections kgo lost.
type disconnects struct{ n atomic.Int64 }

func (d *disconnects) OnBrokerDisconnect(kgo.BrokerMetadata, net.Conn) { d.n.Add(1) }

// produceAnswers counts the Produce responses kgo read, by broker. kgo
// reads one before it completes the request's records, so that a record's
// result comes after its answer was counted.
type produceAnswers struct {
	mu     sync.Mutex
	byNode map[int32]int
}

func (a *produceAnswers) OnBrokerRead(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != int16(kmsg.Produce) || err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byNode == nil {
		a.byNode = map[int32]int{}
	}
	a.byNode[meta.NodeID]++
}

// from is how many Produce responses kgo has read from node.
func (a *produceAnswers) from(node int32) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.byNode[node]
}

// stacksShow reports whether some goroutine's stack shows fn.
func stacksShow(fn string) bool { return strings.Contains(bounded.Stacks(), fn) }
