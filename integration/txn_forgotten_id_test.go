package integration

// A transaction coordinator that no longer knows the transactional id,
// against the embedded broker.

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// The coordinator answers the commit INVALID_PRODUCER_ID_MAPPING, as
// Kafka does once the transactional id expired (idle for
// transactional.id.expiration.ms, perhaps after another instance took it
// over). The producer stops (ErrTransactionFatal), saying to create a new
// one, and asks for no new producer id, as the Java client since Kafka 4.0
// (KAFKA-18019): one would fence an instance that took the id over, and
// this one would repeat work that one already did. It used to abort and
// go on under a new id.
func TestTxnCoordinatorForgettingTheTransactionalIDStopsTheProducer(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c, p, log := inATransactionTheCoordinatorForgot(t, proto, "forgotten")
			var inits atomic.Int32
			c.Kfake().ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
				inits.Add(1)
				return nil, nil, false // counted only: the cluster answers
			})

			err := p.CommitTransaction(testCtx(t))
			requireFatal(t, err, "CommitTransaction")
			require.ErrorIs(t, err, kerr.InvalidProducerIDMapping)
			require.ErrorContains(t, err, "create a new producer", "log:\n%s", log)
			requireFatal(t, p.AbortTransaction(testCtx(t)), "AbortTransaction")
			requireFatal(t, p.BeginTransaction(), "BeginTransaction")
			require.Zero(t, inits.Load(), "no new producer id; log:\n%s", log)
		})
	}
}

// Close whose abort of the open transaction fails says so: here the
// coordinator answers the abort's EndTxn INVALID_PRODUCER_ID_MAPPING. A
// Close returning nil would tell the user the transaction was aborted,
// where it may be left open until the coordinator times it out, holding
// up every read_committed consumer of its partitions meanwhile.
func TestTxnCloseWhoseAbortFailsSaysSo(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			_, p, log := inATransactionTheCoordinatorForgot(t, proto, "close-abort")
			err := p.Close(testCtx(t))
			require.ErrorIs(t, err, kerr.InvalidProducerIDMapping, "Close; log:\n%s", log)
			require.ErrorContains(t, err, "aborting the transaction")
		})
	}
}

// inATransactionTheCoordinatorForgot returns a transactional producer
// under proto, named after name, with a transaction open and a record in
// it acknowledged, whose coordinator now answers every EndTxn
// INVALID_PRODUCER_ID_MAPPING; and the cluster and the producer's log.
func inATransactionTheCoordinatorForgot(t *testing.T, proto txnProtocol, name string) (*embedded.Cluster, *producer.Producer, *txnLog) {
	t.Helper()
	const topic = "t"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
	seeds := c.Addrs()
	setTransactionVersion(t, seeds, proto.level)
	p, log := newTxnProducer(t, seeds, txnID(t, name), proto, nil)

	require.NoError(t, p.BeginTransaction())
	requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("v")}}))
	c.Kfake().ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.(*kmsg.EndTxnRequest).ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.InvalidProducerIDMapping.Code
		return resp, nil, true
	})
	return c, p, log
}
