package integration

// The load of TestClusterChaosTransactions: one transactional producer
// running transaction after transaction on a goroutine of its own, each
// ended as the producer's doc comments say a program must end it, and
// booked as the producer said it ended.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol/kerr"
)

const (
	// chaosTxnAbortPercent of the transactions are aborted by choice.
	chaosTxnAbortPercent = 15
	// chaosTxnOffsetsPercent of the transactions send a group's offsets.
	chaosTxnOffsetsPercent = 25
	// chaosTxnCall bounds each call of the transaction API.
	chaosTxnCall = 10 * time.Second
	// chaosTxnCalls is how often a call is made for one transaction (or
	// InitTransactions for one producer) before the producer is given up:
	// a few minutes, past any fault of the schedule.
	chaosTxnCalls = 12
	// chaosTxnGiveUpPercent of the commits are asked, once their records
	// are flushed, within a few milliseconds (chaosTxnGiveUpWithin at
	// most: about as long as the coordinator takes to answer), and given
	// up with their producer if the call ends without an outcome, as a
	// service that stops mid-commit gives them up: whether the commit was
	// asked or not, answered or not, the transaction must be read whole
	// or not at all.
	chaosTxnGiveUpPercent = 3
	chaosTxnGiveUpWithin  = 3 * time.Millisecond
)

// chaosTxn is one transaction of the load.
type chaosTxn struct {
	recs            []*producer.Record // in the order produced
	offset          int64              // the group's offset it sent, 0 for none
	offsetPartition int32              // the partition whose offset it sent
	// end is as the producer said; txnAborted too for one never asked to
	// commit when its producer was replaced, which the next one aborts.
	end    txnEnd
	chosen bool  // aborted by choice
	why    error // what ended it, if not the call it asked for
}

// txnLoad runs transaction after transaction with one transactional id;
// the test reads its transactions once done is closed.
type txnLoad struct {
	t            *testing.T // for Logf; the loop fails no test itself
	seeds        []string
	topic, group string
	id           string
	proto        txnProtocol
	configure    func(*producer.Config) // the producers' timeouts
	rng          *rand.Rand

	p       *producer.Producer
	log     *txnLog
	retries int64 // Stats().Retries of the producers replaced
	next    int   // the next record's id

	txns []*chaosTxn // those ended, in order
	err  error       // what stopped the loop, set before done is closed
	stop chan struct{}
	done chan struct{}

	committed, aborted, unknown atomic.Int64
	commitsAgain, abortsAgain   atomic.Int64
	offsetsAgain, replaced      atomic.Int64
	abandoned                   atomic.Int64 // producers given up mid-commit
}

// startTxnLoad starts the load with a producer whose InitTransactions has
// been answered, failing the test if it cannot.
func startTxnLoad(t *testing.T, seeds []string, topic string, proto txnProtocol, configure func(*producer.Config), rng *rand.Rand) *txnLoad {
	t.Helper()
	l := &txnLoad{t: t, seeds: seeds, topic: topic, id: txnID(t, "chaos"), group: txnID(t, "chaos-group"),
		proto: proto, configure: configure, rng: rng, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.start(); err != nil {
		l.closeProducer()
		t.Fatalf("chaos: the transactional producer: %v", err)
	}
	t.Cleanup(func() {
		l.halt()
		<-l.done // bounded: each call is, and so is each transaction's number of calls
		l.closeProducer()
	})
	go l.run()
	return l
}

func (l *txnLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
}

// run is the load's goroutine.
func (l *txnLoad) run() {
	defer close(l.done)
	for n := 0; ; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		if err := l.transaction(n); err != nil {
			l.err = fmt.Errorf("transaction %d: %w", n, err)
			return
		}
	}
}

// transaction runs transaction n from its begin to its end; its error is
// the producer breaking its contract, or given up on.
func (l *txnLoad) transaction(n int) error {
	tx := &chaosTxn{}
	if err := l.p.BeginTransaction(); err != nil {
		return fmt.Errorf("BeginTransaction: %w", err)
	}
	o := l.produce(tx)
	if l.rng.IntN(100) < chaosTxnOffsetsPercent {
		if ended, err := l.sendOffsets(n, tx, o); ended || err != nil {
			return err
		}
	}
	if l.rng.IntN(100) < chaosTxnAbortPercent {
		tx.chosen = true
		return l.abort(n, tx, o, nil)
	}
	return l.commit(n, tx, o)
}

// produce produces a few dozen keyed records to several partitions.
func (l *txnLoad) produce(tx *chaosTxn) *outcomes {
	count := 24 + l.rng.IntN(25)
	first, spread := l.rng.IntN(clusterPartitions), 2+l.rng.IntN(clusterPartitions-1)
	o := newOutcomes(count)
	ctx, cancel := context.WithTimeout(context.Background(), chaosTxnCall)
	defer cancel() // the ctx bounds Produce's waits for memory and metadata, not the record
	for i := range count {
		r := recordFor(l.topic, l.next, func(int) []byte { return []byte("key-" + strconv.Itoa(i%8)) })
		r.Partition, r.ExplicitPartition = int32((first+i%spread)%clusterPartitions), true
		l.next++
		tx.recs = append(tx.recs, r)
		l.p.Produce(ctx, r, o.callback(i))
	}
	return o
}

// sendOffsets adds the group's offset of one partition, spread over them
// by the transaction's number (the offset is that number, plus one), to
// the transaction, so that each partition's committed offset names the
// last committed transaction that sent one there; ended says it ended the
// transaction instead.
func (l *txnLoad) sendOffsets(n int, tx *chaosTxn, o *outcomes) (ended bool, err error) {
	tx.offset, tx.offsetPartition = int64(n)+1, int32(n%clusterPartitions)
	offsets := []producer.Offset{{Topic: l.topic, Partition: tx.offsetPartition, Offset: tx.offset, LeaderEpoch: -1}}
	group := producer.GroupMetadata{ID: l.group, Generation: -1}
	for call := 1; ; call++ { // each pass is one call; after the switch, the call is made again
		err := l.within(func(ctx context.Context) error { return l.p.SendOffsetsToTransaction(ctx, offsets, group) })
		switch {
		case err == nil:
			return false, nil
		case endsProducer(err): // no commit was asked: the next producer's InitTransactions aborts it
			return true, l.replace(tx, txnAborted, fmt.Errorf("SendOffsetsToTransaction: %w", err))
		case errors.Is(err, producer.ErrTransactionAbortable):
			return true, l.abort(n, tx, o, err)
		case errors.Is(err, producer.ErrInvalidOffsets), errors.Is(err, producer.ErrTransactionState):
			return true, fmt.Errorf("SendOffsetsToTransaction refused valid offsets: %w", err)
		case call == chaosTxnCalls: // the offsets perhaps left out: the doc's other way out is to abort
			return true, l.abort(n, tx, o, fmt.Errorf("SendOffsetsToTransaction, %d calls: %w", call, err))
		}
		l.offsetsAgain.Add(1) // ctx ended, no coordinator answered: send them again
	}
}

// commit commits the transaction, calling CommitTransaction again while
// its outcome is unknown, or, for chaosTxnGiveUpPercent of them, giving
// the producer up instead.
func (l *txnLoad) commit(n int, tx *chaosTxn, o *outcomes) error {
	within := chaosTxnCall
	giveUp := l.rng.IntN(100) < chaosTxnGiveUpPercent
	if giveUp {
		// Flushed first, so that the short call spends its time on the
		// commit, not on the records, which take longer.
		if err := l.within(l.p.Flush); err != nil {
			l.t.Logf("chaos: transaction %d: Flush: %v", n, err)
		}
		within = time.Duration(l.rng.Int64N(int64(chaosTxnGiveUpWithin)))
	}
	for call := 1; ; call++ { // each pass is one call; after the switch, the call is made again
		err := l.withinFor(within, l.p.CommitTransaction)
		switch {
		case err == nil:
			l.ended(tx, txnCommitted)
			return everyOutcome(o, true)
		case errors.Is(err, producer.ErrTransactionAbortable):
			return l.abort(n, tx, o, err)
		case endsProducer(err):
			return l.replace(tx, txnEndUnknown, fmt.Errorf("CommitTransaction (call %d): %w", call, err))
		case errors.Is(err, producer.ErrTransactionState):
			return fmt.Errorf("CommitTransaction (call %d) refused though no SendOffsetsToTransaction failed: %w", call, err)
		case giveUp:
			return l.abandon(tx, fmt.Errorf("CommitTransaction within %v, then given up: %w", within, err))
		case call == chaosTxnCalls:
			return l.replace(tx, txnEndUnknown, fmt.Errorf("CommitTransaction, %d calls: %w", call, err))
		}
		l.commitsAgain.Add(1) // the outcome unknown, or the records still without one
		l.t.Logf("chaos: transaction %d: CommitTransaction (call %d): %v", n, call, err)
	}
}

// abort aborts the transaction, why (nil: by choice).
func (l *txnLoad) abort(n int, tx *chaosTxn, o *outcomes, why error) error {
	tx.why = why
	for call := 1; ; call++ { // each pass is one call; after the switch, the call is made again
		err := l.within(l.p.AbortTransaction)
		switch {
		case err == nil:
			l.ended(tx, txnAborted)
			return everyOutcome(o, false)
		case endsProducer(err): // never committed: the next producer's InitTransactions aborts it
			return l.replace(tx, txnAborted, fmt.Errorf("AbortTransaction (call %d): %w", call, err))
		case errors.Is(err, producer.ErrTransactionState):
			return fmt.Errorf("AbortTransaction (call %d) refused, though the transaction was not committed "+
				"(no commit was sent, or the one sent was answered ErrTransactionAbortable): %w", call, err)
		case call == chaosTxnCalls:
			return l.replace(tx, txnAborted, fmt.Errorf("AbortTransaction, %d calls: %w", call, err))
		}
		l.abortsAgain.Add(1) // ctx ended, or TRANSACTION_ABORTABLE: the doc says call it again
		l.t.Logf("chaos: transaction %d: AbortTransaction (call %d): %v", n, call, err)
	}
}

// endsProducer says the producer can do nothing more: it is fatal, or
// fenced, or stopped by the cluster.
func endsProducer(err error) bool {
	return errors.Is(err, producer.ErrTransactionFatal) || errors.Is(err, kerr.ProducerFenced) ||
		errors.Is(err, producer.ErrProducerStopped)
}

// everyOutcome checks what CommitTransaction and AbortTransaction promise
// when they return nil: every record has had its outcome, its callback
// run once; committed, every record was acknowledged on its partition.
func everyOutcome(o *outcomes, committed bool) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, r := range o.byID {
		switch {
		case r.calls != 1:
			return fmt.Errorf("record %d had %d outcomes when the transaction ended", i, r.calls)
		case committed && r.err != nil:
			return fmt.Errorf("committed, but record %d failed: %w", i, r.err)
		}
	}
	return nil
}

// ended books how the transaction ended.
func (l *txnLoad) ended(tx *chaosTxn, end txnEnd) {
	tx.end = end
	l.txns = append(l.txns, tx)
	switch end {
	case txnCommitted:
		l.committed.Add(1)
	case txnAborted:
		l.aborted.Add(1)
	default:
		l.unknown.Add(1)
	}
}

// replace books the transaction's end, closes the producer and starts one
// with the same transactional id, whose InitTransactions fences the old one
// and ends the transaction it left open.
func (l *txnLoad) replace(tx *chaosTxn, end txnEnd, why error) error {
	tx.why = why
	l.ended(tx, end)
	l.replaced.Add(1)
	l.t.Logf("chaos: the producer is replaced, its transaction %v: %v %s", end, why, l.progress())
	l.closeProducer()
	return l.start()
}

// abandon books the transaction's outcome as unknown and gives its
// producer up, as a service that stops mid-commit does, except that the
// old producer still runs while the next one, with the same transactional
// id, starts: its InitTransactions fences the old one, and ends the
// transaction as the coordinator has it, committed or aborted. The old
// one is closed after, meeting the fence.
func (l *txnLoad) abandon(tx *chaosTxn, why error) error {
	tx.why = why
	l.ended(tx, txnEndUnknown)
	l.abandoned.Add(1)
	l.t.Logf("chaos: the producer is given up, its transaction %v: %v %s", txnEndUnknown, why, l.progress())
	old := l.p
	l.p = nil // closed here, not by closeProducer too if start fails early
	err := l.start()
	l.close(old)
	return err
}

// start creates a producer and initializes its transactions, calling
// InitTransactions again while its ctx ends first.
func (l *txnLoad) start() error {
	log := &txnLog{}
	cfg := producer.Config{Brokers: l.seeds, TransactionalID: l.id, Logger: log.logger()}
	fastRetries(&cfg)
	l.configure(&cfg)
	p, err := producer.New(cfg)
	if err != nil {
		return err
	}
	for call := 1; ; call++ {
		err = l.within(p.InitTransactions)
		if err == nil {
			break
		}
		if call == chaosTxnCalls || errors.Is(err, producer.ErrTransactionFatal) {
			l.p, l.log = p, log
			return fmt.Errorf("InitTransactions (call %d): %w; its log ends:\n%s", call, err, log.last(40))
		}
	}
	l.p, l.log = p, log
	if got := log.protocols(); !slices.Equal(got, []bool{l.proto.v2}) {
		return fmt.Errorf("InitTransactions chose transactions v2: %v, want %v", got, l.proto.v2)
	}
	return nil
}

// closeProducer closes the producer, whatever its state, within
// finishWithin.
func (l *txnLoad) closeProducer() {
	if l.p != nil {
		l.close(l.p)
		l.p = nil
	}
}

// close closes p, whatever its state, within finishWithin, and counts its
// retries.
func (l *txnLoad) close(p *producer.Producer) {
	ctx, cancel := context.WithTimeout(context.Background(), finishWithin)
	defer cancel()
	if err := p.Close(ctx); err != nil && !errors.Is(err, producer.ErrClosed) {
		l.t.Logf("chaos: closing the transactional producer: %v", err)
	}
	l.retries += p.Stats().Retries
}

// within runs a transaction call bounded by chaosTxnCall.
func (l *txnLoad) within(call func(context.Context) error) error {
	return l.withinFor(chaosTxnCall, call)
}

// withinFor runs a transaction call bounded by d.
func (l *txnLoad) withinFor(d time.Duration, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return call(ctx)
}

// progress says how far the load has come.
func (l *txnLoad) progress() string {
	return fmt.Sprintf("(transactions: %d committed, %d aborted, %d unknown)",
		l.committed.Load(), l.aborted.Load(), l.unknown.Load())
}

// failure is what stopped the loop, once it has stopped.
func (l *txnLoad) failure() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// awaitProgress waits until chaosTxnProgress transactions more have
// committed, or the loop has stopped on a failure.
func (l *txnLoad) awaitProgress() {
	l.t.Helper()
	want := l.committed.Load() + chaosTxnProgress
	require.EventuallyWithT(l.t, func(c *assert.CollectT) {
		assert.True(c, l.committed.Load() >= want || l.failure() != nil, "committed transactions %s", l.progress())
	}, chaosTxnRecover, 20*time.Millisecond, "chaos: %d transactions more commit after the fault", chaosTxnProgress)
	if err := l.failure(); err != nil {
		l.t.Fatalf("chaos: the transactions stopped: %v %s", err, l.progress())
	}
}

// finish stops the loop after the transaction under way has ended, and
// closes the producer.
func (l *txnLoad) finish() {
	l.t.Helper()
	l.halt()
	select {
	case <-l.done:
	case <-time.After(chaosTxnFinish):
		l.t.Fatalf("chaos: the transaction under way did not end within %v of the schedule's end %s", chaosTxnFinish, l.progress())
	}
	if l.err != nil {
		l.t.Fatalf("chaos: the transactions stopped: %v %s", l.err, l.progress())
	}
	l.closeProducer()
}
