package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// The topic, on any broker: ask for its metadata; if it does not exist and
// kprod may create it (on the embedded broker, or with --create-topic), send
// CreateTopics to the controller the metadata names (KRaft brokers forward
// it from any broker anyway), then wait until every partition has a leader,
// so that the run does not start by measuring the cluster's leader
// election. A missing topic is otherwise an error, as the library's
// AllowAutoTopicCreation default has it: a typo must not create a topic.
// With -X allow.auto.create.topics=true and without --create-topic, the
// broker creates it on kprod's metadata request instead.

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

// topicSpec is the topic a run produces to, and what kprod may do about it.
type topicSpec struct {
	name              string
	partitions        int32 // -1: the broker's default
	replicationFactor int16 // -1: the broker's default
	create            bool  // create it if it does not exist
	// autoCreate asks the broker to create it on the metadata request, as
	// -X allow.auto.create.topics=true makes the producer do.
	autoCreate bool
	// An existing topic must match what the user asked for explicitly.
	checkPartitions, checkReplication bool
}

// topicSpec is the topic the flags describe.
func (o *commonOptions) topicSpec(cmd *cobra.Command) topicSpec {
	t := topicSpec{
		name:              o.topic,
		partitions:        o.partitions,
		replicationFactor: o.replicationFactor,
		create:            o.useEmbedded || o.createTopic,
		autoCreate:        o.cfg.AllowAutoTopicCreation,
		checkPartitions:   cmd.Flags().Changed("partitions"),
		checkReplication:  cmd.Flags().Changed("replication-factor"),
	}
	if t.partitions == 0 {
		t.partitions = -1 // the broker's num.partitions
		if o.useEmbedded {
			t.partitions = defaultEmbeddedPartitions
		}
	}
	return t
}

// ensureTopic makes sure t exists, as asked, and is ready.
func ensureTopic(ctx context.Context, cfg producer.Config, t topicSpec, con *console) error {
	ctx, cancel := context.WithTimeout(ctx, topicTimeout)
	defer cancel()
	ccfg := connConfig(cfg)
	c, err := dialAny(ctx, cfg.Brokers, ccfg)
	if err != nil {
		return err
	}
	defer c.Close()

	// Where kprod creates a missing topic itself, it does so with the
	// partitions asked for: the broker's auto-creation, asked for on this
	// request, would create it first with its num.partitions.
	autoCreate := t.autoCreate && !t.create
	md, err := topicMetadata(ctx, c, t.name, autoCreate)
	if err != nil {
		return err
	}
	switch code := md.Topics[0].ErrorCode; {
	case code == 0:
		if err := t.matches(&md.Topics[0]); err != nil {
			return err
		}
		_, err := awaitLeaders(ctx, c, t.name, false, nil)
		return err
	case autoCreate && (code == kerr.UnknownTopicOrPartition.Code || code == kerr.LeaderNotAvailable.Code):
		return awaitAutoCreated(ctx, c, t, cfg.MaxBlock, &md.Topics[0])
	case code == kerr.UnknownTopicOrPartition.Code:
		if !t.create {
			return fmt.Errorf("topic %s does not exist; --create-topic creates it (with --partitions and --replication-factor)", t.name)
		}
	default:
		return fmt.Errorf("topic %s: %w", t.name, kerr.ForCode(code))
	}

	created, err := createTopic(ctx, c, md, ccfg, t)
	if err != nil {
		return err
	}
	if !created {
		// Another client created it since the metadata said it did not
		// exist: it must match what was asked, as one that existed
		// before. Its metadata may lag its creation, so it is checked
		// once every partition has a leader.
		con.line("topic %s exists: another client created it first", t.name)
		ready, err := awaitLeaders(ctx, c, t.name, false, nil)
		if err != nil {
			return err
		}
		return t.matches(ready)
	}
	partitions := "the broker's default partitions"
	if t.partitions > 0 {
		partitions = plural(int64(t.partitions), "partition")
	}
	con.line("created topic %s (%s, replication factor %s)",
		t.name, partitions, orDefault(int64(t.replicationFactor)))
	_, err = awaitLeaders(ctx, c, t.name, false, nil)
	return err
}

// awaitAutoCreated waits for a topic the broker creates because kprod's
// metadata request asked it to, as the producer waits for a topic's
// metadata: up to maxBlock, within ensureTopic's topicTimeout. Kafka
// answers the request that starts the creation UNKNOWN_TOPIC_OR_PARTITION
// (4.3.1 does) or LEADER_NOT_AVAILABLE, and UNKNOWN_TOPIC_OR_PARTITION is
// also its answer to every request while auto.create.topics.enable is
// false: only the wait tells the two apart. The broker chose the topic's
// partitions: it is checked as one that existed before the run. first is
// the answer to the request that asked for the creation.
func awaitAutoCreated(ctx context.Context, c *conn.Conn, t topicSpec, maxBlock time.Duration, first *protocol.MetadataResponseTopic) error {
	wait := min(maxBlock, topicTimeout)
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	ready, err := awaitLeaders(waitCtx, c, t.name, true, first)
	if err != nil {
		return notAutoCreated(ctx, err, t.name, wait)
	}
	return t.matches(ready)
}

// notAutoCreated is the error of a wait for an auto-created topic that
// ended in err: the broker's not creating it when time ran out with the
// topic still unknown, but err itself when the run was stopped (an
// interrupt, which would otherwise read as the broker's failing to create
// the topic within the whole wait). Time may run out on ctx itself:
// ensureTopic's topicTimeout, begun before the wait, ends it first when
// the wait is as long.
func notAutoCreated(ctx context.Context, err error, topic string, wait time.Duration) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) && !runStopped(ctx) {
		return fmt.Errorf("topic %s does not exist, and the broker did not create it within %v as allow.auto.create.topics asks (is its auto.create.topics.enable false?); --create-topic creates it", topic, wait)
	}
	return err
}

// runStopped says whether ctx ended because the run was stopped (Ctrl-C,
// or the embedded broker's exit), which cancels it, rather than because a
// bound kprod set on a wait ran out, which is a deadline.
func runStopped(ctx context.Context) bool { return errors.Is(ctx.Err(), context.Canceled) }

// matches checks an existing topic against the partitions and replication
// factor the user asked for: producing to a topic unlike the one asked for
// would measure, or fill, something else.
func (t topicSpec) matches(md *protocol.MetadataResponseTopic) error {
	if n := int32(len(md.Partitions)); t.checkPartitions && t.partitions > 0 && n != t.partitions {
		return usagef("--partitions: topic %s exists with %s, not %d", t.name, plural(int64(n), "partition"), t.partitions)
	}
	if t.checkReplication && t.replicationFactor > 0 && len(md.Partitions) > 0 {
		if n := len(md.Partitions[0].ReplicaNodes); n != int(t.replicationFactor) {
			return usagef("--replication-factor: topic %s exists with %s per partition, not %d", t.name, plural(int64(n), "replica"), t.replicationFactor)
		}
	}
	return nil
}

func orDefault(n int64) string {
	if n < 0 {
		return "the broker's default"
	}
	return strconv.FormatInt(n, 10)
}

// topicMetadata asks for one topic, and for its creation if autoCreate.
func topicMetadata(ctx context.Context, c *conn.Conn, topic string, autoCreate bool) (*protocol.MetadataResponse, error) {
	name := topic
	resp, err := c.Request(ctx, &protocol.MetadataRequest{
		Topics:                 []protocol.MetadataRequestTopic{{Name: &name}},
		AllowAutoTopicCreation: autoCreate,
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
// reached, to c). It accepts TOPIC_ALREADY_EXISTS, another client having
// won the race, but then reports that it created nothing.
func createTopic(ctx context.Context, c *conn.Conn, md *protocol.MetadataResponse, cfg conn.Config, t topicSpec) (created bool, err error) {
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
		return false, fmt.Errorf("creating topic %s: %w", t.name, err)
	}
	ct := resp.(*protocol.CreateTopicsResponse)
	if len(ct.Topics) != 1 {
		return false, fmt.Errorf("creating topic %s: the broker answered for %d topics", t.name, len(ct.Topics))
	}
	r := ct.Topics[0]
	switch err := kerr.ForCode(r.ErrorCode); {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	case errors.Is(err, kerr.InvalidReplicationFactor):
		return false, usagef("--replication-factor: %d: the broker says %v", t.replicationFactor, explained(err, r.ErrorMessage))
	case errors.Is(err, kerr.InvalidPartitions):
		return false, usagef("--partitions: %d: the broker says %v", t.partitions, explained(err, r.ErrorMessage))
	default:
		return false, fmt.Errorf("creating topic %s: %w", t.name, explained(err, r.ErrorMessage))
	}
}

// explained is err, a Kafka error code's, told with the broker's own
// explanation when it sent one, else as it is (with the protocol's
// description); errors.Is and As find err in it either way. The
// explanation is the broker's text, quoted and cut short (brokertext):
// kprod writes it to the terminal.
func explained(err error, msg *string) error {
	var ke *kerr.Error
	if msg == nil || *msg == "" || !errors.As(err, &ke) {
		return err
	}
	return &brokerExplained{err: err, text: ke.Name + ": " + brokertext.Quote(*msg)}
}

// brokerExplained is an error code's error told in the broker's words.
type brokerExplained struct {
	err  error
	text string
}

func (e *brokerExplained) Error() string { return e.text }
func (e *brokerExplained) Unwrap() error { return e.err }

// awaitLeaders polls metadata until every partition of topic has a leader,
// and returns the topic's metadata then. Each poll asks for the topic's
// creation if autoCreate, as each of the producer's metadata requests does.
// last, if not nil, is the answer the caller already has, not ready: the
// polls start after a pause.
//
// A ctx that ends once there is an answer, between polls or during one,
// ends the wait with why that answer was not ready: the ctx may run out
// while a poll is still at the broker (on a loaded machine, or a broker
// slow to answer), and the request's failure would say only that.
func awaitLeaders(ctx context.Context, c *conn.Conn, topic string, autoCreate bool, last *protocol.MetadataResponseTopic) (*protocol.MetadataResponseTopic, error) {
	wait := topicPollMin
	for {
		if last != nil {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, notReadyWithin(ctx, topic, last)
			case <-t.C:
			}
			wait = min(2*wait, topicPollMax)
		}
		md, err := topicMetadata(ctx, c, topic, autoCreate)
		if err != nil {
			if last != nil && ctx.Err() != nil {
				return nil, notReadyWithin(ctx, topic, last)
			}
			return nil, err
		}
		if topicReady(&md.Topics[0]) {
			return &md.Topics[0], nil
		}
		last = &md.Topics[0]
	}
}

// notReadyWithin is the error of a wait for topic that ctx ended, last
// being the last answer.
func notReadyWithin(ctx context.Context, topic string, last *protocol.MetadataResponseTopic) error {
	return fmt.Errorf("topic %s: %w: %w", topic, notReady(last), context.Cause(ctx))
}

// notReady says why the last answer was not ready: the topic's own error
// (a topic that does not exist yet), else its leaderless partitions.
func notReady(t *protocol.MetadataResponseTopic) error {
	if err := kerr.ForCode(t.ErrorCode); err != nil {
		return err
	}
	return errPartitionsWithoutLeader
}

var errPartitionsWithoutLeader = errors.New("partitions without a leader")

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
