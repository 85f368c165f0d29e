package integration

// What a transactional producer's Close whose ctx ended says, against the
// embedded broker.

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// A Close whose ctx ends while a record's callback is still running fails
// both its flush and the abort it began with, whose flush waited for that
// callback too: its error says both, the flush's words first as before, so
// that a caller learns the transaction was not aborted (it stays open at
// the coordinator, holding back consumers reading committed records,
// until the coordinator times it out). Before, only the flush was told.
func TestTxnCloseThatFailsItsFlushAndItsAbortSaysBoth(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "slow"), proto, nil)
			require.NoError(t, p.BeginTransaction())
			running, release := make(chan struct{}), make(chan struct{})
			p.Produce(testCtx(t), &producer.Record{Topic: "t", Value: []byte("v")}, func(producer.RecordMetadata, error) {
				close(running)
				<-release
			})
			defer close(release)
			receive(t, running, "the record's callback did not run")

			ended, cancel := context.WithCancel(context.Background())
			cancel()
			err := p.Close(ended)
			require.ErrorIs(t, err, context.Canceled, "log:\n%s", log)
			require.True(t, strings.HasPrefix(err.Error(), "producer: close: flush: "), "Close's error begins with its flush's: %v", err)
			require.ErrorContains(t, err, "aborting the transaction under way", "Close's error says the abort failed")
		})
	}
}
