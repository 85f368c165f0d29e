package integration

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

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
		owner := map[uint64]int{} // record id: its transaction, for failures
		next := 0
		for n, plan := range plans {
			require.NoError(t, p.BeginTransaction(), "transaction %d (%v)", n, plan)
			var recs []*producer.Record
			if plan != commitEmpty && plan != abortEmpty {
				for i := range perTxn {
					r := recordFor(topic, next, nil)
					r.Partition, r.ExplicitPartition = int32(i%partitions), true
					recs = append(recs, r)
					owner[uint64(next)] = n
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
		requireSameTxnRecords(t, committed, got, "read_committed", owner)
		all := readUncommitted(t, seeds, topic, len(written))
		requireSameTxnRecords(t, written, all, "read_uncommitted", owner)
		t.Logf("%s: %d transactions (%v), %d records committed, %d written and aborted, %d aborted unsent",
			proto.name, len(plans), plans, len(committed), len(written)-len(committed), next-len(written))
	})
}

// requireSameRecords requires that got, read back sorted by partition and
// offset, is want: each record once, and in each partition in the order of
// want. The records of want name their partitions (ExplicitPartition).
func requireSameRecords(t *testing.T, want []*producer.Record, got []readback.Record, what string) {
	t.Helper()
	requireSameRecordsNamed(t, want, got, what, func(id uint64) string { return fmt.Sprintf("record %d", id) })
}

// requireSameTxnRecords is requireSameRecords with each record named with
// its transaction's number, owner's (record id: transaction).
func requireSameTxnRecords(t *testing.T, want []*producer.Record, got []readback.Record, what string, owner map[uint64]int) {
	t.Helper()
	requireSameRecordsNamed(t, want, got, what, func(id uint64) string {
		if n, ok := owner[id]; ok {
			return fmt.Sprintf("record %d (transaction %d)", id, n)
		}
		return fmt.Sprintf("record %d (of no transaction)", id)
	})
}

// requireSameRecordsNamed is requireSameRecords, naming records in its
// failures with name: the first mismatch of each partition, by position
// and offset, rather than a diff of thousands of ids.
func requireSameRecordsNamed(t *testing.T, want []*producer.Record, got []readback.Record, what string, name func(id uint64) string) {
	t.Helper()
	wantBy := map[int32][]uint64{}
	for _, r := range want {
		id, _ := valueID(r.Value)
		wantBy[r.Partition] = append(wantBy[r.Partition], id)
	}
	gotBy := map[int32][]readback.Record{}
	at := map[uint64][]string{} // record id: where it was read
	var wrong []string
	for _, r := range got {
		id, ok := valueID(r.Value)
		if !ok {
			wrong = append(wrong, fmt.Sprintf("partition %d offset %d holds a value the test did not write", r.Partition, r.Offset))
			continue
		}
		gotBy[r.Partition] = append(gotBy[r.Partition], r)
		at[id] = append(at[id], fmt.Sprintf("%d@%d", r.Partition, r.Offset))
	}
	var dups []string
	for id, where := range at {
		if len(where) > 1 {
			dups = append(dups, fmt.Sprintf("%s read %d times, at %v", name(id), len(where), where))
		}
	}
	slices.Sort(dups)
	wrong = append(wrong, dups...)
	partitions := slices.Sorted(maps.Keys(wantBy))
	for p := range gotBy {
		if _, ok := wantBy[p]; !ok {
			partitions = append(partitions, p)
		}
	}
	for _, p := range partitions {
		if w := firstMismatch(p, wantBy[p], gotBy[p], name); w != "" {
			wrong = append(wrong, w)
		}
	}
	require.Empty(t, firstFew(wrong), "%s: %d records read, %d wanted", what, len(got), len(want))
}

// firstMismatch says where the records read from partition p first differ
// from want, "" if they do not.
func firstMismatch(p int32, want []uint64, got []readback.Record, name func(id uint64) string) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i == len(got):
			return fmt.Sprintf("partition %d, position %d: %s not read (%d of %d records read)", p, i, name(want[i]), len(got), len(want))
		case i == len(want):
			id, _ := valueID(got[i].Value)
			return fmt.Sprintf("partition %d, position %d: %s read at offset %d, after the %d records wanted", p, i, name(id), got[i].Offset, len(want))
		}
		if id, _ := valueID(got[i].Value); id != want[i] {
			return fmt.Sprintf("partition %d, position %d: %s read at offset %d, want %s", p, i, name(id), got[i].Offset, name(want[i]))
		}
	}
	return ""
}
