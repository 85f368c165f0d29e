package integration

// A KIP-951 CurrentLeader hint that names the leader the producer already
// knows (same node, same epoch) changes nothing, so the retry it answers must
// wait RetryBackoff like any other. A real Kafka 4.3 broker sends exactly
// such hints with NOT_LEADER_OR_FOLLOWER for a partition it is still taking
// over, which is how the suite ran into this against the real broker: a
// batch was retried three times within 4 ms. Embedded broker only: the hint
// has to be injected.

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

func TestE2EBugSameLeaderHintRetriesWithoutBackoff(t *testing.T) {
	if os.Getenv("KAFKA_BROKERS") != "" {
		t.Skip("embedded broker only: the leader hint is injected")
	}
	const (
		topic    = "same-leader-hint"
		rejects  = 3
		backoff  = 500 * time.Millisecond
		minDelay = backoff * 8 / 10 // RetryBackoff less its 20% jitter
	)
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{topic: 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	info := c.Kfake().PartitionInfo(topic, 0)
	require.NotNil(t, info)

	// The first `rejects` Produce requests are answered NOT_LEADER_OR_FOLLOWER
	// with a hint naming the current leader and epoch: what the producer
	// already has from metadata.
	var (
		mu       sync.Mutex
		rejected []time.Time
	)
	c.Kfake().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		if len(rejected) == rejects {
			c.Kfake().DropControl()
			return nil, nil, false
		}
		c.Kfake().KeepControl()
		rejected = append(rejected, time.Now())
		preq := req.(*kmsg.ProduceRequest)
		resp := preq.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range preq.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID // by name up to v12, by id from v13
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				sp.BaseOffset = -1
				sp.CurrentLeader.LeaderID = info.Leader
				sp.CurrentLeader.LeaderEpoch = info.Epoch
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})

	p := newProducer(t, c.Addrs(), func(cfg *producer.Config) {
		cfg.RetryBackoff = backoff
		cfg.RetryBackoffMax = backoff
	})
	outs := produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("v")}})
	requireAllAcked(t, outs)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, rejected, rejects)
	var gaps []string
	for i := 1; i < len(rejected); i++ {
		if gap := rejected[i].Sub(rejected[i-1]); gap < minDelay {
			gaps = append(gaps, fmt.Sprintf("attempt %d came %v after attempt %d", i+1, gap.Round(time.Microsecond), i))
		}
	}
	// A lower bound only: a correct producer waits at least minDelay by its
	// own timer before it even writes the retry, so no machine is too slow
	// for this check to hold.
	require.Empty(t, gaps, "a hint naming the already known leader and epoch must not skip RetryBackoff (%v)", backoff)
}
