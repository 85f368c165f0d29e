package integration

// A Produce answer that stops the producer arriving while AbortTransaction
// waits for the transaction's records, against the embedded broker.

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// The first Produce answer, held until AbortTransaction has begun, is
// INVALID_PRODUCER_ID_MAPPING or CLUSTER_AUTHORIZATION_FAILED, either of
// which stops the producer. The abort fails with ErrTransactionFatal and
// sends no EndTxn, and so does every later call; their errors, the
// record's and a later record's (named TRANSACTION_FATAL) match
// ErrProducerStopped too. Before, the abort went
// on: the coordinator answered its EndTxn well, AbortTransaction returned
// nil, BeginTransaction succeeded, and each record after was refused by
// the stopped sender, which only left the transaction to abort: code that
// aborts and retries, as the README says, looped for ever.
func TestTxnAProduceAnswerThatStopsTheProducerDuringTheAbortFailsIt(t *testing.T) {
	const topic = "t"
	for _, code := range []*kerr.Error{kerr.InvalidProducerIDMapping, kerr.ClusterAuthorizationFailed} {
		for _, proto := range txnProtocols {
			t.Run(code.Name+"/"+proto.name, func(t *testing.T) {
				c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
				seeds := c.Addrs()
				setTransactionVersion(t, seeds, proto.level)
				p, log := newTxnProducer(t, seeds, txnID(t, "stopped"), proto, func(cfg *producer.Config) {
					cfg.MaxBlock = time.Hour // the held record fails with the abort alone
				})
				arrived, release := make(chan struct{}), make(chan struct{})
				var answered atomic.Bool
				c.Kfake().ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
					if !answered.CompareAndSwap(false, true) {
						return nil, nil, false
					}
					close(arrived)
					c.Kfake().SleepControl(func() { <-release })
					return produceAnswer(req.(*kmsg.ProduceRequest), code), nil, true
				})
				var endTxns atomic.Int32
				c.Kfake().ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
					endTxns.Add(1)
					return nil, nil, false // counted only: the cluster answers
				})

				require.NoError(t, p.BeginTransaction())
				o := newOutcomes(1)
				p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("sent")}, o.callback(0))
				select {
				case <-arrived:
				case <-time.After(testTimeout):
					t.Fatalf("no Produce reached the broker; log:\n%s", log)
				}
				// A record held for a partition the topic does not have: the
				// abort fails it as it begins, which tells the test the abort
				// is under way before the Produce answer comes.
				held := &producer.Record{Topic: topic, Partition: 3, ExplicitPartition: true, Value: []byte("held")}
				heldFailed := make(chan error, 1)
				p.Produce(testCtx(t), held, func(_ producer.RecordMetadata, err error) { heldFailed <- err })
				aborted := make(chan error, 1)
				go func() { aborted <- p.AbortTransaction(testCtx(t)) }()
				select {
				case err := <-heldFailed:
					require.ErrorIs(t, err, producer.ErrTransactionAborted, "the held record")
				case <-time.After(testTimeout):
					t.Fatalf("the abort failed no held record; log:\n%s", log)
				}
				close(release)

				var err error
				select {
				case err = <-aborted:
				case <-time.After(testTimeout):
					t.Fatalf("AbortTransaction did not return; log:\n%s", log)
				}
				requireFatal(t, err, "AbortTransaction")
				require.ErrorIs(t, err, code, "log:\n%s", log)
				require.Zero(t, endTxns.Load(), "no EndTxn; log:\n%s", log)
				requireFatal(t, p.BeginTransaction(), "BeginTransaction")
				requireFatal(t, p.AbortTransaction(testCtx(t)), "AbortTransaction again")
				sent := o.wait(t)[0].err
				require.ErrorIs(t, sent, code, "the record sent")
				require.ErrorIs(t, sent, producer.ErrProducerStopped, "the record sent")
				require.ErrorIs(t, err, producer.ErrProducerStopped, "the abort's error keeps why")
				// A record after is refused as the transaction is: the
				// name a transactional producer's alerting already knows.
				after := newOutcomes(1)
				p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: []byte("after")}, after.callback(0))
				refused := after.wait(t)[0].err
				requireFatal(t, refused, "a record after")
				require.ErrorIs(t, refused, producer.ErrProducerStopped, "a record after")
				require.Equal(t, "TRANSACTION_FATAL", producer.ErrorName(refused), "a record after: %v", refused)
			})
		}
	}
}

// produceAnswer answers every partition of req with code.
func produceAnswer(req *kmsg.ProduceRequest, code *kerr.Error) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
