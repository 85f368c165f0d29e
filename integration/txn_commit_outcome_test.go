package integration

// A commit whose ctx ends while its EndTxn is at the coordinator, against
// the embedded broker holding that EndTxn's answer.

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// The coordinator may have committed a transaction whose commit's answer
// never came back, and then answers an abort INVALID_TXN_STATE: the abort
// fenced the producer, and read_committed consumers saw the records of the
// transaction it was meant to abort. AbortTransaction now refuses such a
// transaction at once (ErrTransactionState), sending nothing, and
// CommitTransaction called again learns that it committed; the producer
// goes on to its next transaction, with v2's next epoch.
func TestTxnAbortAfterACommitWhoseCtxEndedIsRefused(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "t"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "commit"), proto, nil)
			require.NoError(t, p.BeginTransaction())
			first := []*producer.Record{{Topic: topic, Value: []byte("first")}}
			requireAllAcked(t, produceAll(t, p, first))

			// The first EndTxn waits at the coordinator until released.
			held, releaseEndTxn := c.HoldNext(int16(kmsg.EndTxn))
			t.Cleanup(releaseEndTxn) // before the cluster closes

			ctx, cancel := context.WithCancel(t.Context())
			committed := make(chan error, 1)
			go func() { committed <- p.CommitTransaction(ctx) }()
			require.NoError(t, held.Wait(testCtx(t)), "the commit's EndTxn at the coordinator")
			cancel()
			err := receive(t, committed, "CommitTransaction did not return after its ctx ended")
			require.ErrorIs(t, err, context.Canceled, "log:\n%s", log)
			require.ErrorContains(t, err, "outcome is unknown: call CommitTransaction again")
			releaseEndTxn()

			callWithin(t, "AbortTransaction after the commit was sent", producer.ErrTransactionState, p.AbortTransaction)
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the commit again; log:\n%s", log)
			readCommitted(t, seeds, topic, 1)

			require.NoError(t, p.BeginTransaction(), "the next transaction")
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("second")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
			readCommitted(t, seeds, topic, 2)
		})
	}
}
