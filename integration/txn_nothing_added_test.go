package integration

// The end of a transactions v1 transaction that nothing was added to at
// the coordinator, and the errors of the records refused so, against the
// embedded broker.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	fkerr "github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// With transactions v1 the coordinator has a transaction once a partition
// or a group was added to it. When every AddPartitionsToTxn was refused,
// or the only AddOffsetsToTxn never left (its ctx had ended), it has none,
// and answers an abort's EndTxn INVALID_TXN_STATE after a commit (Kafka in
// any state but Ongoing; kfake once the last transaction committed): the
// abort fenced the producer (ErrTransactionFatal), where the Java client
// sends no EndTxn and goes on. Now the abort sends none either; and when
// the only AddOffsetsToTxn went unanswered (written, the connection then
// closed), the abort's EndTxn answered INVALID_TXN_STATE says it never
// landed, and the producer goes on too.
func TestTxnV1AbortOfATransactionNothingWasAddedTo(t *testing.T) {
	const topic = "t"
	offsets := []producer.Offset{{Topic: topic, Partition: 0, Offset: 1, LeaderEpoch: -1}}
	ways := map[string]struct {
		addNothing func(t *testing.T, c *embedded.Cluster, p *producer.Producer, group producer.GroupMetadata)
		endTxns    int // the abort sends
	}{
		"partitions refused": {endTxns: 0, addNothing: func(t *testing.T, c *embedded.Cluster, p *producer.Producer, _ producer.GroupMetadata) {
			c.Kfake().ControlKey(int16(kmsg.AddPartitionsToTxn), refuseAddPartitions(fkerr.TopicAuthorizationFailed.Code))
			_, err := p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("refused")})
			require.ErrorIs(t, err, producer.ErrTransactionAbortable)
		}},
		"offsets never sent": {endTxns: 0, addNothing: func(t *testing.T, _ *embedded.Cluster, p *producer.Producer, group producer.GroupMetadata) {
			ended, cancel := context.WithCancel(testCtx(t))
			cancel()
			require.ErrorIs(t, p.SendOffsetsToTransaction(ended, offsets, group), context.Canceled)
		}},
		"offsets unanswered": {endTxns: 1, addNothing: func(t *testing.T, c *embedded.Cluster, p *producer.Producer, group producer.GroupMetadata) {
			ctx, cancel := context.WithCancel(testCtx(t))
			defer cancel()
			// The request is read, then dropped with its connection, its
			// ctx ended so that it is not tried again.
			c.Kfake().ControlKey(int16(kmsg.AddOffsetsToTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
				cancel()
				return nil, errors.New("dropped unanswered"), true
			})
			require.ErrorIs(t, p.SendOffsetsToTransaction(ctx, offsets, group), context.Canceled)
		}},
	}
	for how, way := range ways {
		t.Run(how, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			proto := txnProtocols[0]
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "nothing"), proto, nil)
			group := producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1}

			// The last transaction committed: the coordinator refuses an
			// abort of none after it.
			require.NoError(t, p.BeginTransaction())
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("first")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)))

			require.NoError(t, p.BeginTransaction())
			way.addNothing(t, c, p, group)
			var endTxns atomic.Int32
			c.Kfake().ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
				endTxns.Add(1)
				return nil, nil, false // counted only: the cluster answers
			})
			require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
			require.Equal(t, int32(way.endTxns), endTxns.Load(), "EndTxn sent by the abort; log:\n%s", log)

			require.NoError(t, p.BeginTransaction(), "the next transaction")
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("second")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "log:\n%s", log)
			readCommitted(t, seeds, topic, 2)
		})
	}
}

// refuseAddPartitions answers the next AddPartitionsToTxn with code for
// each of its partitions.
func refuseAddPartitions(code int16) func(kmsg.Request) (kmsg.Response, error, bool) {
	return func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.AddPartitionsToTxnRequest)
		resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, partition := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition = partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	}
}

// A record whose partition AddPartitionsToTxn refused names the partition
// once: its error's own prefix names it, and the transaction's cause it
// quotes no longer does ("producer: topic "t" partition 0: ...
// AddPartitionsToTxn: t-0: ..." before). The transaction's later calls
// still say which partition failed.
func TestTxnV1ARecordWhosePartitionWasRefusedNamesItOnce(t *testing.T) {
	c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	seeds := c.Addrs()
	proto := txnProtocols[0]
	setTransactionVersion(t, seeds, proto.level)
	p, log := newTxnProducer(t, seeds, txnID(t, "named"), proto, nil)
	c.Kfake().ControlKey(int16(kmsg.AddPartitionsToTxn), refuseAddPartitions(fkerr.TopicAuthorizationFailed.Code))

	require.NoError(t, p.BeginTransaction())
	_, err := p.Send(testCtx(t), &producer.Record{Topic: "t", Value: []byte("refused")})
	require.EqualError(t, err, `producer: topic "t" partition 0: adding partitions to the transaction: the transaction must be aborted: `+
		"AddPartitionsToTxn: TOPIC_AUTHORIZATION_FAILED: Topic authorization failed.", "log:\n%s", log)
	require.ErrorIs(t, err, producer.ErrTransactionAbortable)
	require.ErrorIs(t, err, kerr.TopicAuthorizationFailed)
	var pe *producer.PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, int32(0), pe.Partition)
	requireNamesPartitionOnce(t, err, "t", 0)
	require.ErrorContains(t, p.CommitTransaction(testCtx(t)), "AddPartitionsToTxn: t-0: TOPIC_AUTHORIZATION_FAILED")
	require.NoError(t, p.AbortTransaction(testCtx(t)))
}
