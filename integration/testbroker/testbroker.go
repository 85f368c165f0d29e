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
	req := kmsg.NewPtrCreateTopicsRequest()
	if deadline, ok := ctx.Deadline(); ok {
		req.TimeoutMillis = int32(time.Until(deadline) / time.Millisecond)
	}
	for _, topic := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
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
// leader: a real broker learns of a new topic from the controller a moment
// after creating it. If ctx ends first, the error says what was missing
// at the last look that ctx did not cut short, a failed request's error
// included.
func AwaitLeaders(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	why := "no answer came"
	for {
		ready, now := leadersElected(ctx, cl, topic, partitions)
		if ready {
			return nil
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

// leadersElected reports whether topic has partitions, each with a leader,
// and if not, why not.
func leadersElected(ctx context.Context, cl *kgo.Client, topic string, partitions int32) (bool, string) {
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
