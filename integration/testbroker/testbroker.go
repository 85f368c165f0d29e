// Package testbroker is what the integration suite's test packages share
// about the brokers they test against: which ones the environment names,
// and a new topic that is ready on them. One implementation, so that the
// secured tests and the others read KAFKA_BROKERS and wait for leaders
// alike.
package testbroker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// EnvBrokers returns the brokers KAFKA_BROKERS lists, comma-separated as
// kafka/broker.sh start prints them; spaces around a name and empty names
// are dropped, so " a:9092, b:9092," is two brokers. None if it is unset.
func EnvBrokers() []string {
	var addrs []string
	for a := range strings.SplitSeq(os.Getenv("KAFKA_BROKERS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// CreateTopic creates topic with partitions and the broker's default
// replication factor through cl, then waits until every partition has a
// leader (AwaitLeaders). The error says which step failed and why.
func CreateTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	return CreateTopics(ctx, cl, []string{topic}, partitions, nil)
}

// CreateTopics creates each of topics as CreateTopic does, in one request,
// with the topic configs given (none if nil), and waits for each one's
// leaders.
func CreateTopics(ctx context.Context, cl *kgo.Client, topics []string, partitions int32, configs map[string]string) error {
	return createTopics(ctx, cl, topics, partitions, configs, nil)
}

// CreateTopicOn creates topic as CreateTopic does, but with every
// partition on the brokers replicas, the first its preferred leader, where
// CreateTopic leaves the placement to the controller.
func CreateTopicOn(ctx context.Context, cl *kgo.Client, topic string, partitions int32, replicas []int32) error {
	return createTopics(ctx, cl, []string{topic}, partitions, nil, replicas)
}

// createTopics is CreateTopics, with every partition placed on replicas
// unless it is nil.
func createTopics(ctx context.Context, cl *kgo.Client, topics []string, partitions int32, configs map[string]string, replicas []int32) error {
	req := kmsg.NewPtrCreateTopicsRequest()
	if deadline, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(time.Until(deadline) / time.Millisecond)
	}
	for _, topic := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
		if replicas != nil {
			// An assignment leaves the count and the factor to it.
			rt.NumPartitions = -1
			for p := range partitions {
				a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
				a.Partition, a.Replicas = p, replicas
				rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
			}
		}
		for k, v := range configs {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
	}
	what := "topic " + strings.Join(topics, ", ")
	if len(topics) > 1 {
		what = "topics " + strings.Join(topics, ", ")
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("creating %s: %w", what, err)
	}
	// An answer without a topic would leave its outcome unknown.
	if len(resp.Topics) != len(topics) {
		return fmt.Errorf("creating %s: the answer names %d topics", what, len(resp.Topics))
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			return fmt.Errorf("creating topic %s: %w", rt.Topic, err)
		}
	}
	for _, topic := range topics {
		if err := AwaitLeaders(ctx, cl, topic, partitions); err != nil {
			return err
		}
	}
	return nil
}

// AwaitLeaders polls topic's metadata until it has partitions, each with a
// leader, and then each leader until it serves its partition: a real broker
// learns of a new topic from the controller a moment after creating it, and
// names itself leader in its metadata a moment before it takes writes. A
// produce with acks=0 sent in that moment is dropped with the connection it
// came on, and every request behind it too. If ctx ends first, the error
// says what was missing at the last look that ctx did not cut short, a
// failed request's error included.
func AwaitLeaders(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	why := "no answer came"
	for {
		leaders, now := leadersElected(ctx, cl, topic, partitions)
		if leaders != nil {
			now = leadersServe(ctx, cl, topic, leaders)
			if now == "" {
				return nil
			}
		}
		// A look the ctx cut short would only repeat the ctx's error.
		if ctx.Err() == nil {
			why = now
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return fmt.Errorf("topic %s not ready: %s: %w", topic, why, context.Cause(ctx))
		}
	}
}

// leadersElected returns the leader of each of topic's partitions, by
// partition, once it has partitions, each with a leader; if not, nil and
// why not.
func leadersElected(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (map[int32]int32, string) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	switch {
	case err != nil:
		return nil, err.Error()
	case len(resp.Topics) != 1:
		return nil, fmt.Sprintf("metadata names %d topics", len(resp.Topics))
	case resp.Topics[0].ErrorCode != 0:
		return nil, kerr.ErrorForCode(resp.Topics[0].ErrorCode).Error()
	case len(resp.Topics[0].Partitions) != int(partitions):
		return nil, fmt.Sprintf("%d of %d partitions", len(resp.Topics[0].Partitions), partitions)
	}
	leaders := make(map[int32]int32, partitions)
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.Leader < 0 {
			return nil, fmt.Sprintf("partition %d has no leader (%v)", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
		leaders[p.Partition] = p.Leader
	}
	return leaders, ""
}

// leadersServe asks each leader for the latest offset of its partitions,
// which a broker refuses, as it refuses a produce, until it has taken the
// partition on. It returns why a leader did not serve, or "" if all did.
// Each leader is asked directly, since kgo would retry a refusal until ctx
// ended and say only that.
func leadersServe(ctx context.Context, cl *kgo.Client, topic string, leaders map[int32]int32) string {
	byLeader := map[int32][]int32{}
	for p, leader := range leaders {
		byLeader[leader] = append(byLeader[leader], p)
	}
	for leader, parts := range byLeader {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, p := range parts {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1 // the latest offset
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(int(leader)).Request(ctx, req)
		if err != nil {
			return fmt.Sprintf("listing offsets on broker %d: %v", leader, err)
		}
		served := 0
		for _, t := range kresp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					return fmt.Sprintf("partition %d's leader, broker %d, does not serve it yet (%v)",
						p.Partition, leader, kerr.ErrorForCode(p.ErrorCode))
				}
				served++
			}
		}
		if served != len(parts) {
			return fmt.Sprintf("broker %d listed offsets for %d of its %d partitions", leader, served, len(parts))
		}
	}
	return ""
}
