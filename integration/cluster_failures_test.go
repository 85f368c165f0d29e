package integration

// The failures that only a real replicated cluster has, against three
// Apache Kafka brokers (kafka/broker.sh start --nodes 3: replication factor
// 3, min.insync.replicas 2, no unclean leader election). Each test streams
// keyed records with the producer's defaults (acks=all) while it kills,
// stops and restarts brokers, then reads everything back with franz-go and
// checks it (checkStream). They skip unless KAFKA_BROKERS lists three
// brokers.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol/kerr"
)

// clusterPartitions is the partition count of the tests' topics: two led
// by each broker, as the controller spreads them.
const clusterPartitions = 6

// finishWithin bounds the wait for a stream's last outcomes: the default
// DeliveryTimeout, and a margin.
const finishWithin = producer.DefaultDeliveryTimeout + 30*time.Second

// A leader is killed (SIGKILL, no clean shutdown) while records are in
// flight to it, and started again later. The controller fences it after
// broker.session.timeout.ms and moves its partitions to the other replicas
// in sync; the producer must follow them and lose nothing it acknowledged.
func TestClusterKillLeader(t *testing.T) {
	c := clusterFor(t)
	topic, p, s := c.stream(t, clusterPartitions, nil)

	s.awaitAcked(4000, "records flow")
	victim := c.leaderOf(t, topic, 0)
	led := c.ledBy(t, topic, victim)
	before := s.ackedOnAll(led)
	c.kill(t, victim)
	s.awaitAckedOn(led, before+2000, fmt.Sprintf("records are acknowledged again on partitions %v, led by broker %d before it was killed", led, victim))
	c.startNode(t, victim)
	s.awaitAcked(s.acked.Load()+4000, "records flow after the restart")

	recs, outs := s.finish(finishWithin)
	requireAllAcked(t, outs)
	checkStream(t, c, p, topic, recs, outs, scenario{
		faults:       []string{fmt.Sprintf("kill %d", victim), fmt.Sprintf("start-node %d", victim)},
		partitionsAt: fixedPartitions(clusterPartitions),
	})
}

// Every broker is shut down cleanly and started again, one after the other,
// while records flow; before the next broker goes, every partition is
// replicated in full again, as an operator's rolling restart waits. The
// leaderships of each broker move at its shutdown, and again at a later
// broker's.
func TestClusterRollingRestart(t *testing.T) {
	c := clusterFor(t)
	topic, p, s := c.stream(t, clusterPartitions, nil)

	s.awaitAcked(4000, "records flow")
	var faults []string
	for _, id := range c.ids {
		led := c.ledBy(t, topic, id)
		if len(led) == 0 { // its leaderships moved at an earlier restart
			led = allPartitions(clusterPartitions)
		}
		before := s.ackedOnAll(led)
		c.stopNode(t, id)
		s.awaitAckedOn(led, before+1000, fmt.Sprintf("records are acknowledged on partitions %v after broker %d shut down", led, id))
		c.startNode(t, id)
		c.awaitFullISR(t, topic)
		faults = append(faults, fmt.Sprintf("stop-node %d", id), fmt.Sprintf("start-node %d", id))
	}
	s.awaitAcked(s.acked.Load()+4000, "records flow after the restarts")

	recs, outs := s.finish(finishWithin)
	requireAllAcked(t, outs)
	checkStream(t, c, p, topic, recs, outs, scenario{faults: faults, partitionsAt: fixedPartitions(clusterPartitions)})
}

// Two of three brokers go down, so the one left is the only replica in
// sync, below min.insync.replicas=2: it refuses acks=all writes with
// NOT_ENOUGH_REPLICAS, which is retriable. The records wait, and are
// written once a broker returns within DeliveryTimeout; when none does,
// they fail with ErrDeliveryTimeout and are not written.
func TestClusterNotEnoughReplicas(t *testing.T) {
	t.Run("a broker returns within DeliveryTimeout", func(t *testing.T) {
		c := clusterFor(t)
		var log errorLog
		topic, p, s := c.stream(t, clusterPartitions, func(cfg *producer.Config) { cfg.Logger = log.logger() })

		s.awaitAcked(4000, "records flow")
		down := c.ids[:2]
		for _, id := range down {
			c.stopNode(t, id)
		}
		s.await("the producer meets NOT_ENOUGH_REPLICAS", func(collect *assert.CollectT) {
			assert.Positive(collect, log.count(kerr.NotEnoughReplicas), "retries after NOT_ENOUGH_REPLICAS %s", s.progress())
		})
		waiting := s.produced.Load() - s.acked.Load() - s.failed.Load()
		c.startNode(t, down[0])
		s.awaitAcked(s.acked.Load()+waiting+2000, "the records that waited, and more, are acknowledged")

		recs, outs := s.finish(finishWithin)
		requireAllAcked(t, outs)
		t.Logf("%d records waited for a second replica in sync; %d retries after NOT_ENOUGH_REPLICAS",
			waiting, log.count(kerr.NotEnoughReplicas))
		checkStream(t, c, p, topic, recs, outs, scenario{
			faults:       []string{fmt.Sprintf("stop-node %d", down[0]), fmt.Sprintf("stop-node %d", down[1]), fmt.Sprintf("start-node %d", down[0])},
			partitionsAt: fixedPartitions(clusterPartitions),
		})
	})

	t.Run("no broker returns", func(t *testing.T) {
		c := clusterFor(t)
		var log errorLog
		// Short timeouts, so that the records fail within the test; the
		// rest is the default.
		const deliveryTimeout = 15 * time.Second
		topic, p, s := c.stream(t, clusterPartitions, func(cfg *producer.Config) {
			cfg.Logger = log.logger()
			cfg.RequestTimeout = 5 * time.Second
			cfg.DeliveryTimeout = deliveryTimeout
		})

		s.awaitAcked(4000, "records flow")
		down := c.ids[:2]
		for _, id := range down {
			c.stopNode(t, id)
		}
		s.await("the producer meets NOT_ENOUGH_REPLICAS", func(collect *assert.CollectT) {
			assert.Positive(collect, log.count(kerr.NotEnoughReplicas), "retries after NOT_ENOUGH_REPLICAS %s", s.progress())
		})
		// Every record produced from here on meets a single replica in sync.
		doomed := int(s.produced.Load())
		s.awaitProduced(int64(doomed)+2000, "more records are produced")
		recs, outs := s.finish(deliveryTimeout + 30*time.Second)

		// A clear error: a delivery timeout that names the topic, the
		// partition and its cause: the broker's refusal (its last error),
		// or, for a batch in flight when it expired, the request that went
		// unanswered, which may have been written (ErrMaybeWritten).
		var notFailed, unclear []string
		naming := 0
		for i := doomed; i < len(outs); i++ {
			err := outs[i].err
			if err == nil {
				notFailed = append(notFailed, fmt.Sprintf("record %d acknowledged at %d@%d", i, outs[i].md.Partition, outs[i].md.Offset))
				continue
			}
			var pe *producer.PartitionError
			namesCause := strings.Contains(err.Error(), "last error") || errors.Is(err, producer.ErrMaybeWritten)
			if !errors.Is(err, producer.ErrDeliveryTimeout) || !errors.As(err, &pe) || pe.Topic != topic || pe.Partition < 0 || !namesCause {
				unclear = append(unclear, fmt.Sprintf("record %d: %v", i, err))
			}
			if errors.Is(err, kerr.NotEnoughReplicas) {
				naming++
			}
		}
		require.Empty(t, firstFew(notFailed), "records acknowledged with one replica in sync of min.insync.replicas=2")
		assert.Empty(t, firstFew(unclear), "%d of %d errors are not a delivery timeout naming the topic, the partition and the cause", len(unclear), len(outs)-doomed)
		t.Logf("records %d to %d failed as they should; %d of their errors name NOT_ENOUGH_REPLICAS; e.g.: %v",
			doomed, len(outs)-1, naming, outs[len(outs)-1].err)
		t.Logf("retried after: NOT_ENOUGH_REPLICAS %d times, NOT_ENOUGH_REPLICAS_AFTER_APPEND %d, REQUEST_TIMED_OUT %d, NOT_LEADER_OR_FOLLOWER %d, no answer within RequestTimeout %d",
			log.count(kerr.NotEnoughReplicas), log.count(kerr.NotEnoughReplicasAfterAppend), log.count(kerr.RequestTimedOut),
			log.count(kerr.NotLeaderOrFollower), log.count(conn.ErrRequestTimeout))

		// A leader left alone below min.insync.replicas does not advance
		// its high watermark (Kafka 4's strict min ISR rule, KIP-966), so
		// acknowledged records it had not yet seen committed as a
		// follower cannot be read until a replica returns.
		for _, id := range down {
			c.startNode(t, id)
		}
		c.awaitFullISR(t, topic)
		checkStream(t, c, p, topic, recs, outs, scenario{
			faults:       []string{fmt.Sprintf("stop-node %d", down[0]), fmt.Sprintf("stop-node %d", down[1])},
			partitionsAt: fixedPartitions(clusterPartitions),
			// A leader appends a batch, then waits for the replicas in
			// sync. When the ISR shrinks to the leader alone meanwhile,
			// the answer is NOT_ENOUGH_REPLICAS_AFTER_APPEND or, when the
			// wait outlasts RequestTimeout, none at all; when the
			// leadership moves away from a broker stopping, it is
			// NOT_LEADER_OR_FOLLOWER with the append's offset. Every
			// retry is refused with NOT_ENOUGH_REPLICAS until
			// DeliveryTimeout, so the batch fails although it is in the
			// log, where it is committed once a replica returns.
			// Idempotence does not change that (the broker checks the ISR
			// before it looks for a duplicate), but the failure says the
			// record may have been written (checkDelivery holds it to
			// that).
			failedMayBeWritten: "appended while the ISR shrank, unanswered, NOT_ENOUGH_REPLICAS_AFTER_APPEND or NOT_LEADER_OR_FOLLOWER after the append, then refused until DeliveryTimeout",
		})
	})
}

// Partitions are added to a topic while records flow to it. Once the
// producer's metadata has them, keyed records go to their key's partition
// among all of them, as the Java client's do. MetadataMaxAge is shortened
// so that the periodic refresh finds them within the test; nothing else
// would tell the producer.
func TestClusterPartitionsAdded(t *testing.T) {
	const from, to = 3, 6
	c := clusterFor(t)
	topic, p, s := c.stream(t, from, func(cfg *producer.Config) { cfg.MetadataMaxAge = time.Second })

	s.awaitAcked(4000, "records flow")
	c.addPartitions(t, topic, to)
	s.awaitAckedOn([]int32{3, 4, 5}, 2000, "records are acknowledged on the new partitions")
	s.awaitAcked(s.acked.Load()+2000, "records flow")

	recs, outs := s.finish(finishWithin)
	requireAllAcked(t, outs)
	// One goroutine produces, and a producer's metadata only grows, so the
	// records before some index saw 3 partitions and those after it 6: the
	// first record on a partition that only 6 partitions give its key.
	grown := len(outs)
	for i, o := range outs {
		k := recs[i].Key
		if o.err == nil && o.md.Partition == partitioner.KeyPartition(k, to) && o.md.Partition != partitioner.KeyPartition(k, from) {
			grown = i
			break
		}
	}
	t.Logf("records 0 to %d saw %d partitions, the rest %d", grown-1, from, to)
	checkStream(t, c, p, topic, recs, outs, scenario{
		faults: []string{fmt.Sprintf("partitions %d to %d", from, to)},
		partitionsAt: func(i int) int32 {
			if i < grown {
				return from
			}
			return to
		},
	})
}

// A killed leader never comes back: its partitions move to the two other
// replicas, which still satisfy min.insync.replicas=2, and everything is
// written there.
func TestClusterNodeNeverReturns(t *testing.T) {
	c := clusterFor(t)
	topic, p, s := c.stream(t, clusterPartitions, nil)

	s.awaitAcked(4000, "records flow")
	victim := c.leaderOf(t, topic, 0)
	led := c.ledBy(t, topic, victim)
	before := s.ackedOnAll(led)
	c.kill(t, victim)
	c.awaitLeadersOff(t, topic, victim)
	s.awaitAckedOn(led, before+4000, fmt.Sprintf("records are acknowledged on partitions %v, led by broker %d before it died", led, victim))
	s.awaitAcked(s.acked.Load()+4000, "records flow without it")

	recs, outs := s.finish(finishWithin)
	requireAllAcked(t, outs)
	checkStream(t, c, p, topic, recs, outs, scenario{faults: []string{fmt.Sprintf("kill %d", victim)}, partitionsAt: fixedPartitions(clusterPartitions)})
}

// allPartitions lists partitions 0 to n-1.
func allPartitions(n int32) []int32 {
	ps := make([]int32, n)
	for i := range ps {
		ps[i] = int32(i)
	}
	return ps
}
