package embedded_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
)

// A producer-state error is answered per partition as a real broker answers
// it: with the partition's log start offset where this broker leads the
// partition, NOT_LEADER_OR_FOLLOWER where it does not, and nothing appended.
func TestFailNextProduceProducerState(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID} {
		t.Run(e.Message, func(t *testing.T) {
			c := start(t, embedded.Options{Brokers: 2, Topics: map[string]int32{"t": 2}})
			cl := newClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner())) // produce's records go to partition 0
			ctx := ctxT(t)
			require.NoError(t, c.MoveLeader("t", 0, 0))
			require.NoError(t, c.MoveLeader("t", 1, 1))

			// Records 0 and 1 deleted, so the log starts at 2, as after
			// retention removed the oldest records.
			for _, v := range []string{"a", "b", "c"} {
				require.NoError(t, produce(ctx, cl, "t", v))
			}
			del := kmsg.NewPtrDeleteRecordsRequest()
			dt := kmsg.NewDeleteRecordsRequestTopic()
			dt.Topic = "t"
			dp := kmsg.NewDeleteRecordsRequestTopicPartition()
			dp.Partition, dp.Offset = 0, 2
			dt.Partitions = append(dt.Partitions, dp)
			del.Topics = append(del.Topics, dt)
			deleted, err := del.RequestWith(ctx, cl)
			require.NoError(t, err)
			require.NoError(t, kerr.ErrorForCode(deleted.Topics[0].Partitions[0].ErrorCode), "deleting records")
			require.Equal(t, int64(2), c.Kfake().PartitionInfo("t", 0).LogStartOffset)

			f := c.FailNextProduce(1, e.Code)
			req := kmsg.NewPtrProduceRequest()
			req.Acks = -1
			req.TimeoutMillis = 1000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = "t", c.Kfake().TopicInfo("t").TopicID // whichever the version carries
			for p := range int32(2) {
				rp := kmsg.NewProduceRequestTopicPartition()
				rp.Partition = p
				rp.Records = []byte("not a batch: the fault answers before anything reads it")
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, cl.Broker(0))
			require.NoError(t, err)
			require.NoError(t, f.Wait(ctx))

			got := map[int32]kmsg.ProduceResponseTopicPartition{}
			require.Len(t, resp.Topics, 1)
			for _, p := range resp.Topics[0].Partitions {
				got[p.Partition] = p
			}
			require.Len(t, got, 2)
			assert.Equal(t, e.Code, got[0].ErrorCode, "the led partition gets the injected code")
			assert.Equal(t, int64(2), got[0].LogStartOffset, "with the partition's log start offset")
			assert.Equal(t, kerr.NotLeaderForPartition.Code, got[1].ErrorCode, "broker 0 does not lead partition 1")
			assert.Equal(t, int64(3), highWatermark(t, c, "t", 0), "nothing appended")
			assert.Equal(t, 1, f.Hits())

			// The broker's producer state was left as it was: an idempotent
			// producer that bumps its epoch or retries goes on, once.
			require.NoError(t, produce(ctx, cl, "t", "d"), "the fault fires only n times")
			assert.Equal(t, int64(4), highWatermark(t, c, "t", 0))
		})
	}
}

// kgo, idempotent, goes on through producer-state errors on the partition it
// is producing to, writing each record once: the faults can be survived.
func TestFailNextProduceProducerStateSurvivable(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.OutOfOrderSequenceNumber, kerr.UnknownProducerID} {
		t.Run(e.Message, func(t *testing.T) {
			c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			cl := newClient(t, c, kgo.ProducerLinger(0))
			ctx := ctxT(t)
			require.NoError(t, produce(ctx, cl, "t", "first"))
			f := c.FailNextProduce(2, e.Code)
			var recs []*kgo.Record
			for range 20 {
				recs = append(recs, &kgo.Record{Topic: "t", Value: []byte("v")})
			}
			require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
			require.NoError(t, f.Wait(ctx))
			assert.Equal(t, int64(21), highWatermark(t, c, "t", 0), "every record written once")
		})
	}
}

// A request with acks=0, which gets no answer to carry the error, passes a
// producer-state fault untouched and leaves it to the next request that gets
// one. A fault spent on it would answer what no client reads and append
// nothing, and the test injecting it would see no fault where it meant one.
func TestFailNextProduceProducerStatePassesAcksNone(t *testing.T) {
	c := start(t, embedded.Options{Topics: map[string]int32{"t": 1}})
	noAcks := newClient(t, c, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	cl := newClient(t, c)
	ctx := ctxT(t)
	require.NoError(t, produce(ctx, cl, "t", "warm up")) // connections and producer ID

	f := c.FailNextProduce(1, kerr.OutOfOrderSequenceNumber.Code)
	require.NoError(t, produce(ctx, noAcks, "t", "no acks"))
	// No answer comes: the record written, or the fault fired, says the
	// broker handled the request.
	require.Eventually(t, func() bool {
		return f.Hits() > 0 || c.Kfake().PartitionInfo("t", 0).HighWatermark == 2
	}, testTimeout, time.Millisecond, "the acks=0 request was never handled")
	assert.Zero(t, f.Hits(), "faults fired on the acks=0 request")
	assert.Equal(t, int64(2), highWatermark(t, c, "t", 0), "the acks=0 record is written")

	require.NoError(t, produce(ctx, cl, "t", "acked"), "kgo goes on after the fault")
	require.NoError(t, f.Wait(ctx), "the fault fires on the next request answered")
	assert.Equal(t, int64(3), highWatermark(t, c, "t", 0))
}
