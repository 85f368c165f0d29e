package integration

// Offsets sent to a group coordinator older than Kafka 2.5, against the
// embedded broker with TxnOffsetCommit capped at v2.

import (
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
// TxnOffsetCommit goes, the transaction left to abort, as the Java client
// refuses them (UnsupportedVersionException): sent at v2 they committed
// without the check that refuses a consumer the group rebalanced away. A
// group without membership commits at v2. Transactions v1 only: a cluster
// that old has no v2.
func TestTxnOffsetsWithAMembershipAnOldGroupCoordinatorCannotCheckAreRefused(t *testing.T) {
	versions := kversion.Stable()
	versions.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 2)
	c := startCluster(t, embedded.Options{Kfake: []kfake.Opt{kfake.MaxVersions(versions)}})
	seeds := c.Addrs()
	proto := txnProtocols[0]
	setTransactionVersion(t, seeds, proto.level)
	topic := newTopic(t, seeds, ctpPartitions)
	p, log := newTxnProducer(t, seeds, txnID(t, "old-group-coordinator"), proto, nil)

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
	require.ErrorIs(t, err, producer.ErrTransactionAbortable, "offsets with a membership the coordinator cannot check, sent at v%v; log:\n%s", sentVersions(), log)
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.ErrorContains(t, err, "Kafka before 2.5")
	require.Empty(t, sentVersions(), "no TxnOffsetCommit sent")
	require.ErrorIs(t, p.CommitTransaction(ctx), producer.ErrTransactionAbortable)
	require.NoError(t, p.AbortTransaction(ctx))

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
