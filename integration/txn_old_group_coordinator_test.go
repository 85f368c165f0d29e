package integration

// Offsets sent to a group coordinator older than Kafka 2.5, against the
// embedded broker with TxnOffsetCommit capped at v2.

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol"
)

// TxnOffsetCommit carries the consumer's group membership only from v3
// (KIP-447, Kafka 2.5). Offsets with a membership are refused before any
// TxnOffsetCommit goes, and the producer stops, as the Java client stops
// on their UnsupportedVersionException: sent at v2 they committed without
// the check that refuses a consumer the group rebalanced away, and left
// abortable every transaction met the same refusal. A new producer whose
// group has its ID alone commits at v2. Transactions v1 only: a cluster
// that old has no v2.
func TestTxnOffsetsWithAMembershipAnOldGroupCoordinatorCannotCheckStopTheProducer(t *testing.T) {
	c, proto := startOldGroupCoordinator(t)
	seeds := c.Addrs()
	topic := newTopic(t, seeds, ctpPartitions)
	id := txnID(t, "old-group-coordinator")
	p, log := newTxnProducer(t, seeds, id, proto, nil)

	var mu sync.Mutex
	var sent []int16 // the versions of the TxnOffsetCommit requests
	c.Kfake().ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		sent = append(sent, req.GetVersion())
		mu.Unlock()
		return nil, nil, false // seen only: the cluster answers
	})
	sentVersions := func() []int16 {
		mu.Lock()
		defer mu.Unlock()
		return append([]int16(nil), sent...)
	}
	ctx := testCtx(t)
	offsets := []producer.Offset{{Topic: topic, Partition: 0, Offset: 7, LeaderEpoch: -1}}

	require.NoError(t, p.BeginTransaction())
	requireAllAcked(t, produceAll(t, p, []*producer.Record{recordFor(topic, 1, nil)}))
	member := producer.GroupMetadata{ID: txnID(t, "group"), Generation: 7, MemberID: "member-1"}
	err := p.SendOffsetsToTransaction(ctx, offsets, member)
	require.ErrorIs(t, err, producer.ErrTransactionFatal, "offsets with a membership the coordinator cannot check, sent at v%v; log:\n%s", sentVersions(), log)
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.ErrorContains(t, err, "Kafka before 2.5")
	require.ErrorContains(t, err, "create a new producer and send the group's ID alone")
	require.Empty(t, sentVersions(), "no TxnOffsetCommit sent")
	require.ErrorIs(t, p.CommitTransaction(ctx), producer.ErrTransactionFatal)
	require.ErrorIs(t, p.AbortTransaction(ctx), producer.ErrTransactionFatal)

	// The new producer's InitTransactions aborts what the stopped one
	// left open, and fences it.
	p, log = newTxnProducer(t, seeds, id, proto, nil)
	require.NoError(t, p.BeginTransaction())
	requireAllAcked(t, produceAll(t, p, []*producer.Record{recordFor(topic, 1, nil)}))
	groupOnly := producer.GroupMetadata{ID: member.ID}
	require.NoError(t, p.SendOffsetsToTransaction(ctx, offsets, groupOnly), "log:\n%s", log)
	require.NoError(t, p.CommitTransaction(ctx))
	require.Equal(t, []int16{2}, sentVersions())
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	got, err := ctpCommitted(ctx, cl, groupOnly.ID, topic)
	require.NoError(t, err)
	require.Equal(t, int64(7), got[0], "the group's offset committed with the records")
}

// The README's consume-transform-produce loop, with a consumer's
// membership, against a group coordinator that cannot check it: the loop
// ends, returning the fatal error, at its first batch. Before, it aborted
// as SendOffsetsToTransaction's abortable error told it to, and went on to
// the next batch, which met the same refusal: it committed nothing, for
// ever, and never said so.
func TestTxnTheReadmeLoopEndsWhenTheGroupCoordinatorCannotCheckTheMembership(t *testing.T) {
	c, proto := startOldGroupCoordinator(t)
	seeds := c.Addrs()
	topic := newTopic(t, seeds, ctpPartitions)
	p, log := newTxnProducer(t, seeds, txnID(t, "readme-loop"), proto, nil)
	ctx := testCtx(t)
	group := producer.GroupMetadata{ID: txnID(t, "group"), Generation: 3, MemberID: "member-1"}
	type batch struct {
		records []*producer.Record
		offsets []producer.Offset
		group   producer.GroupMetadata
	}
	const batches = 5
	work := make(chan batch, batches)
	for i := range batches {
		work <- batch{[]*producer.Record{recordFor(topic, i, nil)}, []producer.Offset{{Topic: topic, Partition: 0, Offset: int64(i + 1), LeaderEpoch: -1}}, group}
	}
	close(work)
	taken := 0
	loop := func() error { // README.md's, as written there
		for batch := range work {
			taken++
			if err := p.BeginTransaction(); err != nil {
				return err
			}
			for _, rec := range batch.records {
				p.Produce(ctx, rec, nil)
			}
			if err := p.SendOffsetsToTransaction(ctx, batch.offsets, batch.group); err != nil {
				if errors.Is(err, producer.ErrTransactionFatal) {
					return err
				}
				if err := p.AbortTransaction(ctx); err != nil {
					return err
				}
				continue
			}
			if err := p.CommitTransaction(ctx); err != nil {
				if !errors.Is(err, producer.ErrTransactionAbortable) {
					return err
				}
				if err := p.AbortTransaction(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err := loop()
	require.ErrorIs(t, err, producer.ErrTransactionFatal, "the loop ran out of work, having committed nothing; log:\n%s", log)
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.Equal(t, "TRANSACTION_FATAL", producer.ErrorName(err))
	require.Equal(t, 1, taken, "batches the loop took before it ended")
}

// startOldGroupCoordinator starts the embedded broker with TxnOffsetCommit
// capped at v2, as Kafka before 2.5 speaks it, under transactions v1.
func startOldGroupCoordinator(t *testing.T) (*embedded.Cluster, txnProtocol) {
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 2)
	c := startCluster(t, embedded.Options{Kfake: []kfake.Opt{kfake.MaxVersions(versions)}})
	proto := txnProtocols[0]
	setTransactionVersion(t, c.Addrs(), proto.level)
	return c, proto
}
