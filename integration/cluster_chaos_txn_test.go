package integration

// The chaos test of transactions: TestClusterChaos's fault schedule on the
// real cluster, now and then aimed at the transaction coordinator's
// broker, under a transactional producer that runs transaction after
// transaction, and aborts some. What a consumer reading committed records
// sees is what users choose transactions for: each committed transaction
// whole, once, in order, and nothing of an aborted one.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

const (
	// chaosTxnProgress is how many transactions must commit after each
	// fault before the schedule goes on: the producer recovered.
	chaosTxnProgress = 3
	// chaosTxnRecover bounds that wait: longer than a transaction's calls
	// may take (chaosTxnCalls of chaosTxnCall) and a new producer's.
	chaosTxnRecover = 2 * chaosTxnCalls * chaosTxnCall
	// chaosTxnFinish bounds the end of the transaction under way when the
	// schedule ends: its commit, abort and a new producer's calls.
	chaosTxnFinish = 3 * chaosTxnCalls * chaosTxnCall
)

// TestClusterChaosTransactions runs transactions through TestClusterChaos's
// faults (chaosFaults; -chaos.alldown too) with a producer that follows
// its error contract: ErrTransactionAbortable aborts, a commit of unknown
// outcome is called again, and a fatal error or fencing replaces the
// producer by one with the same transactional id. The seed also picks the
// transaction protocol. Then a read_committed consumer must see every
// committed transaction's records once each, in produce order per
// partition, nothing of an aborted one, an unknown one all or nothing, and
// nothing else; and the group's offset is that of the last transaction
// seen that sent one.
func TestClusterChaosTransactions(t *testing.T) {
	if !*chaos {
		t.Skip("the chaos test runs with -chaos against broker.sh's 3-broker cluster: `make chaos` " +
			"(CHAOS_FLAGS: -chaos.duration, -chaos.seed, -chaos.deliverytimeout, -chaos.requesttimeout, -chaos.alldown)")
	}
	c := clusterFor(t)
	if deadline, ok := t.Deadline(); ok && time.Until(deadline) < *chaosDuration+chaosTail {
		t.Fatalf("-chaos.duration %v and up to %v after it do not fit in the -timeout left, %v",
			*chaosDuration, chaosTail, time.Until(deadline).Round(time.Second))
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos: seed %d (-chaos.seed %d replays the schedule)", seed, seed)
	loadRng := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed))
	proto := txnProtocols[loadRng.IntN(len(txnProtocols))]
	setTransactionVersion(t, c.seeds, proto.level)

	topic := newTopic(t, c.seeds, clusterPartitions)
	c.awaitFullISR(t, topic)
	l := startTxnLoad(t, c.seeds, topic, proto, loadRng)
	f := newChaosFaults(t, c, l, topic, seed)
	f.coordinator = func() int32 { return txnCoordinator(t, c.seeds, l.id) }
	began := f.play(*chaosDuration)
	l.finish()
	c.restore(t)
	c.awaitFullISR(t, topic) // the high watermark covers every write

	got := readCommittedAll(t, c.seeds, topic, l.txns)
	r := checkTxnReadBack(t, l.txns, got)
	offset := groupOffset(t, c.seeds, l.group, topic)

	var b strings.Builder
	fmt.Fprintf(&b, "chaos transactions: seed %d (replay with -chaos.seed %d), %s, %v\n", seed, seed, proto.name, time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "chaos transactions: %d faults: %s; %d aimed at the transaction coordinator\n", f.counts.total(), f.counts.summary(), f.aimed)
	fmt.Fprintf(&b, "chaos transactions: %d transactions: %d committed, %d aborted (%d by choice), %d unknown (%d of them read back); %d sent offsets\n",
		len(l.txns), l.committed.Load(), l.aborted.Load(), r.chosen, l.unknown.Load(), r.unknownSeen, r.withOffsets)
	fmt.Fprintf(&b, "chaos transactions: %d records produced, %d read back; %d retries, CommitTransaction called again %d times, "+
		"AbortTransaction %d, SendOffsetsToTransaction %d; %d producers replaced\n",
		l.next, len(got), l.retries, l.commitsAgain.Load(), l.abortsAgain.Load(), l.offsetsAgain.Load(), l.replaced.Load())
	fmt.Fprintf(&b, "chaos transactions: %d lost, %d duplicated, %d of aborted transactions read, %d unknown transactions read in part, "+
		"%d records not produced read; group offset %d, want %d", r.lost, r.duplicated, r.abortedSeen, r.partial, r.stray, offset, r.wantOffset)
	if testing.Verbose() {
		t.Log("\n" + b.String())
	} else {
		fmt.Println(b.String())
	}
	assert.Equal(t, r.wantOffset, offset, "the group's offset: that of the last transaction read back that sent one")
	requireSameRecords(t, r.want, got, "read_committed") // and in produce order per partition
}

// readCommittedAll reads topic back as a consumer of committed records,
// through the end of every partition: at least the records of the
// committed transactions.
func readCommittedAll(t *testing.T, seeds []string, topic string, txns []*chaosTxn) []readback.Record {
	t.Helper()
	least := 0
	for _, tx := range txns {
		if tx.end == txnCommitted {
			least += len(tx.recs)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, least, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err, "reading back %s (read_committed)", topic)
	return got
}

// txnReadBack is what the read-back holds against the transactions.
type txnReadBack struct {
	want        []*producer.Record // the records to read, in transaction order
	wantOffset  int64              // the group's offset to find, -1 for none
	lost        int                // records of committed transactions not read
	duplicated  int                // records read more than once, beyond the first
	abortedSeen int                // records of aborted transactions read
	partial     int                // unknown transactions read in part
	stray       int                // records read that no transaction produced
	chosen      int                // transactions aborted by choice
	unknownSeen int                // unknown transactions read whole
	withOffsets int                // transactions that sent the group's offset
}

// checkTxnReadBack holds what was read to each transaction's end: a
// committed one read whole, an aborted one not at all, an unknown one all
// or nothing; each record once, and none that no transaction produced. It
// returns the records to compare in order (requireSameRecords).
func checkTxnReadBack(t *testing.T, txns []*chaosTxn, got []readback.Record) txnReadBack {
	t.Helper()
	owner := map[uint64]int{} // record id: its transaction
	for n, tx := range txns {
		for _, rec := range tx.recs {
			id, _ := valueID(rec.Value)
			owner[id] = n
		}
	}
	r := txnReadBack{wantOffset: -1}
	read := map[uint64]int{}
	seen := make([]int, len(txns)) // distinct records read, per transaction
	var stray []string
	for _, g := range got {
		id, ok := valueID(g.Value)
		n, produced := owner[id]
		if !ok || !produced {
			stray = append(stray, fmt.Sprintf("%d@%d", g.Partition, g.Offset))
			continue
		}
		if read[id]++; read[id] == 1 {
			seen[n]++
		} else {
			r.duplicated++
		}
	}
	r.stray = len(stray)
	var wrong []string
	for n, tx := range txns {
		if tx.chosen {
			r.chosen++
		}
		if tx.offset > 0 {
			r.withOffsets++
		}
		whole := seen[n] == len(tx.recs)
		switch {
		case tx.end == txnCommitted:
			r.lost += len(tx.recs) - seen[n]
		case tx.end == txnAborted && seen[n] > 0:
			r.abortedSeen += seen[n]
			wrong = append(wrong, fmt.Sprintf("transaction %d, aborted (%v): %d of its %d records read", n, tx.why, seen[n], len(tx.recs)))
		case tx.end == txnEndUnknown && seen[n] > 0 && !whole:
			r.partial++
			wrong = append(wrong, fmt.Sprintf("transaction %d, outcome unknown (%v): %d of its %d records read", n, tx.why, seen[n], len(tx.recs)))
		case tx.end == txnEndUnknown && whole:
			r.unknownSeen++
		}
		if tx.end == txnCommitted || (tx.end == txnEndUnknown && seen[n] > 0) {
			r.want = append(r.want, tx.recs...)
			if tx.offset > 0 {
				r.wantOffset = tx.offset
			}
		}
	}
	assert.Empty(t, firstFew(wrong), "transactions read back against how they ended")
	assert.Empty(t, firstFew(stray), "records read that no transaction produced")
	assert.Zero(t, r.lost, "records of committed transactions not read back")
	assert.Zero(t, r.duplicated, "records read back more than once")
	return r
}

// groupOffset is the group's committed offset of partition 0 of topic, -1
// for none, once it is stable: the last transaction's markers may still be
// on their way to the group's offsets.
func groupOffset(t *testing.T, seeds []string, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	var offset int64
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := ctpCommitted(ctx, cl, group, topic)
		if assert.NoError(c, err, "OffsetFetch (stable)") {
			offset = got[0]
		}
	}, testTimeout, 50*time.Millisecond, "the group's stable offset of %s", topic)
	return offset
}
