package integration

// A leader that has appended a batch and waits for followers that do not
// fetch: the batch is in the leader's log, and the producer's request goes
// unanswered, so its retry is a duplicate of what the leader holds, which
// the broker must answer as such. The followers are frozen (SIGSTOP): they
// keep their sockets and their place in the ISR, and fetch nothing, as a
// broker in a long GC pause or on a stalled disk. Every partition of the
// topic is led by the one broker left running, so that nothing but the
// replication waits.

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol/kerr"
)

// frozenRequestTimeout is the producer's RequestTimeout in these tests,
// which is also its ProduceRequest's TimeoutMs: well below
// replica.lag.time.max.ms (30 s), after which the leader would drop the
// followers from the ISR itself, and below broker.session.timeout.ms (9
// s), after which the controller fences them.
const frozenRequestTimeout = 2 * time.Second

// frozenScene streams to a topic every partition of which the first broker
// leads, with frozenRequestTimeout, and returns once records flow, with
// the leader and its two followers.
func frozenScene(t *testing.T) (c *kafkaCluster, topic string, p *producer.Producer, s *stream, log *errorLog, leader int32, followers []int32) {
	t.Helper()
	c = clusterFor(t)
	leader, followers = c.ids[0], c.ids[1:]
	topic = newTopicOn(t, c.seeds, clusterPartitions, c.ids)
	c.awaitFullISR(t, topic)
	require.Len(t, c.ledBy(t, topic, leader), clusterPartitions, "broker %d, the first replica of each partition, leads them all", leader)
	log = &errorLog{}
	p = newProducer(t, c.seeds, func(cfg *producer.Config) {
		cfg.Logger = log.logger()
		cfg.RequestTimeout = frozenRequestTimeout
	})
	s = startStream(t, p, topic)
	s.awaitAcked(4000, "records flow")
	return c, topic, p, s, log, leader, followers
}

// freezeNodes freezes the brokers ids and returns a func that thaws them;
// a test that fails before it calls it has them thawed at its end.
func (c *kafkaCluster) freezeNodes(t *testing.T, ids []int32) (thawAll func()) {
	t.Helper()
	var pids []int
	thawAll = func() {
		for _, pid := range pids {
			assert.NoError(t, thaw(pid), "thawing process %d", pid)
		}
		pids = nil
	}
	t.Cleanup(thawAll)
	for _, id := range ids {
		pid := c.pid(t, id)
		require.NoError(t, freeze(pid), "freezing broker %d", id)
		pids = append(pids, pid)
		t.Logf("froze broker %d (pid %d)", id, pid)
	}
	return thawAll
}

// unreplicated is how many records the log of broker leader, which leads
// every partition of topic, holds beyond its high watermark: appended, and
// not yet answered to acks=all. It asks the leader alone, so that no
// request of its own waits on a frozen broker: the log end offset of the
// leader epoch in force (OffsetForLeaderEpoch), less the high watermark
// (ListOffsets' latest).
func (c *kafkaCluster) unreplicated(ctx context.Context, leader int32, topic string) (int64, error) {
	nodes, err := c.nodes()
	if err != nil {
		return 0, err
	}
	addr := ""
	for _, n := range nodes {
		if n.id == leader {
			addr = "127.0.0.1:" + strconv.Itoa(n.port)
		}
	}
	if addr == "" {
		// franz-go would try its default address instead.
		return 0, fmt.Errorf("broker %d is not among the cluster's nodes", leader)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	b := cl.SeedBrokers()[0]

	meta := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	meta.Topics = append(meta.Topics, mt)
	mresp, err := meta.RequestWith(ctx, b)
	if err != nil {
		return 0, err
	}
	ends := kmsg.NewPtrOffsetForLeaderEpochRequest()
	ends.ReplicaID = -1
	et := kmsg.NewOffsetForLeaderEpochRequestTopic()
	et.Topic = topic
	hws := kmsg.NewPtrListOffsetsRequest()
	hws.ReplicaID = -1
	ht := kmsg.NewListOffsetsRequestTopic()
	ht.Topic = topic
	for _, rt := range mresp.Topics {
		for _, mp := range rt.Partitions {
			if mp.Leader != leader {
				return 0, fmt.Errorf("partition %d of %s is led by broker %d, not %d", mp.Partition, topic, mp.Leader, leader)
			}
			ep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			ep.Partition, ep.CurrentLeaderEpoch, ep.LeaderEpoch = mp.Partition, -1, mp.LeaderEpoch
			et.Partitions = append(et.Partitions, ep)
			hp := kmsg.NewListOffsetsRequestTopicPartition()
			hp.Partition, hp.Timestamp = mp.Partition, -1
			ht.Partitions = append(ht.Partitions, hp)
		}
	}
	ends.Topics, hws.Topics = append(ends.Topics, et), append(hws.Topics, ht)
	eresp, err := ends.RequestWith(ctx, b)
	if err != nil {
		return 0, err
	}
	hresp, err := hws.RequestWith(ctx, b)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, rt := range eresp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("log end offset of partition %d: %w", p.Partition, err)
			}
			n += p.EndOffset
		}
	}
	for _, rt := range hresp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ForCode(p.ErrorCode); err != nil {
				return 0, fmt.Errorf("high watermark of partition %d: %w", p.Partition, err)
			}
			n -= p.Offset
		}
	}
	return n, nil
}

// awaitUnreplicated waits until the leader's log holds records beyond its
// high watermark, and returns how many. A healthy leader holds some too,
// between its append and its followers' next fetch (11 of 100 looks during
// a stream, with nothing frozen), so the tests look only once requests
// have timed out, when the followers have fetched nothing for a
// RequestTimeout.
func (c *kafkaCluster) awaitUnreplicated(t *testing.T, s *stream, leader int32, topic string) int64 {
	t.Helper()
	var n int64
	s.await("the leader holds records it appended and cannot acknowledge", func(collect *assert.CollectT) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		var err error
		n, err = c.unreplicated(ctx, leader, topic)
		if assert.NoError(collect, err, "log end offsets and high watermarks") {
			assert.Positive(collect, n, "records beyond the high watermark %s", s.progress())
		}
	})
	return n
}

// timedOut is how many of the producer's requests went unanswered within
// RequestTimeout, or were answered REQUEST_TIMED_OUT by the broker.
func timedOut(log *errorLog) int {
	return log.count(conn.ErrRequestTimeout) + log.count(kerr.RequestTimedOut)
}

// logRetries logs the errors the producer retried after.
func logRetries(t *testing.T, log *errorLog) {
	t.Helper()
	t.Logf("retried after: no answer within RequestTimeout %d times, REQUEST_TIMED_OUT %d, NOT_ENOUGH_REPLICAS_AFTER_APPEND %d, NOT_ENOUGH_REPLICAS %d",
		log.count(conn.ErrRequestTimeout), log.count(kerr.RequestTimedOut),
		log.count(kerr.NotEnoughReplicasAfterAppend), log.count(kerr.NotEnoughReplicas))
}

// The broker's own answers to a batch it appended but could not replicate
// in time (REQUEST_TIMED_OUT once the ProduceRequest's TimeoutMs runs out,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND once the ISR shrinks below
// min.insync.replicas) seldom reach this producer, nor the Java client:
// both send their request timeout as that TimeoutMs and wait that long for
// the answer, and the broker's clock starts when the request arrives, so
// the producer gives up first and the broker's answer finds the connection
// closed. And since Kafka 3.7 (KAFKA-15583) a leader below
// min.insync.replicas does not advance its high watermark, so the batch
// waits out the TimeoutMs instead of being answered
// NOT_ENOUGH_REPLICAS_AFTER_APPEND. Either way the batch is in the log
// unacknowledged, which is what these tests hold the producer to: its
// retries must be answered as duplicates, each record written once and in
// order.
func TestClusterFollowersFrozen(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fenced keeps the followers frozen until the controller fences
		// them (broker.session.timeout.ms) and takes them out of the ISR,
		// with batches appended and unanswered in the leader's log: their
		// retries are then refused with NOT_ENOUGH_REPLICAS, which the
		// leader answers only with the ISR below min.insync.replicas.
		// (Asking metadata for the ISR could wait on a frozen broker.)
		fenced bool
	}{
		{"thawed before the controller fences them", false},
		{"fenced and out of the ISR then thawed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, topic, p, s, log, leader, followers := frozenScene(t)

			thawAll := c.freezeNodes(t, followers)
			frozen := time.Now()
			faults := []string{fmt.Sprintf("freeze %v, led by %d", followers, leader)}
			s.await("the producer's requests to the leader time out", func(collect *assert.CollectT) {
				assert.Positive(collect, timedOut(log), "requests timed out %s", s.progress())
			})
			appended := c.awaitUnreplicated(t, s, leader, topic)
			if tc.fenced {
				s.await("the producer meets NOT_ENOUGH_REPLICAS", func(collect *assert.CollectT) {
					assert.Positive(collect, log.count(kerr.NotEnoughReplicas), "retries after NOT_ENOUGH_REPLICAS %s", s.progress())
				})
				faults = append(faults, fmt.Sprintf("fenced %v", followers))
			}
			thawAll()
			faults = append(faults, fmt.Sprintf("thaw %v", followers))
			t.Logf("followers %v thawed after %v; %d records were appended and unanswered at one look", followers,
				time.Since(frozen).Round(time.Millisecond), appended)
			c.awaitFullISR(t, topic)
			waiting := s.produced.Load() - s.acked.Load() - s.failed.Load()
			s.awaitAcked(s.acked.Load()+waiting+2000, "the records that waited, and more, are acknowledged")

			recs, outs := s.finish(finishWithin)
			requireAllAcked(t, outs)
			logRetries(t, log)
			checkStream(t, c, p, topic, recs, outs, scenario{faults: faults, partitionsAt: fixedPartitions(clusterPartitions)})
		})
	}
}
