package txn

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// ends are the two ways a transaction ends.
var ends = []struct {
	name string
	end  func(*Manager, context.Context) error
}{{"commit", (*Manager).Commit}, {"abort", (*Manager).Abort}}

// A broker handles a request it has read though the client gave up on it.
// An EndTxn whose first attempt went unanswered, its retry answered, may so
// reach the coordinator once the next transaction is open, and with v1,
// under the epoch that transaction kept, it ended that one: a late abort
// lost records whose callbacks had succeeded, a late commit committed those
// of a transaction then aborted. Now a v1 transaction so ended gets a new
// epoch (InitProducerId with the current one), which fences the late
// EndTxn; v2's EndTxn gives one anyway, and one answered at once keeps the
// epoch in v1.
func TestAV1EndWhoseEndTxnWentUnansweredEndsWithANewEpoch(t *testing.T) {
	for _, e := range ends {
		for _, v2 := range []bool{false, true} {
			r := initialized(t, v2)
			r.addedToTheTransaction(false)
			epoch := r.producerID().Epoch
			sent := len(r.coords.apis())
			r.coords.mu.Lock()
			r.coords.lost = fmt.Errorf("EndTxn: %w", conn.ErrDisconnected)
			r.coords.mu.Unlock()
			require.NoError(t, r.retrying(func() error { return e.end(r.m, context.Background()) }), "%s, v2 %v", e.name, v2)
			require.Equal(t, Ready, r.state())
			if v2 {
				require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn}, r.coords.apis()[sent:], "%s, v2: EndTxn gives the new epoch", e.name)
				require.Equal(t, epoch+1, r.producerID().Epoch, "%s, v2", e.name)
				continue
			}
			require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.EndTxn, protocol.InitProducerId}, r.coords.apis()[sent:], "%s, v1", e.name)
			bump := r.coords.last().req.(*protocol.InitProducerIdRequest)
			require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: epoch}, accumulator.ProducerID{ID: bump.ProducerID, Epoch: bump.ProducerEpoch}, "%s, v1: the bump names the current id and epoch", e.name)
			require.Equal(t, epoch+1, r.producerID().Epoch, "%s, v1", e.name)

			// The next transaction, ended at once, keeps its epoch.
			require.NoError(t, r.m.Begin())
			require.Eventually(t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond)
			require.NoError(t, e.end(r.m, context.Background()), "%s, v1: the next transaction", e.name)
			require.Equal(t, protocol.EndTxn, r.coords.last().req.Key(), "%s, v1: the next transaction", e.name)
			require.Equal(t, epoch+1, r.producerID().Epoch, "%s, v1: the next transaction", e.name)
		}
	}
}

// A v1 addition that went unanswered, its retry answered, may reach the
// coordinator after the transaction ended, and begin there one under the
// epoch the next transaction keeps, that the producer knows nothing of:
// the transaction ends with a new epoch, which fences it.
func TestAV1TransactionWhoseAdditionWentUnansweredEndsWithANewEpoch(t *testing.T) {
	for _, e := range ends {
		r := initialized(t, false)
		epoch := r.producerID().Epoch
		addedAfterALostAnswer(t, r)
		require.NoError(t, e.end(r.m, context.Background()), e.name)
		apis := r.coords.apis()
		require.Equal(t, []protocol.APIKey{protocol.EndTxn, protocol.InitProducerId}, apis[len(apis)-2:], e.name)
		require.Equal(t, epoch+1, r.producerID().Epoch, e.name)
	}
}

// A commit cut short while it asks for its new epoch, its EndTxn answered,
// has committed: it says so, and, called again, sends no second EndTxn,
// which the coordinator, had the bump landed, would answer PRODUCER_FENCED
// under the old epoch, ending the producer. It asks for the bump again,
// which the coordinator takes as a retry (KIP-360).
func TestACommitCutShortAsItGetsItsNewEpochGetsItWhenCalledAgain(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	epoch := r.producerID().Epoch
	r.coords.mu.Lock()
	r.coords.lost = fmt.Errorf("EndTxn: %w", conn.ErrDisconnected)
	r.coords.mu.Unlock()
	g := r.coords.holdAnswers(protocol.InitProducerId)
	ctx, cancel := context.WithCancel(context.Background())
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(ctx) }()
	require.Eventually(t, func() bool {
		select {
		case <-g.arrived:
			return true
		default:
			r.clk.Advance(time.Second) // past the EndTxn's backoff
			return false
		}
	}, waitTime, time.Millisecond, "no InitProducerId after the commit's EndTxn")
	cancel()
	err := bounded.Receive(t, committed, waitTime, "Commit did not return after its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "the transaction committed, but getting the new epoch")
	require.Equal(t, Committing, r.state())
	close(g.open)

	sent := len(r.coords.apis())
	require.NoError(t, r.m.Commit(context.Background()), "the commit called again")
	require.Equal(t, []protocol.APIKey{protocol.InitProducerId}, r.coords.apis()[sent:], "the bump alone")
	require.Equal(t, epoch, r.coords.last().req.(*protocol.InitProducerIdRequest).ProducerEpoch, "the same bump asked again")
	require.Equal(t, epoch+1, r.producerID().Epoch, "the epoch the coordinator gave the bump cut short")
	require.Equal(t, Ready, r.state())
	require.NoError(t, r.m.Begin(), "the next transaction")
}

// The offsets' requests may come late too: an AddOffsetsToTxn begins a
// transaction the producer knows nothing of, and a TxnOffsetCommit, under
// the epoch a v1 transaction keeps, stages its offsets in the next
// transaction, which then commits them in place of its own (the group
// rewound, its input read twice). Either, unanswered and then answered,
// makes the v1 commit end with a new epoch, which fences it. Before, the
// TxnOffsetCommit did not.
func TestAV1TransactionWhoseOffsetsWentUnansweredEndsWithANewEpoch(t *testing.T) {
	for _, api := range []protocol.APIKey{protocol.AddOffsetsToTxn, protocol.TxnOffsetCommit} {
		r := initialized(t, false)
		epoch := r.producerID().Epoch
		first := r.coords.hold(api) // its answer lost on the way back
		go func() {
			<-first.arrived
			r.coords.mu.Lock()
			r.coords.lost = fmt.Errorf("%v: %w", api, conn.ErrDisconnected)
			delete(r.coords.held, api)
			r.coords.mu.Unlock()
			close(first.open)
		}()
		require.NoError(t, r.retrying(func() error {
			return r.m.SendOffsets(context.Background(), []Offset{{Topic: "in", Offset: 10, LeaderEpoch: -1}}, Group{ID: "g"})
		}), "%v", api)
		require.NoError(t, r.m.Commit(context.Background()), "%v", api)
		require.Equal(t, protocol.InitProducerId, r.coords.last().req.Key(), "%v unanswered, then answered: sent %v", api, r.coords.apis())
		require.Equal(t, epoch+1, r.producerID().Epoch, "%v unanswered, then answered: the commit ends with a new epoch", api)
	}
}

// A v1 commit whose new epoch the coordinator refuses for good
// (PRODUCER_FENCED: another instance took the id over; or the id
// forgotten) has committed, and stops the producer: its error says the
// first and gives no advice to call CommitTransaction again for the
// epoch, which would only return the producer's end. Before, it did.
func TestAV1CommitWhoseNewEpochIsRefusedForGoodDoesNotSayToCallItAgain(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ProducerFenced, kerr.InvalidProducerIDMapping} {
		t.Run(code.Name, func(t *testing.T) {
			r := initialized(t, false)
			addedAfterALostAnswer(t, r)
			r.coords.fail(protocol.InitProducerId, code)
			err := r.m.Commit(context.Background())
			require.ErrorIs(t, err, ErrFatal)
			require.ErrorIs(t, err, code)
			require.ErrorContains(t, err, "the transaction committed")
			require.NotContains(t, err.Error(), "call CommitTransaction again")
			require.Equal(t, FatalError, r.state())
			again := r.m.Commit(context.Background())
			require.ErrorIs(t, again, ErrFatal, "called again")
			require.ErrorIs(t, again, code, "called again")
		})
	}
}

// addedAfterALostAnswer adds tp0 to r's transaction by an AddPartitionsToTxn
// whose first attempt fails with a broken connection, its fate unknown, and
// whose retry is answered: an addition that went unanswered, which a v1
// transaction must end with a new epoch.
func addedAfterALostAnswer(t *testing.T, r *rig) {
	t.Helper()
	r.coords.mu.Lock()
	r.coords.lost = fmt.Errorf("AddPartitionsToTxn: %w", conn.ErrDisconnected)
	r.coords.mu.Unlock()
	r.admit(tp0)
	require.Eventually(t, func() bool {
		r.clk.Advance(time.Second) // past the retry's backoff
		return r.admit(tp0)
	}, waitTime, time.Millisecond, "the partition was not added on the retry")
}
