package fakebroker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Every version the protocol package speaks gets a fresh id at epoch 0;
// ids are unique and increasing across the cluster's nodes.
func TestInitProducerIdGivesFreshIDs(t *testing.T) {
	c := start(t, Options{Nodes: 2})
	cns := []*conn.Conn{dial(t, c, 0, conn.Config{}), dial(t, c, 1, conn.Config{})}
	want := int64(0)
	for v := protocol.Supported(protocol.InitProducerId).Min; v <= protocol.Supported(protocol.InitProducerId).Max; v++ {
		for _, cn := range cns {
			resp := initProducerID(t, cn, v, &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1})
			require.Zero(t, resp.ErrorCode, "v%d", v)
			require.Equal(t, want, resp.ProducerID, "v%d", v)
			require.Zero(t, resp.ProducerEpoch, "v%d", v)
			want++
		}
	}
	require.Equal(t, want, c.InitProducerIdRequests())
}

// Kafka never bumps the epoch of a producer without a transactional id: it
// hands out a new id, whatever the request says. An idempotent producer
// bumps its epoch itself (KIP-360).
func TestInitProducerIdIgnoresTheIdempotentProducersIDAndEpoch(t *testing.T) {
	c := start(t, Options{})
	cn := dial(t, c, 0, conn.Config{})
	first := initProducerID(t, cn, 5, &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1})
	require.Zero(t, first.ErrorCode)
	for _, epoch := range []int16{0, 7} { // its current epoch, and one it never had
		resp := initProducerID(t, cn, 5, &protocol.InitProducerIdRequest{ProducerID: first.ProducerID, ProducerEpoch: epoch})
		require.Zero(t, resp.ErrorCode)
		require.Greater(t, resp.ProducerID, first.ProducerID, "a new id")
		require.Zero(t, resp.ProducerEpoch)
	}
	resp := initProducerID(t, cn, 5, &protocol.InitProducerIdRequest{ProducerID: 12345, ProducerEpoch: 3})
	require.Zero(t, resp.ErrorCode, "an unknown id is not an error either")
	require.Equal(t, int64(3), resp.ProducerID)
}

func TestInitProducerIdRefusesWhatKafkaRefuses(t *testing.T) {
	c := start(t, Options{})
	cn := dial(t, c, 0, conn.Config{})
	empty, txn := "", "txn-1"
	for name, tc := range map[string]struct {
		req  protocol.InitProducerIdRequest
		want *kerr.Error
	}{
		"id without epoch":    {protocol.InitProducerIdRequest{ProducerID: 4, ProducerEpoch: -1}, kerr.InvalidRequest},
		"epoch without id":    {protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: 0}, kerr.InvalidRequest},
		"empty transactional": {protocol.InitProducerIdRequest{TransactionalID: &empty, ProducerID: -1, ProducerEpoch: -1}, kerr.InvalidRequest},
		"transactional":       {protocol.InitProducerIdRequest{TransactionalID: &txn, ProducerID: -1, ProducerEpoch: -1}, kerr.NotCoordinator},
	} {
		resp := initProducerID(t, cn, 5, &tc.req)
		require.Equal(t, tc.want.Code, resp.ErrorCode, name)
		require.Equal(t, int64(-1), resp.ProducerID, name)
		require.Equal(t, int16(-1), resp.ProducerEpoch, name)
	}
	resp := initProducerID(t, cn, 5, &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1})
	require.Zero(t, resp.ProducerID, "refused requests use up no id")
}

func TestInitProducerIdHookFailsNTimes(t *testing.T) {
	c := start(t, Options{})
	c.OnInitProducerId(FailInitProducerId(2, kerr.CoordinatorLoadInProgress))
	cn := dial(t, c, 0, conn.Config{})
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}
	for i := 0; i < 2; i++ {
		resp := initProducerID(t, cn, 4, req)
		require.Equal(t, kerr.CoordinatorLoadInProgress.Code, resp.ErrorCode)
		require.Equal(t, int64(-1), resp.ProducerID)
	}
	resp := initProducerID(t, cn, 4, req)
	require.Zero(t, resp.ErrorCode)
	require.Zero(t, resp.ProducerID, "failed answers use up no id")
	require.Equal(t, int64(3), c.InitProducerIdRequests())

	// PRODUCER_FENCED exists from v4; Kafka sends older clients
	// INVALID_PRODUCER_EPOCH instead.
	c.OnInitProducerId(func(int32, *protocol.InitProducerIdRequest) Action { return Action{Err: kerr.ProducerFenced} })
	require.Equal(t, kerr.ProducerFenced.Code, initProducerID(t, cn, 4, req).ErrorCode)
	require.Equal(t, kerr.InvalidProducerEpoch.Code, initProducerID(t, cn, 3, req).ErrorCode)

	c.OnInitProducerId(nil)
	require.Zero(t, initProducerID(t, cn, 4, req).ErrorCode)
}

func TestInitProducerIdHookDelaysAndDrops(t *testing.T) {
	c := start(t, Options{})
	nodes := make(chan int32, 2)
	c.OnInitProducerId(func(node int32, req *protocol.InitProducerIdRequest) Action {
		nodes <- node
		if len(nodes) == 1 { // one connection: calls are serial
			return Action{Delay: 50 * time.Millisecond}
		}
		return Action{Drop: true}
	})
	cn := dial(t, c, 0, conn.Config{})
	began := time.Now()
	resp := initProducerID(t, cn, 5, &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1})
	require.Zero(t, resp.ErrorCode)
	require.GreaterOrEqual(t, time.Since(began), 50*time.Millisecond)

	_, err := request(t, cn, &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}, 5)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	require.Equal(t, 2, len(nodes))
	require.Equal(t, int32(0), <-nodes)
}

// A lost answer still used up an id: the next request gets the one after.
func TestInitProducerIdLostAnswerUsesAnID(t *testing.T) {
	c := start(t, Options{})
	c.OnInitProducerId(func(int32, *protocol.InitProducerIdRequest) Action { return Action{LoseAnswer: true} })
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1}
	_, err := request(t, dial(t, c, 0, conn.Config{}), req, 5)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	c.OnInitProducerId(nil)
	resp := initProducerID(t, dial(t, c, 0, conn.Config{}), 5, req)
	require.Zero(t, resp.ErrorCode)
	require.Equal(t, int64(1), resp.ProducerID)
}
