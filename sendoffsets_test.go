package producer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A consumer's -1 ("no position") is refused with ErrInvalidOffsets, which
// names the entry, before anything else is looked at: the arguments are
// wrong whatever the transaction's state, which the refusal leaves as it
// was (internal/txn's tests show it with a transaction open). Before, the
// offset was committed, and a consumer restarting from it read its input
// again, or skipped it.
func TestSendOffsetsToTransactionRefusesANegativeOffsetWithErrInvalidOffsets(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"in": 1}})
	p := newProducer(t, c, func(cfg *Config) { cfg.TransactionalID = "tx" })
	err := p.SendOffsetsToTransaction(ctx(t), []Offset{{Topic: "in", Partition: 0, Offset: -1}}, GroupMetadata{ID: "g"})
	require.ErrorIs(t, err, ErrInvalidOffsets)
	require.ErrorContains(t, err, `offsets[0] (topic "in", partition 0, offset -1): negative offset`)
	for _, not := range []error{ErrTransactionAbortable, ErrTransactionFatal, ErrTransactionState} {
		require.NotErrorIs(t, err, not)
	}
	require.ErrorContains(t, p.BeginTransaction(), "InitTransactions first")
}
