package integration

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// A transaction call whose ctx ends with a cause of its own while its
// request is at the coordinator fails with an error that matches the
// ctx's error (context.Canceled: ErrorName's CANCELED) and the cause, as
// every call whose ctx ends does. Before, it failed with the connection's
// account of the request, which named the cause alone.
func TestTxnCallWhoseCtxEndsWithACauseDuringItsRequestSaysBoth(t *testing.T) {
	shuttingDown := errors.New("shutting down")
	for _, api := range []kmsg.Key{kmsg.AddOffsetsToTxn, kmsg.EndTxn} {
		t.Run(api.Name(), func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			seeds := c.Addrs()
			proto := txnProtocols[0]
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "cause"), proto, nil)
			require.NoError(t, p.BeginTransaction())
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: "t", Value: []byte("v")}}))

			ctx, cancel := context.WithCancelCause(testCtx(t))
			defer cancel(nil)
			held := make(chan struct{})
			var release sync.Once
			t.Cleanup(func() { release.Do(func() { close(held) }) }) // before the cluster closes
			c.Kfake().ControlKey(int16(api), func(kmsg.Request) (kmsg.Response, error, bool) {
				cancel(shuttingDown) // while the request is at the coordinator
				<-held
				return nil, nil, false
			})
			var err error
			if api == kmsg.EndTxn {
				err = p.AbortTransaction(ctx)
			} else {
				group := producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1}
				err = p.SendOffsetsToTransaction(ctx, []producer.Offset{{Topic: "t", Partition: 0, Offset: 1, LeaderEpoch: -1}}, group)
			}
			release.Do(func() { close(held) })
			require.ErrorIs(t, err, context.Canceled, "log:\n%s", log)
			require.ErrorIs(t, err, shuttingDown)
			require.Equal(t, "CANCELED", producer.ErrorName(err))
		})
	}
}
