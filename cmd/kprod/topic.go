package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Topic creation, on any broker: ask for the topic's metadata; if the topic
// does not exist, send CreateTopics to the controller the metadata names
// (KRaft brokers forward it from any broker anyway), then wait until every
// partition has a leader, so that the run does not start by measuring the
// cluster's leader election.

const (
	// topicTimeout bounds the whole of ensureTopic.
	topicTimeout = 60 * time.Second
	// createTopicTimeout is the CreateTopics request's own timeoutMs: how
	// long the controller may take to create it.
	createTopicTimeout = 30 * time.Second
	// Backoff between metadata polls while the topic's leaders are elected.
	topicPollMin = 20 * time.Millisecond
	topicPollMax = 500 * time.Millisecond
)

// topicSpec is the topic a run produces to, and how to create it.
type topicSpec struct {
	name              string
	partitions        int32 // -1: the broker's default
	replicationFactor int16 // -1: the broker's default
}

// ensureTopic creates t if it does not exist and waits until it is ready.
func ensureTopic(ctx context.Context, cfg producer.Config, t topicSpec, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	ccfg := connConfig(cfg)
	c, err := dialAny(ctx, cfg.Brokers, ccfg)
	if err != nil {
		return err
	}
	defer c.Close()

	md, err := topicMetadata(ctx, c, t.name)
	if err != nil {
		return err
	}
	switch code := md.Topics[0].ErrorCode; code {
	case 0:
		if n := int32(len(md.Topics[0].Partitions)); t.partitions > 0 && n != t.partitions {
			fmt.Fprintf(stderr, "%s: topic %s exists with %d partitions; --partitions %d applies only to a topic kprod creates\n",
				programName, t.name, n, t.partitions)
		}
		return nil
	case kerr.UnknownTopicOrPartition.Code:
		// Create it below.
	default:
		return fmt.Errorf("topic %s: %w", t.name, kerr.ForCode(code))
	}

	if err := createTopic(ctx, c, md, ccfg, t); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%s: created topic %s (%s partitions, replication factor %s)\n",
		programName, t.name, orDefault(int64(t.partitions)), orDefault(int64(t.replicationFactor)))
	return awaitLeaders(ctx, c, t.name)
}

func orDefault(n int64) string {
	if n < 0 {
		return "the broker's default"
	}
	return strconv.FormatInt(n, 10)
}

// connConfig is the connection configuration matching the producer's.
func connConfig(cfg producer.Config) conn.Config {
	cc := conn.Config{ClientID: cfg.ClientID, RequestTimeout: cfg.RequestTimeout, TLS: cfg.TLS, SASL: cfg.SASL}
	if cfg.Dialer != nil {
		cc.Dial = cfg.Dialer.DialContext
	}
	return cc
}

// dialAny connects to the first seed broker that answers.
func dialAny(ctx context.Context, addrs []string, cfg conn.Config) (*conn.Conn, error) {
	var errs []error
	for _, a := range addrs {
		c, err := conn.Dial(ctx, a, cfg)
		if err == nil {
			return c, nil
		}
		if errors.Is(err, conn.ErrAuthentication) {
			return nil, err // one line that says why, not one per broker
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("no broker answered: %w", errors.Join(errs...))
}

// topicMetadata asks for one topic, without creating it.
func topicMetadata(ctx context.Context, c *conn.Conn, topic string) (*protocol.MetadataResponse, error) {
	name := topic
	resp, err := c.Request(ctx, &protocol.MetadataRequest{
		Topics: []protocol.MetadataRequestTopic{{Name: &name}},
	})
	if err != nil {
		return nil, fmt.Errorf("metadata for topic %s: %w", topic, err)
	}
	md := resp.(*protocol.MetadataResponse)
	if len(md.Topics) != 1 {
		return nil, fmt.Errorf("metadata for topic %s: the broker answered with %d topics", topic, len(md.Topics))
	}
	return md, nil
}

// createTopic sends CreateTopics to the controller (or, if it cannot be
// reached, to c) and accepts TOPIC_ALREADY_EXISTS: another client may have
// won the race.
func createTopic(ctx context.Context, c *conn.Conn, md *protocol.MetadataResponse, cfg conn.Config, t topicSpec) error {
	target := c
	for _, b := range md.Brokers {
		addr := net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		if b.NodeID == md.ControllerID && addr != c.Addr() {
			if cc, err := conn.Dial(ctx, addr, cfg); err == nil {
				defer cc.Close()
				target = cc
			}
		}
	}
	resp, err := target.Request(ctx, &protocol.CreateTopicsRequest{
		Topics: []protocol.CreateTopicsRequestTopic{{
			Name:              t.name,
			NumPartitions:     t.partitions,
			ReplicationFactor: t.replicationFactor,
		}},
		TimeoutMs: int32(createTopicTimeout / time.Millisecond),
	})
	if err != nil {
		return fmt.Errorf("creating topic %s: %w", t.name, err)
	}
	ct := resp.(*protocol.CreateTopicsResponse)
	if len(ct.Topics) != 1 {
		return fmt.Errorf("creating topic %s: the broker answered for %d topics", t.name, len(ct.Topics))
	}
	r := ct.Topics[0]
	switch err := kerr.ForCode(r.ErrorCode); {
	case err == nil, errors.Is(err, kerr.TopicAlreadyExists):
		return nil
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return usagef("--replication-factor: %d: the broker says %s", t.replicationFactor, brokerMessage(err, r.ErrorMessage))
	case errors.Is(err, kerr.InvalidPartitions):
		return usagef("--partitions: %d: the broker says %s", t.partitions, brokerMessage(err, r.ErrorMessage))
	default:
		return fmt.Errorf("creating topic %s: %s", t.name, brokerMessage(err, r.ErrorMessage))
	}
}

// brokerMessage is the error's name with the broker's own explanation when
// it sent one, else the protocol's description.
func brokerMessage(err error, msg *string) string {
	var ke *kerr.Error
	if msg != nil && *msg != "" && errors.As(err, &ke) {
		return ke.Name + ": " + *msg
	}
	return err.Error()
}

// awaitLeaders polls metadata until every partition of topic has a leader.
func awaitLeaders(ctx context.Context, c *conn.Conn, topic string) error {
	wait := topicPollMin
	for {
		md, err := topicMetadata(ctx, c, topic)
		if err != nil {
			return err
		}
		if topicReady(&md.Topics[0]) {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("topic %s: partitions without a leader: %w", topic, context.Cause(ctx))
		case <-t.C:
		}
		wait = min(2*wait, topicPollMax)
	}
}

func topicReady(t *protocol.MetadataResponseTopic) bool {
	if t.ErrorCode != 0 || len(t.Partitions) == 0 {
		return false
	}
	for _, p := range t.Partitions {
		if p.ErrorCode != 0 || p.LeaderID < 0 {
			return false
		}
	}
	return true
}
