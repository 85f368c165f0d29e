package integration

// Transactions whose records fail, against the embedded broker's faults:
// the transaction becomes abortable, CommitTransaction says why at once
// (it does not wait out DeliveryTimeout for records that can no longer be
// sent), AbortTransaction settles every record, and the next transaction
// commits.

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

func TestTxnFailedRecordMeansAbort(t *testing.T) {
	cases := []struct {
		name  string
		code  int16
		cause error
	}{
		// Not retriable: the batch fails, and the batches behind it in
		// the partition can no longer keep their sequences.
		{"a batch refused (INVALID_RECORD)", kerr.InvalidRecord.Code, kerr.InvalidRecord},
		// The broker refuses the sequence: only a new epoch from the
		// coordinator, after an abort, lets the partition send again.
		{"a sequence refused (OUT_OF_ORDER_SEQUENCE_NUMBER)", kerr.OutOfOrderSequenceNumber.Code, nil},
	}
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					const topic = "failing"
					c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
					seeds := c.Addrs()
					setTransactionVersion(t, seeds, proto.level)
					// Long delivery timeout: a commit that waited for it
					// would fail the test by its context.
					p, log := newTxnProducer(t, seeds, txnID(t, "failing"), proto, func(cfg *producer.Config) {
						smallBatches(cfg)
						cfg.DeliveryTimeout = 10 * time.Minute
					})

					require.NoError(t, p.BeginTransaction())
					recs := recordsFor(topic, 200, nil) // about 30 batches
					f := c.FailNextProduce(1, tc.code)
					o := newOutcomes(len(recs))
					for i, r := range recs {
						p.Produce(testCtx(t), r, o.callback(i))
					}
					waitFault(t, f, "the failed produce")
					ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
					defer cancel()
					err := p.CommitTransaction(ctx)
					require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
					if tc.cause != nil {
						require.ErrorIs(t, err, tc.cause, "CommitTransaction says why")
					}
					t.Logf("CommitTransaction: %v", err)

					require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
					failed := 0
					for _, out := range o.wait(t) {
						if out.err != nil {
							failed++
						}
					}
					require.Positive(t, failed, "records of the aborted transaction failed")

					require.NoError(t, p.BeginTransaction())
					next := recordsFor(topic, 200, nil)
					for i, r := range next {
						r.Value = idValue(uint64(1000+i), 100)
					}
					requireAllAcked(t, produceAll(t, p, next))
					require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
					requireSameRecords(t, next, readCommitted(t, seeds, topic, len(next)), "read_committed")
				})
			}
		})
	}
}
