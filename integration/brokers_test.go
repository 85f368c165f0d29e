package integration

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

// testTimeout bounds each wait of a test against a broker; a healthy run
// needs a fraction of it.
const testTimeout = 60 * time.Second

// brokers returns the seed brokers for a test: those of KAFKA_BROKERS
// (comma-separated, as printed by kafka/broker.sh start) when it is set,
// otherwise those of an embedded cluster that lives as long as the test.
// The embedded cluster is configured like broker.sh's broker: topics are
// auto-created with one partition.
func brokers(t *testing.T) []string {
	t.Helper()
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		addrs := envBrokers()
		require.NotEmpty(t, addrs, "KAFKA_BROKERS=%q names no broker", env)
		return addrs
	}
	c, err := embedded.Start(embedded.Options{AutoCreateTopics: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.Addrs()
}

// envBrokers returns the brokers KAFKA_BROKERS lists, none if it is unset.
func envBrokers() []string {
	var addrs []string
	for a := range strings.SplitSeq(os.Getenv("KAFKA_BROKERS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

var topicSeq atomic.Int64

// newTopic creates a topic named after the test, unique across runs against
// the same broker, and waits until every partition has a leader.
func newTopic(t *testing.T, seeds []string, partitions int32) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()),
		time.Now().UnixNano(), topicSeq.Add(1))
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()

	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = name
	rt.NumPartitions = partitions
	rt.ReplicationFactor = -1 // the broker's default
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = int32(testTimeout / time.Millisecond)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(t, err, "creating topic %s", name)
	require.Len(t, resp.Topics, 1)
	require.NoError(t, kerr.ErrorForCode(resp.Topics[0].ErrorCode), "creating topic %s", name)

	// A real broker learns of the topic from the controller a moment
	// later; poll its metadata rather than hope.
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		ready, why := topicReady(ctx, cl, name, partitions)
		if ready {
			return name
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("topic %s not ready within %v: %s", name, testTimeout, why)
		}
	}
}

func topicReady(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (bool, string) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	switch {
	case err != nil:
		return false, err.Error()
	case len(resp.Topics) != 1:
		return false, fmt.Sprintf("metadata names %d topics", len(resp.Topics))
	case resp.Topics[0].ErrorCode != 0:
		return false, kerr.ErrorForCode(resp.Topics[0].ErrorCode).Error()
	case len(resp.Topics[0].Partitions) != int(partitions):
		return false, fmt.Sprintf("%d of %d partitions", len(resp.Topics[0].Partitions), partitions)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return false, fmt.Sprintf("partition %d has no leader (%v)", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
	return true, ""
}
