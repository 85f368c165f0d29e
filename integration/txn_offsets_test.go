package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
)

// A SendOffsetsToTransaction that fails (here its ctx ended before it
// began) may have left the group's offsets out of the transaction:
// CommitTransaction refuses with ErrTransactionState rather than commit
// the records without them, which a consumer restarted would read the
// input of again. The same offsets sent again let it commit, records and
// offsets together.
func TestTxnCommitAfterSendOffsetsFailedWaitsForThem(t *testing.T) {
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, ctpPartitions)
		group := producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1}
		offsets := []producer.Offset{{Topic: topic, Partition: 0, Offset: 7, LeaderEpoch: -1}}
		p, _ := newTxnProducer(t, seeds, txnID(t, "offsets"), proto, nil)
		ctx := testCtx(t)
		require.NoError(t, p.BeginTransaction())
		_, err := p.Send(ctx, recordFor(topic, 1, nil))
		require.NoError(t, err)

		ended, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, p.SendOffsetsToTransaction(ended, offsets, group), context.Canceled)
		require.ErrorIs(t, p.CommitTransaction(ctx), producer.ErrTransactionState, "a commit without the offsets")

		require.NoError(t, p.SendOffsetsToTransaction(ctx, offsets, group), "the same offsets again")
		require.NoError(t, p.CommitTransaction(ctx))
		readCommitted(t, seeds, topic, 1)
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
		require.NoError(t, err)
		defer cl.Close()
		// The coordinator answers the commit before the group's offsets
		// take its marker, which the records may take first: until then a
		// stable OffsetFetch answers UNSTABLE_OFFSET_COMMIT.
		var stableErr error
		require.Eventually(t, func() bool {
			stable, err := ctpCaughtUp(ctx, cl, group.ID, topic, map[int32]int64{0: 7})
			stableErr = err
			return stable || err != nil
		}, testTimeout, 50*time.Millisecond, "the group's offsets, stable once the commit's markers are written")
		require.NoError(t, stableErr)
		got, err := ctpCommitted(ctx, cl, group.ID, topic)
		require.NoError(t, err)
		require.Equal(t, int64(7), got[0], "the group's offset committed with the records")
	})
}
