package txn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestInitGetsTheIDOnceAndTellsTheProtocol(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		r := newRig(t, v2)
		require.Equal(t, Uninitialized, r.state())
		require.NoError(t, r.m.Init(context.Background()))
		require.Equal(t, Ready, r.state())
		require.Equal(t, accumulator.ProducerID{ID: 42, Epoch: 0}, r.producerID())
		require.Equal(t, v2, r.m.V2())
		init := r.coords.last().req.(*protocol.InitProducerIdRequest)
		require.Equal(t, "tx", *init.TransactionalID)
		require.Equal(t, int32(60000), init.TransactionTimeoutMs)
		require.ErrorIs(t, r.m.Init(context.Background()), ErrState, "a second Init")
	}
}

func TestInitRetriesWhatHealsAndStopsOnFencing(t *testing.T) {
	r := newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.CoordinatorLoadInProgress, kerr.NotCoordinator, kerr.ConcurrentTransactions)
	require.NoError(t, r.retrying(func() error { return r.m.Init(context.Background()) }))
	require.Len(t, r.coords.apis(), 4)
	require.Equal(t, 1, r.coords.forgotten, "NOT_COORDINATOR: the coordinator is found again")

	r = newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.TransactionalIDAuthorizationFailed)
	err := r.m.Init(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.TransactionalIDAuthorizationFailed)
	require.Equal(t, FatalError, r.state())
}

// A TransactionTimeout over the broker's transaction.max.timeout.ms is
// refused with INVALID_TRANSACTION_TIMEOUT, and would be again on every
// later Init with the same Config: the producer stops, as the Java
// client's does, rather than fail with an error that matches none of the
// transaction errors a caller is told to branch on.
func TestInitRefusedForItsTimeoutEndsTheProducer(t *testing.T) {
	r := newRig(t, false)
	r.coords.fail(protocol.InitProducerId, kerr.InvalidTransactionTimeout)
	err := r.m.Init(context.Background())
	require.ErrorIs(t, err, ErrFatal)
	require.ErrorIs(t, err, kerr.InvalidTransactionTimeout)
	require.Equal(t, FatalError, r.state())
	require.Len(t, r.coords.apis(), 1, "refused for good: not asked again")
}
