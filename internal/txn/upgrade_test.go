package txn

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
)

// endTxnMax is the highest version the last EndTxn could go at: 5 for a
// transaction of transactions v2, 4 for one of v1.
func (r *rig) endTxnMax() int16 {
	r.t.Helper()
	r.coords.mu.Lock()
	defer r.coords.mu.Unlock()
	for i := len(r.coords.requests) - 1; i >= 0; i-- {
		if s := r.coords.requests[i]; s.req.Key() == protocol.EndTxn {
			return s.versions.Max
		}
	}
	r.t.Fatal("no EndTxn was sent")
	return 0
}

// The cluster finalizes transaction.version 2 while a v1 transaction is
// under way, the last step of a rolling upgrade, after InitTransactions.
// The transaction ends as v1 (EndTxn v4), then a bump of the epoch
// (InitProducerId with the current id and epoch) makes the next one start
// under a new epoch, and the next transaction speaks v2: its partitions
// are added by its Produce requests, and its EndTxn is v5.
func TestATransactionVersionFinalizedAfterInitIsSpokenFromTheNextTransaction(t *testing.T) {
	for _, end := range []struct {
		name string
		call func(*Manager, context.Context) error
	}{{"Commit", (*Manager).Commit}, {"Abort", (*Manager).Abort}} {
		r := initialized(t, false)
		r.addedToTheTransaction(false)
		r.coords.finalize(2)
		require.False(t, r.m.V2(), "%s: the transaction under way changed protocol", end.name)
		epoch := r.producerID().Epoch
		sent := len(r.coords.apis())
		require.NoError(t, end.call(r.m, context.Background()), end.name)
		require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, r.coords.apis()[sent:], "%s: the v1 end, then the bump", end.name)
		require.Equal(t, int16(4), r.endTxnMax(), "%s: the transaction begun as v1 ends as v1", end.name)
		require.Equal(t, epoch, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerEpoch, "%s: the bump is from the current epoch", end.name)
		require.Equal(t, epoch+1, r.producerID().Epoch, "%s: the next transaction's epoch", end.name)

		require.NoError(t, r.m.Begin(), end.name)
		require.True(t, r.m.V2(), "%s: the transaction after the cluster finalized transaction.version 2 is still v1", end.name)
		r.addedToTheTransaction(true)
		sent = len(r.coords.apis())
		require.NoError(t, r.m.Commit(context.Background()), end.name)
		require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[sent:], "%s: a v2 commit", end.name)
		require.Equal(t, int16(5), r.endTxnMax(), end.name)
	}
}

// The coordinator's connection is down for a moment as InitTransactions
// finishes (a broker restarting in a rolling restart): InitProducerId was
// answered, but the coordinator's features could not be read. The producer
// speaks v1, which every coordinator takes, and asks again as the first
// transaction ends: on a cluster that speaks v2 it moves to v2, under a new
// epoch, rather than speak v1 for its whole life.
func TestAFailedProbeAtInitIsAskedAgainAtTheEndOfATransaction(t *testing.T) {
	r := newRig(t, true)
	r.coords.brokerErr = conn.ErrDisconnected
	require.NoError(t, r.m.Init(context.Background()))
	require.NoError(t, r.m.Begin())
	require.False(t, r.m.V2(), "transactions v2 without having read the coordinator's features")
	r.addedToTheTransaction(false)
	sent := len(r.coords.apis())
	require.NoError(t, r.m.Commit(context.Background()))
	require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, r.coords.apis()[sent:], "the v1 commit, then the bump")
	require.NoError(t, r.m.Begin())
	require.True(t, r.m.V2(), "a v2 cluster is spoken v1 for the producer's life after one failed probe")
}

// With no live connection to the coordinator as the transaction ends (an
// empty transaction sends nothing, and the connection dropped), the
// protocol is not known: the producer keeps v1, asks no new epoch, and
// asks again at the next end.
func TestNoLiveCoordinatorAtTheEndKeepsTheProtocol(t *testing.T) {
	r := initialized(t, false)
	r.coords.finalize(2)
	r.coords.mu.Lock()
	r.coords.noLive = true
	r.coords.mu.Unlock()
	require.NoError(t, r.m.Commit(context.Background()))
	require.Empty(t, r.coords.apis()[1:], "an empty transaction's end with the protocol unknown")
	require.NoError(t, r.m.Begin())
	require.False(t, r.m.V2())

	r.coords.mu.Lock()
	r.coords.noLive = false
	r.coords.mu.Unlock()
	require.NoError(t, r.m.Commit(context.Background()))
	require.Equal(t, []protocol.APIKey{protocol.InitProducerId}, r.coords.apis()[1:], "the bump of the switch, with no EndTxn to send")
	require.NoError(t, r.m.Begin())
	require.True(t, r.m.V2())
}

// versionedBroker tells a finalized transaction.version level (0: none)
// and the EndTxn and Produce versions it shares with the producer.
type versionedBroker struct{ level, endTxn, produce int16 }

func (b versionedBroker) Version(api protocol.APIKey) (int16, error) {
	switch api {
	case protocol.EndTxn:
		return b.endTxn, nil
	case protocol.Produce:
		return b.produce, nil
	}
	return 0, fmt.Errorf("%v: not asked for", api)
}

func (b versionedBroker) FinalizedFeature(name string) (int16, bool) {
	return b.level, name == transactionVersionFeature && b.level > 0
}

func (versionedBroker) FinalizedFeaturesEpoch() int64 { return 1 }

// Transactions v2 needs both the cluster's transaction.version 2 and the
// requests that speak it: EndTxn v5, whose answer gives the next epoch,
// and Produce v12, which adds its partitions. A broker that tells the
// level but shares neither version with the producer speaks v1, which it
// can take: taken for v2, every EndTxn would find no version (v5 only),
// and stop the producer, and batches would go to partitions nobody added.
func TestTransactionsV2NeedTheFeatureAndItsVersions(t *testing.T) {
	for _, tc := range []struct {
		broker versionedBroker
		v2     bool
	}{
		{versionedBroker{level: 2, endTxn: 5, produce: 12}, true},
		{versionedBroker{level: 1, endTxn: 5, produce: 12}, false},
		{versionedBroker{level: 0, endTxn: 5, produce: 12}, false},
		{versionedBroker{level: 2, endTxn: 4, produce: 12}, false},
		{versionedBroker{level: 2, endTxn: 5, produce: 11}, false},
	} {
		require.Equal(t, tc.v2, speaksV2(tc.broker), "%+v", tc.broker)
	}
}

// A connection dialed before the cluster finalized transaction.version 2
// tells features of an older epoch: the coordinator moving to such a
// broker does not take the producer back to v1.
func TestFeaturesOfAnOlderEpochDoNotChangeTheProtocol(t *testing.T) {
	r := newRig(t, true)
	r.coords.featuresEpoch = 7
	require.NoError(t, r.m.Init(context.Background()))
	r.coords.mu.Lock()
	r.coords.v2, r.coords.featuresEpoch = false, 5
	r.coords.mu.Unlock()
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.Commit(context.Background()))
	require.NoError(t, r.m.Begin())
	require.True(t, r.m.V2(), "the features of an older epoch took the producer to v1")
}

// The cluster downgrades transaction.version to 1. The v2 transaction
// under way ends as v2 (EndTxn v5), whose answer gives the next
// transaction a new epoch already, so no bump follows; the next
// transaction speaks v1, adding its partitions with AddPartitionsToTxn.
func TestADowngradeIsSpokenV1FromTheNextTransaction(t *testing.T) {
	r := initialized(t, true)
	r.addedToTheTransaction(true)
	r.coords.finalize(1)
	require.True(t, r.m.V2(), "the transaction under way changed protocol")
	sent := len(r.coords.apis())
	require.NoError(t, r.m.Commit(context.Background()))
	require.Equal(t, []protocol.APIKey{protocol.EndTxn}, r.coords.apis()[sent:], "the v2 end, and no bump")
	require.Equal(t, int16(5), r.endTxnMax())

	require.NoError(t, r.m.Begin())
	require.False(t, r.m.V2(), "the transaction after transaction.version went down to 1 is still v2")
	r.addedToTheTransaction(false)
	require.Contains(t, r.coords.apis()[sent:], protocol.AddPartitionsToTxn)
	require.NoError(t, r.m.Commit(context.Background()))
	require.Equal(t, int16(4), r.endTxnMax())
}

// The bump that moves the producer to v2 is cut short by the commit's ctx,
// though the coordinator gave it. The commit says the transaction
// committed; called again, it asks for the bump alone, which the
// coordinator takes as a retry, and only then is the next transaction v2.
func TestACommitWhoseSwitchBumpWasCutShortAsksForItAgain(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.coords.finalize(2)
	epoch := r.producerID().Epoch
	g := r.coords.holdAnswers(protocol.InitProducerId)
	ctx, cancel := context.WithCancel(context.Background())
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no InitProducerId after the commit's EndTxn")
	cancel()
	err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "the transaction committed")
	require.Equal(t, Committing, r.state())
	require.False(t, r.m.V2(), "v2 before the new epoch came")
	close(g.open)

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Commit(context.Background()))
	require.Equal(t, []protocol.APIKey{protocol.InitProducerId}, r.coords.apis()[sent:], "the bump alone")
	require.Equal(t, epoch+1, r.producerID().Epoch)
	require.NoError(t, r.m.Begin())
	require.True(t, r.m.V2())
}

// The bump of a move to v2 reaches the coordinator, but its answer is cut
// short with the commit's ctx; before the commit is called again the
// feature goes back to 1. The commit called again still asks for a bump:
// the coordinator's epoch moved on with the first, and without one the
// producer's next transaction went under the epoch it had left behind,
// fenced.
func TestABumpCutShortIsAskedAgainThoughTheProtocolFlipsBack(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	r.coords.finalize(2)
	g := r.coords.holdAnswers(protocol.InitProducerId)
	ctx, cancel := context.WithCancel(context.Background())
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no InitProducerId for the move to v2")
	cancel()
	require.ErrorIs(t, bounded.Receive(t, committed, waitTime, "Commit did not return"), context.Canceled)
	close(g.open)
	r.coords.finalize(1)

	require.NoError(t, r.m.Commit(context.Background()), "the commit called again")
	require.NoError(t, r.m.Begin())
	require.False(t, r.m.V2())
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.Commit(context.Background()), "the next v1 transaction, under the epoch the bump gave")
}
