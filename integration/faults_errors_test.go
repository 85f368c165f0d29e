package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	fkerr "github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// Errors the broker answers a produce request with that an idempotent
// producer retries, each failing three requests in a row while several
// batches of each partition are in flight: every record must be delivered
// once, in its key's order. Only REQUEST_TIMED_OUT is answered after the
// broker wrote the records (as a real broker does when replication outlasts
// the request's timeout): without idempotence its retry writes them twice,
// with it the retry carries the same sequence numbers and the broker answers
// it as a duplicate. OUT_OF_ORDER_SEQUENCE_NUMBER and UNKNOWN_PRODUCER_ID are
// not retriable in Kafka's table, but an idempotent producer recovers from
// them (KIP-360: a new epoch, sequences from zero) without failing a record
// that the broker did not write.
func TestFaultsRetriableErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		code int16
	}{
		{"NOT_LEADER_OR_FOLLOWER", kerr.NotLeaderOrFollower.Code},
		{"REQUEST_TIMED_OUT", kerr.RequestTimedOut.Code},
		{"NOT_ENOUGH_REPLICAS", kerr.NotEnoughReplicas.Code},
		{"OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.OutOfOrderSequenceNumber.Code},
		{"UNKNOWN_PRODUCER_ID", kerr.UnknownProducerID.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const topic, partitions, failures = "retriable", 3, 3
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: partitions}})
			seeds := c.Addrs()
			p := newProducer(t, seeds, func(cfg *producer.Config) {
				fastRetries(cfg)
				smallBatches(cfg)
			})

			f := c.FailNextProduce(failures, tc.code)
			recs := recordsFor(topic, 300, keyOwnedBy(1, 30))
			outs := produceAll(t, p, recs)
			waitFault(t, f, tc.name)
			requireAllAcked(t, outs)
			assert.GreaterOrEqual(t, p.Stats().Retries, int64(failures), "every failed request is retried")

			d := checkDelivery(t, seeds, topic, recs, outs)
			d.requireNoDuplicates(t, "an idempotent producer's retry of a written batch is answered as a duplicate")
			d.requireKeyOrder(t)
		})
	}
}

// A leader takes any first sequence from a producer it has no state for
// (Kafka 4.3 does, new partition or not; kfake on a partition that already
// holds records, hence record 0 below). Were a second request of the
// partition in flight while the first was refused with
// NOT_LEADER_OR_FOLLOWER, the second batch would be written ahead of the
// first, whose retry the broker then refuses as out of order. The
// 3-broker cluster did so for new topics whose leaders were still being
// settled. The producer keeps one request of a partition in flight until
// its broker has acknowledged one.
func TestFaultsFirstRequestRefusedKeepsOrder(t *testing.T) {
	const topic = "first-refused"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
	seeds := c.Addrs()
	recs := recordsFor(topic, 40, func(int) []byte { return []byte("one key") })
	outs := make([]outcome, len(recs))

	// Record 0 comes from another producer: the partition holds records,
	// and none of the producer under test.
	md, err := newProducer(t, seeds, nil).Send(testCtx(t), recs[0])
	require.NoError(t, err)
	outs[0] = outcome{md: md, calls: 1}

	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		smallBatches(cfg)
	})
	// The first request is held, which gives the producer time to send
	// more behind it, then refused.
	held := c.DelayNextProduce(1, 200*time.Millisecond)
	refused := c.FailNextProduce(1, kerr.NotLeaderOrFollower.Code)
	copy(outs[1:], produceAll(t, p, recs[1:]))
	waitFault(t, held, "holding the first request")
	waitFault(t, refused, "refusing the first request")
	requireAllAcked(t, outs)

	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "an idempotent producer writes each record once")
	d.requireKeyOrder(t)
}

// A non-retriable error fails exactly the records of the batches it answers,
// at once and without retries; the records around them are delivered, and
// the producer keeps working.
func TestFaultsNonRetriable(t *testing.T) {
	const topic, partitions = "denied", 3
	for _, tc := range []struct {
		name string
		// fault fails the first produce request, or part of it.
		fault func(c *embedded.Cluster) (hits func() int)
		// denied says whether records of a partition fail.
		denied func(partition int32) bool
	}{
		{
			name: "whole request",
			fault: func(c *embedded.Cluster) func() int {
				return c.FailNextProduce(1, kerr.TopicAuthorizationFailed.Code).Hits
			},
			denied: func(int32) bool { return true },
		},
		{
			name: "one partition of the request",
			fault: func(c *embedded.Cluster) func() int {
				return c.Kfake().Fault(kfake.Fault{
					Keys:       []kmsg.Key{kmsg.Produce},
					Topic:      topic,
					Partitions: []int32{1},
					Err:        fkerr.TopicAuthorizationFailed,
					Count:      1,
				}).Hits
			},
			denied: func(p int32) bool { return p == 1 },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: partitions}})
			seeds := c.Addrs()
			// Batches wait for Flush, so each wave is one request.
			p := newProducer(t, seeds, func(cfg *producer.Config) {
				fastRetries(cfg)
				cfg.Linger = time.Minute
				cfg.DeliveryTimeout = 2 * time.Minute
			})
			recs := recordsFor(topic, 60, nil)
			for i, r := range recs {
				r.Partition, r.ExplicitPartition = int32(i%partitions), true
			}
			hits := tc.fault(c)

			// Wave one meets the fault, wave two does not.
			o := newOutcomes(len(recs))
			ctx := testCtx(t)
			flushWave := func(from, to int) {
				for i := from; i < to; i++ {
					p.Produce(ctx, recs[i], o.callback(i))
				}
				require.NoError(t, p.Flush(ctx))
			}
			flushWave(0, 30)
			require.Equal(t, 1, hits(), "the fault answers the first request")
			flushWave(30, 60)
			outs := o.wait(t)

			for i, out := range outs {
				want := recs[i].Partition
				if i >= 30 || !tc.denied(want) {
					assert.NoError(t, out.err, "record %d (partition %d) is not in a denied batch", i, want)
					continue
				}
				if assert.Error(t, out.err, "record %d (partition %d) is in a denied batch", i, want) {
					assert.ErrorIs(t, out.err, kerr.TopicAuthorizationFailed, "record %d", i)
					var pe *producer.PartitionError
					if assert.ErrorAs(t, out.err, &pe, "record %d", i) {
						assert.Equal(t, topic, pe.Topic, "record %d: error's topic", i)
						assert.Equal(t, want, pe.Partition, "record %d: error's partition", i)
					}
				}
			}
			assert.Zero(t, p.Stats().Retries, "a non-retriable error is not retried")

			d := checkDelivery(t, seeds, topic, recs, outs)
			d.requireNoDuplicates(t, "nothing was retried")
		})
	}
}
