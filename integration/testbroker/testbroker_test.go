package testbroker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

// Both test packages take KAFKA_BROKERS through EnvBrokers; the secured
// tests once split it on commas alone and dialed " b:9092" as written.
func TestEnvBrokersDropsSpacesAndEmptyNames(t *testing.T) {
	t.Setenv("KAFKA_BROKERS", " a:9092 ,b:9092,, ")
	require.Equal(t, []string{"a:9092", "b:9092"}, EnvBrokers())
	t.Setenv("KAFKA_BROKERS", "")
	require.Empty(t, EnvBrokers())
}

// A CreateTopics answer that names no topic leaves the topic's fate
// unknown: an error saying so, where indexing the answer would panic.
func TestAnAnswerNamingNoTopicIsAnError(t *testing.T) {
	c, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	c.Kfake().ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		return req.(*kmsg.CreateTopicsRequest).ResponseKind(), nil, true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = CreateTopic(ctx, cl, "unanswered", 1)
	require.ErrorContains(t, err, "creating topic unanswered: the answer names 0 topics")
}

// A topic that never gets ready fails with what was missing at the last
// look, not with a bare timeout.
func TestAwaitLeadersSaysWhatIsMissing(t *testing.T) {
	c, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	err = AwaitLeaders(ctx, cl, "missing", 1)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "topic missing not ready: "+kerr.UnknownTopicOrPartition.Error())
}

// A leader named in the metadata may not take writes yet; a produce with
// acks=0 sent then is dropped with its connection (a CI run lost 1,847 of
// 2,000 records so). A topic is ready once every leader serves its
// partition, and the error says which one did not.
func TestAwaitLeadersWaitsForEachLeaderToServe(t *testing.T) {
	c, err := embedded.Start(embedded.Options{})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	c.Kfake().ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.Kfake().KeepControl()
		req := kreq.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				if rp.Partition == 1 {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	err = CreateTopic(ctx, cl, "not-served", 2)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "topic not-served not ready: partition 1's leader, broker ")
	require.ErrorContains(t, err, "does not serve it yet ("+kerr.NotLeaderForPartition.Error())
}
