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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/testbroker"
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
		addrs := testbroker.EnvBrokers()
		require.NotEmpty(t, addrs, "KAFKA_BROKERS=%q names no broker", env)
		return addrs
	}
	c, err := embedded.Start(embedded.Options{AutoCreateTopics: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.Addrs()
}

var topicSeq atomic.Int64

// newTopic creates a topic named after the test, unique across runs against
// the same broker, and waits until every partition has a leader.
func newTopic(t *testing.T, seeds []string, partitions int32) string {
	t.Helper()
	return createTopic(t, seeds, func(ctx context.Context, cl *kgo.Client, name string) error {
		return testbroker.CreateTopic(ctx, cl, name, partitions)
	})
}

// newTopicOn is newTopic with every partition on the brokers replicas, led
// by the first.
func newTopicOn(t *testing.T, seeds []string, partitions int32, replicas []int32) string {
	t.Helper()
	return createTopic(t, seeds, func(ctx context.Context, cl *kgo.Client, name string) error {
		return testbroker.CreateTopicOn(ctx, cl, name, partitions, replicas)
	})
}

// createTopic names a topic as newTopic says and creates it with create.
func createTopic(t *testing.T, seeds []string, create func(ctx context.Context, cl *kgo.Client, name string) error) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d-%d", strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()),
		time.Now().UnixNano(), topicSeq.Add(1))
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	require.NoError(t, create(ctx, cl, name), "within %v", testTimeout)
	return name
}
