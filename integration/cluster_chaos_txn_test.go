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
	// chaosTxnRecover bounds that wait: a transaction's calls of one kind
	// given up (chaosTxnCalls of chaosTxnCall) and a new producer's. The
	// fault has ended, so this is the recovery's bound, not the longest a
	// transaction may take, which is chaosTxnWorst.
	chaosTxnRecover = 2 * chaosTxnCalls * chaosTxnCall
	// chaosTxnWorst bounds one transaction, begin to end, the longest way
	// the load can take: Produce's waits, SendOffsetsToTransaction
	// answered on its last call, CommitTransaction answered
	// ErrTransactionAbortable on its last, AbortTransaction given up, the
	// producer closed (finishWithin) and a new one's InitTransactions.
	chaosTxnWorst = chaosTxnCall + 4*chaosTxnCalls*chaosTxnCall + finishWithin
	// chaosTxnFinish bounds the end of the transaction under way when the
	// schedule ends.
	chaosTxnFinish = chaosTxnWorst
	// chaosFaultEnd bounds the last fault from its start to the restart
	// of every broker it took down: its holds (under a minute) and two
	// restarts one after the other (overlapping), broker.sh's 2 minutes
	// each.
	chaosFaultEnd = time.Minute + 2*2*time.Minute
	// chaosTxnTail bounds what may follow the schedule's -chaos.duration,
	// as chaosTail does for TestClusterChaos: the last fault, the
	// recovery from it (and the wait for every replica in sync), the end
	// of the transaction under way, closing its producer, restarting
	// brokers left down, the wait for every replica in sync, the read-back
	// (3 testTimeout) and the group's offsets (testTimeout).
	chaosTxnTail = chaosFaultEnd + chaosTxnRecover + clusterWait + chaosTxnFinish + finishWithin +
		2*time.Minute + clusterWait + 4*testTimeout
	// chaosShortDelivery and chaosShortRequest are the DeliveryTimeout and
	// RequestTimeout that the seed picks for about half the runs (unless
	// -chaos.deliverytimeout or -chaos.requesttimeout is set): short
	// enough that records fail while brokers are down and requests go
	// unanswered, so that commits become abortable or of unknown outcome
	// and the contract's other branches run.
	chaosShortDelivery = 4 * time.Second
	chaosShortRequest  = time.Second
)

// TestClusterChaosTransactions runs transactions through
// TestClusterChaos's faults (chaosFaults; -chaos.alldown too) with a
// producer that follows its error contract: ErrTransactionAbortable
// aborts, a commit of unknown outcome is called again, and a fatal error
// or fencing replaces the producer by one with the same transactional id;
// a few commits, asked within milliseconds, are given up with their
// producer instead when the call ends without an outcome, as by a service
// that stops mid-commit (chaosTxnGiveUpPercent). The seed also picks the
// transaction protocol, and for about half the runs short timeouts
// (chaosShortDelivery). Then a read_committed consumer must see every
// committed transaction's records once each, in produce order per
// partition, nothing of an aborted one, an unknown one all or nothing,
// and nothing else; and the group's offset of each partition is that of
// the last transaction seen that sent one there.
func TestClusterChaosTransactions(t *testing.T) {
	c, seed := startChaos(t, chaosTxnTail, "-chaos.deliverytimeout, -chaos.requesttimeout, -chaos.alldown")
	loadRng := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed))
	proto := txnProtocols[loadRng.IntN(len(txnProtocols))]
	timeouts := chaosTxnTimeouts(loadRng.IntN(2) == 0)
	setTransactionVersion(t, c.seeds, proto.level)

	topic := newTopic(t, c.seeds, clusterPartitions)
	c.awaitFullISR(t, topic)
	l := startTxnLoad(t, c.seeds, topic, proto, timeouts.apply, loadRng)
	f := newChaosFaults(t, c, l, topic, seed)
	f.coordinator = func() int32 { return txnCoordinator(t, c.seeds, l.id) }
	began := f.play(*chaosDuration)
	l.finish()
	c.restore(t)
	c.awaitFullISR(t, topic) // the high watermark covers every write

	got := readCommittedAll(t, c.seeds, topic)
	r := checkTxnReadBack(t, l.txns, got)
	offsets := groupOffsets(t, c.seeds, l.group, topic)

	var b strings.Builder
	fmt.Fprintf(&b, "chaos transactions: seed %d (replay with -chaos.seed %d), %s, %s, %v\n",
		seed, seed, proto.name, timeouts.name(), time.Since(began).Round(time.Second))
	fmt.Fprintf(&b, "chaos transactions: %d faults: %s; %d aimed at the transaction coordinator\n", f.counts.total(), f.counts.summary(), f.aimed)
	fmt.Fprintf(&b, "chaos transactions: %d transactions: %d committed, %d aborted (%d by choice, %d after a failure), "+
		"%d unknown (%d of them read back); %d sent offsets\n",
		len(l.txns), l.committed.Load(), l.aborted.Load(), r.chosen, r.abortedOnFailure, l.unknown.Load(), r.unknownSeen, r.withOffsets)
	fmt.Fprintf(&b, "chaos transactions: %d records produced, %d read back; %d retries, CommitTransaction called again %d times, "+
		"AbortTransaction %d, SendOffsetsToTransaction %d; %d producers replaced, %d given up mid-commit\n",
		l.next, len(got), l.retries, l.commitsAgain.Load(), l.abortsAgain.Load(), l.offsetsAgain.Load(), l.replaced.Load(), l.abandoned.Load())
	fmt.Fprintf(&b, "chaos transactions: %d lost, %d duplicated, %d of aborted transactions read, %d unknown transactions read in part, "+
		"%d records not produced read; group offsets %v, want %v", r.lost, r.duplicated, r.abortedSeen, r.partial, r.stray, offsets, r.wantOffsets)
	if testing.Verbose() {
		t.Log("\n" + b.String())
	} else {
		fmt.Println(b.String())
	}
	assert.Equal(t, r.wantOffsets, offsets, "the group's offset of each partition: that of the last transaction read back that sent one there")
	requireSameTxnRecords(t, r.want, got, "read_committed", r.owner) // and in produce order per partition
}

// chaosTxnTimeouts are the producer's timeouts for a run.
type chaosTxnTimeouts bool

// name says which, for the report.
func (short chaosTxnTimeouts) name() string {
	switch {
	case *chaosDelivery > 0 || *chaosRequest > 0:
		return "timeouts of -chaos.deliverytimeout and -chaos.requesttimeout"
	case bool(short):
		return fmt.Sprintf("short timeouts (DeliveryTimeout %v, RequestTimeout %v)", chaosShortDelivery, chaosShortRequest)
	}
	return "default timeouts"
}

// apply sets them in cfg: the flags', or, if neither is set, the short
// ones when the seed picked them.
func (short chaosTxnTimeouts) apply(cfg *producer.Config) {
	if *chaosDelivery > 0 || *chaosRequest > 0 {
		chaosTimeouts(cfg)
	} else if short {
		cfg.DeliveryTimeout, cfg.RequestTimeout = chaosShortDelivery, chaosShortRequest
	}
}

// readCommittedAll reads topic back as a consumer of committed records,
// through the end offset of every partition: every transaction has ended,
// so whatever a committed one lacks is lost, which checkTxnReadBack
// reports with the transaction, rather than a wait for records that never
// come.
func readCommittedAll(t *testing.T, seeds []string, topic string) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, 0, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err, "reading back %s (read_committed) to the end of each partition", topic)
	return got
}

// txnReadBack is what the read-back is held to, and what the report
// counts.
type txnReadBack struct {
	// What is checked.
	want        []*producer.Record // the records to read, in transaction order
	wantOffsets map[int32]int64    // the group's offset to find per partition, -1 for none
	owner       map[uint64]int     // record id: its transaction's number

	// What the report counts.
	lost             int // records of committed transactions not read
	duplicated       int // records read more than once, beyond the first
	abortedSeen      int // records of aborted transactions read
	partial          int // unknown transactions read in part
	stray            int // records read that no transaction produced
	chosen           int // transactions aborted by choice
	abortedOnFailure int // transactions aborted after an error
	unknownSeen      int // unknown transactions read whole
	withOffsets      int // transactions that sent the group's offset
}

// checkTxnReadBack holds what was read to each transaction's end: a
// committed one read whole, an aborted one not at all, an unknown one all
// or nothing; each record once, and none that no transaction produced. It
// returns the records to compare in order (requireSameTxnRecords) and the
// group's offsets to find.
func checkTxnReadBack(t *testing.T, txns []*chaosTxn, got []readback.Record) txnReadBack {
	t.Helper()
	r := txnReadBack{wantOffsets: map[int32]int64{}, owner: map[uint64]int{}}
	for p := range int32(clusterPartitions) {
		r.wantOffsets[p] = -1
	}
	for n, tx := range txns {
		for _, rec := range tx.recs {
			id, _ := valueID(rec.Value)
			r.owner[id] = n
		}
	}
	read := map[uint64]int{}
	seen := make([]int, len(txns)) // distinct records read, per transaction
	var stray []string
	for _, g := range got {
		id, ok := valueID(g.Value)
		n, produced := r.owner[id]
		switch {
		case !ok:
			stray = append(stray, fmt.Sprintf("partition %d offset %d: a value of %d bytes", g.Partition, g.Offset, len(g.Value)))
			continue
		case !produced:
			stray = append(stray, fmt.Sprintf("partition %d offset %d: record %d, never produced", g.Partition, g.Offset, id))
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
		if w := misread(tx, n, seen[n]); w != "" {
			wrong = append(wrong, w)
		}
		r.count(tx, seen[n])
		if tx.end == txnCommitted || (tx.end == txnEndUnknown && seen[n] > 0) {
			r.want = append(r.want, tx.recs...)
			if tx.offset > 0 {
				r.wantOffsets[tx.offsetPartition] = tx.offset
			}
		}
	}
	assert.Empty(t, firstFew(wrong), "transactions read back against how they ended")
	assert.Empty(t, firstFew(stray), "records read that no transaction produced")
	assert.Zero(t, r.lost, "records of committed transactions not read back")
	assert.Zero(t, r.duplicated, "records read back more than once")
	return r
}

// misread says how transaction n, of which seen distinct records were
// read, was read against how it ended: "" if it was read right.
func misread(tx *chaosTxn, n, seen int) string {
	whole := seen == len(tx.recs)
	switch {
	case tx.end == txnCommitted && !whole:
		return fmt.Sprintf("transaction %d, committed: %d of its %d records read", n, seen, len(tx.recs))
	case tx.end == txnAborted && seen > 0:
		return fmt.Sprintf("transaction %d, aborted (%v): %d of its %d records read", n, tx.why, seen, len(tx.recs))
	case tx.end == txnEndUnknown && seen > 0 && !whole:
		return fmt.Sprintf("transaction %d, outcome unknown (%v): %d of its %d records read", n, tx.why, seen, len(tx.recs))
	}
	return ""
}

// count adds a transaction, of which seen distinct records were read, to
// the report's counts.
func (r *txnReadBack) count(tx *chaosTxn, seen int) {
	if tx.chosen {
		r.chosen++
	} else if tx.end == txnAborted {
		r.abortedOnFailure++
	}
	if tx.offset > 0 {
		r.withOffsets++
	}
	switch whole := seen == len(tx.recs); {
	case tx.end == txnCommitted:
		r.lost += len(tx.recs) - seen
	case tx.end == txnAborted:
		r.abortedSeen += seen
	case tx.end == txnEndUnknown && seen > 0 && !whole:
		r.partial++
	case tx.end == txnEndUnknown && whole:
		r.unknownSeen++
	}
}

// groupOffsets is the group's committed offset of each partition of topic,
// -1 for none, once they are stable: the last transaction's markers may
// still be on their way to the group's offsets.
func groupOffsets(t *testing.T, seeds []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	var offsets map[int32]int64
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got, err := ctpCommittedOf(ctx, cl, group, topic, clusterPartitions)
		if assert.NoError(c, err, "OffsetFetch (stable)") {
			offsets = got
		}
	}, testTimeout, 50*time.Millisecond, "the group's stable offsets of %s", topic)
	return offsets
}
