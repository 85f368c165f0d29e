package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// txnPlan is what a test does with one transaction.
type txnPlan int

const (
	commitTxn        txnPlan = iota // produce, commit
	abortUnsent                     // produce, abort before anything leaves (a long linger holds the batches)
	abortWritten                    // produce, flush (the records are in the log), abort
	commitEmpty                     // begin, commit with nothing in it
	abortEmpty                      // begin, abort with nothing in it
	abortAfterFailed                // (used by other tests)
)

func (k txnPlan) String() string {
	return [...]string{"commit", "abort unsent", "abort written", "commit empty", "abort empty"}[k]
}

// A consumer reading committed records (kgo with read_committed) sees every
// record of each committed transaction exactly once, in the order produced
// per partition, and none of an aborted transaction, though the records of
// the transactions aborted after a flush are in the log (a read_uncommitted
// consumer sees them). Eight partitions, eight transactions of which three
// aborted, one of each kind aborted and empty ones.
func TestTxnReadCommitted(t *testing.T) {
	const (
		partitions = 8
		perTxn     = 400 // 50 per partition
	)
	plans := []txnPlan{commitTxn, abortWritten, commitTxn, abortUnsent, commitEmpty, commitTxn, abortEmpty, abortWritten, commitTxn}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, partitions)
		p, log := newTxnProducer(t, seeds, txnID(t, "rc"), proto, func(cfg *producer.Config) {
			cfg.Linger = time.Minute // nothing leaves before Flush or Commit
		})

		var committed, written []*producer.Record
		next := 0
		for n, plan := range plans {
			require.NoError(t, p.BeginTransaction(), "transaction %d (%v)", n, plan)
			var recs []*producer.Record
			if plan != commitEmpty && plan != abortEmpty {
				for i := range perTxn {
					r := recordFor(topic, next, nil)
					r.Partition, r.ExplicitPartition = int32(i%partitions), true
					recs = append(recs, r)
					next++
				}
			}
			o := newOutcomes(len(recs))
			for i, r := range recs {
				p.Produce(testCtx(t), r, o.callback(i))
			}
			if plan == abortWritten {
				require.NoError(t, p.Flush(testCtx(t)), "transaction %d: flush", n)
			}
			var err error
			switch plan {
			case commitTxn, commitEmpty:
				err = p.CommitTransaction(testCtx(t))
			default:
				err = p.AbortTransaction(testCtx(t))
			}
			require.NoError(t, err, "transaction %d (%v); log:\n%s", n, plan, log)
			outs := o.wait(t)
			switch plan {
			case commitTxn:
				requireAllAcked(t, outs)
				committed = append(committed, recs...)
				written = append(written, recs...)
			case abortWritten:
				requireAllAcked(t, outs) // written, then aborted
				written = append(written, recs...)
			case abortUnsent:
				for i, out := range outs {
					require.ErrorIs(t, out.err, producer.ErrTransactionAborted, "record %d of transaction %d (%v)", i, n, plan)
				}
			}
		}

		got := readCommitted(t, seeds, topic, len(committed))
		requireSameRecords(t, committed, got, "read_committed")
		all := readUncommitted(t, seeds, topic, len(written))
		requireSameRecords(t, written, all, "read_uncommitted")
		t.Logf("%s: %d transactions (%v), %d records committed, %d written and aborted, %d aborted unsent",
			proto.name, len(plans), plans, len(committed), len(written)-len(committed), next-len(written))
	})
}

// requireSameRecords requires that got, read back sorted by partition and
// offset, is want: each record once, and in each partition in the order of
// want. The records of want name their partitions (ExplicitPartition).
func requireSameRecords(t *testing.T, want []*producer.Record, got []readback.Record, what string) {
	t.Helper()
	byPartition := map[int32][]uint64{}
	for _, r := range want {
		id, _ := valueID(r.Value)
		byPartition[r.Partition] = append(byPartition[r.Partition], id)
	}
	gotBy := map[int32][]uint64{}
	seen := map[uint64]int{}
	for _, r := range got {
		id, ok := valueID(r.Value)
		require.True(t, ok, "%s: partition %d offset %d holds a value the test did not write", what, r.Partition, r.Offset)
		gotBy[r.Partition] = append(gotBy[r.Partition], id)
		seen[id]++
	}
	for id, n := range seen {
		require.Equal(t, 1, n, "%s: record %d read %d times", what, id, n)
	}
	for part, ids := range byPartition {
		assert.Equal(t, ids, gotBy[part], "%s: records of partition %d, in order", what, part)
	}
	require.Len(t, got, len(want), "%s: records", what)
}
