package integration

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// txnSceneTopic is the topic of every scene, on a cluster of its own.
const txnSceneTopic = "transfers"

// txnEnd is how a transaction ended, as the producer told it.
type txnEnd int

const (
	txnCommitted txnEnd = iota
	txnAborted
	txnEndUnknown // the producer stopped: the coordinator decides
)

func (e txnEnd) String() string { return [...]string{"committed", "aborted", "unknown"}[e] }

// txnRecord is one record of a scene: its transaction and its outcome.
type txnRecord struct {
	txn int
	out outcome
}

// play runs the scene's transactions and checks what they left.
func (s *txnScene) play(t *testing.T, proto txnProtocol) {
	c := startCluster(t, embedded.Options{Brokers: 3, Topics: map[string]int32{txnSceneTopic: txnScenePartitions}})
	seeds := c.Addrs()
	setTransactionVersion(t, seeds, proto.level)
	stopFaults := s.injectFaults(c)
	t.Cleanup(func() { stopFaults() })
	p, _ := newTxnProducer(t, seeds, txnID(t, strconv.FormatUint(s.seed, 10)), proto, s.configure)

	var ends []txnEnd
	var recs []txnRecord
	for i := range s.txns {
		require.NoError(t, p.BeginTransaction(), "BeginTransaction %d", i)
		o := s.produceTransaction(t, p, i, len(recs))
		end, stopped := s.endTransaction(t, p, i)
		ends = append(ends, end)
		for _, out := range o.wait(t) {
			recs = append(recs, txnRecord{txn: i, out: out})
		}
		if stopped {
			break
		}
	}
	t.Logf("ends: %v; faults: %v", ends, stopFaults())
	if err := p.Close(testCtx(t)); err != nil {
		t.Logf("Close: %v", err)
	}
	s.check(t, seeds, ends, recs)
}

// produceTransaction produces transaction i's records, numbered from
// first on, flushing where the plan says.
func (s *txnScene) produceTransaction(t *testing.T, p *producer.Producer, i, first int) *outcomes {
	tx := s.txns[i]
	o := newOutcomes(len(tx.partitions))
	for j, partition := range tx.partitions {
		r := recordFor(txnSceneTopic, first+j, nil)
		r.Partition, r.ExplicitPartition = partition, true
		p.Produce(testCtx(t), r, o.callback(j))
		if tx.flushAfter[j] {
			_ = p.Flush(testCtx(t)) // may fail with the transaction
		}
	}
	return o
}

// endTransaction commits, aborts or (at closeAt) closes in transaction i,
// and reports how it ended and whether the producer can go on.
func (s *txnScene) endTransaction(t *testing.T, p *producer.Producer, i int) (end txnEnd, stopped bool) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if i == s.closeAt {
		err := p.Close(ctx)
		t.Logf("transaction %d: Close: %v", i, err)
		if err != nil {
			return txnEndUnknown, true
		}
		return txnAborted, true // Close aborts an open transaction
	}
	if s.txns[i].commit {
		err := p.CommitTransaction(ctx)
		if err == nil {
			return txnCommitted, false
		}
		t.Logf("transaction %d: CommitTransaction: %v", i, err)
		if !errors.Is(err, producer.ErrTransactionAbortable) {
			return txnEndUnknown, true
		}
	}
	if err := p.AbortTransaction(ctx); err != nil {
		t.Logf("transaction %d: AbortTransaction: %v", i, err)
		return txnEndUnknown, true
	}
	return txnAborted, false
}
