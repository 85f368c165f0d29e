package sender

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/protocol"
)

// Under transactions v2 no AddPartitionsToTxn is sent: the Produce request
// adds its partitions, which only v12+ does (KIP-890). A leader whose
// connection offers no more than v11 (a broker not upgraded yet, or rolled
// back) would write the batch to a partition never added to the
// transaction, the hanging transaction KIP-890 exists to prevent. The
// batch fails as it fails at a leader sharing no Produce version, and
// nothing is sent.
func TestAV2TransactionalBatchGoesAtNoVersionBelow12(t *testing.T) {
	id := "tx"
	r := newRigWith(t, rigConfig{
		acc: func(c *accumulator.Config) { c.Idempotent, c.Transactional = true, true },
		sender: func(c *Config) {
			c.TransactionalID = &id
			c.TransactionsV2 = func() bool { return true }
		},
	})
	r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 0})
	r.conn.produce = 11
	r.produce(parts[0], 1)
	out := r.outcome(1)
	require.ErrorIs(t, out.Err, protocol.ErrUnsupportedVersion, "a v2 transaction's batch went at Produce v11")
	require.ErrorIs(t, out.Err, accumulator.ErrProducerStopped, "%v", out.Err)
	require.ErrorContains(t, out.Err, "transactions v2")
}

// A transactional request goes at the highest Produce version the leader
// offers that its transaction's protocol allows: under transactions v1 no
// higher than v11, as AddPartitionsToTxn added its partitions and v12
// would ask the broker to add them itself; under v2 v12 or above, the
// request adding them. A Kafka 4.0 broker offers v12 exactly, where the
// two bounds meet.
func TestATransactionalRequestGoesAtTheVersionItsProtocolAllows(t *testing.T) {
	for _, tc := range []struct {
		v2            bool
		offered, want int16
	}{
		{false, 12, 11},
		{false, 13, 11},
		{true, 12, 12},
		{true, 13, 12}, // the rig's metadata knows no topic ids: by name
	} {
		t.Run(fmt.Sprintf("v2=%v/offered_v%d", tc.v2, tc.offered), func(t *testing.T) {
			id := "tx"
			r := newRigWith(t, rigConfig{
				acc: func(c *accumulator.Config) { c.Idempotent, c.Transactional = true, true },
				sender: func(c *Config) {
					c.TransactionalID = &id
					c.TransactionsV2 = func() bool { return tc.v2 }
				},
			})
			r.acc.SetProducerID(accumulator.ProducerID{ID: 7, Epoch: 0})
			r.conn.produce = tc.offered
			r.produce(parts[0], 1)
			c := r.next()
			require.Equal(t, tc.want, c.version)
			c.done(answer(c.req, 0, 3), nil)
			require.NoError(t, r.outcome(1).Err)
		})
	}
}
