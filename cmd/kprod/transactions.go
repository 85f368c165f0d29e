package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	producer "github.com/gokafka/producer"
)

// Transactions: with --transactional-id (or -X transactional.id), the
// records go in transactions of --txn-size records, each committed, or,
// every --txn-abort-every-th, aborted after its records were written, so
// that a consumer reading committed records has aborted ones to skip. A
// transaction ends by its count, never by time: produce from a slow stdin
// runs into transaction.timeout.ms unless --txn-size is small, which the
// help says rather than kprod committing on a timer.

// txnOptions are the flags of transactions.
type txnOptions struct {
	id         string
	size       int64
	abortEvery int64
}

// defaultTxnSize is --txn-size's default.
const defaultTxnSize = 1000

func (o *txnOptions) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.id, "transactional-id", "", "produce in transactions under this transactional `id` (transactional.id): consumers reading committed records see each transaction whole or not at all; each ends once --txn-size records came (see there)")
	fs.Int64Var(&o.size, "txn-size", defaultTxnSize, "records per transaction: every N records are committed at once (with --transactional-id); the broker aborts a transaction open past transaction.timeout.ms (60 s), so produce from a slow stdin (tail -f, a terminal) wants a small N")
	fs.Int64Var(&o.abortEvery, "txn-abort-every", 0, "abort every K-th transaction instead of committing it, once its records are written, to test consumers (with --transactional-id); 0: never")
}

// validate checks the transaction flags against the resolved Config.
func (o *commonOptions) validateTxn(changed func(string) bool) error {
	t := o.txn
	if o.cfg.TransactionalID == "" {
		for _, f := range []string{"txn-size", "txn-abort-every"} {
			if changed(f) {
				return usagef("--%s: needs --transactional-id", f)
			}
		}
		return nil
	}
	if t.size < 1 {
		return usagef("--txn-size: %d is less than 1", t.size)
	}
	if t.abortEvery < 0 {
		return usagef("--txn-abort-every: %d is negative (0: never)", t.abortEvery)
	}
	if o.cfg.Acks != producer.AcksAll {
		return usagef("%s: transactions need %s all, not %s", o.sources.name("TransactionalID"), o.sources.name("Acks"), o.cfg.Acks)
	}
	if o.cfg.DisableIdempotence {
		return usagef("%s: transactions need idempotence, which %s turns off", o.sources.name("TransactionalID"), o.sources.name("DisableIdempotence"))
	}
	return nil
}

// recordSink is where a workload hands its records: the producer itself,
// or the transactions around it.
type recordSink interface {
	Produce(ctx context.Context, r *producer.Record, cb producer.Callback)
	Send(ctx context.Context, r *producer.Record) (producer.RecordMetadata, error)
}

// transactions puts the records handed to it in transactions of size
// records. The goroutine that hands over a transaction's last record ends
// it, holding the others back meanwhile, so that every transaction has
// exactly size records (the last one, what is left).
type transactions struct {
	p          *producer.Producer
	size       int64
	abortEvery int64
	// endWithin bounds the end of one transaction, its records' outcomes
	// included.
	endWithin time.Duration

	// meter is where the callbacks of the records handed to Produce count
	// them: the library runs a transaction's callbacks before its commit or
	// abort returns, so what it counts acked when a transaction begins are
	// the records of the transactions before it.
	meter *meter
	// sent says that the records come through Send, whose caller counts a
	// record in the meter only once Send returns, which may be after the
	// next transaction began; sendAcked counts them as their callbacks run.
	sent      atomic.Bool
	sendAcked atomic.Int64

	mu     sync.Mutex
	open   bool  // BeginTransaction was called and the transaction not ended
	inTxn  int64 // records handed to the open transaction
	ended  int64 // transactions ended, committed or aborted
	err    error // the first failure to begin or end a transaction
	counts txnCounts
	// ackedAtBegin is ackedSoFar when the open (or last) transaction
	// began: for the transaction that ended neither committed nor aborted,
	// when its records began, since no transaction begins after a failure
	// (begin).
	ackedAtBegin int64
}

// txnCounts is what the summary says of the transactions.
type txnCounts struct {
	id        string
	size      int64
	committed int64
	aborted   int64
	// recordsAborted counts the records of aborted transactions that
	// were acknowledged: written, and skipped by consumers reading
	// committed records. Those of a transaction aborted because one
	// failed may not have been written; they are not counted.
	recordsAborted int64
	// notEnded counts the transactions that ended neither committed nor
	// aborted as far as kprod knows (their commit failed, and so did the
	// abort after it, or the commit had been sent and could not be aborted,
	// or the producer can do nothing more): the first failure stops the
	// transactions, so there is one at most. recordsNotEnded counts its
	// records that were acknowledged: written, but committed by no one.
	notEnded        int64
	recordsNotEnded int64
	// outcomeUnknown: the transaction not ended had been sent to commit,
	// and the coordinator may have committed it; kprod cannot tell.
	outcomeUnknown bool
}

// startTransactions initializes the producer's transactions, before the
// clock starts.
func startTransactions(ctx context.Context, p *producer.Producer, o txnOptions, cfg producer.Config, m *meter) (*transactions, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxBlock)
	defer cancel()
	if err := p.InitTransactions(ctx); err != nil {
		what := fmt.Sprintf("initializing transactions (transactional id %s)", cfg.TransactionalID)
		return nil, brokerExitOr(ctx, what, fmt.Errorf("%s: %w", what, err))
	}
	return &transactions{
		p: p, size: o.size, abortEvery: o.abortEvery, meter: m,
		endWithin: outcomesWithin(cfg),
		counts:    txnCounts{id: cfg.TransactionalID, size: o.size},
	}, nil
}

// Produce hands r to the open transaction, beginning one if none is, and
// ends the transaction when r fills it, within ctx. After a failure to
// begin or end a transaction the producer refuses records itself, so they
// fail at once.
func (tx *transactions) Produce(ctx context.Context, r *producer.Record, cb producer.Callback) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.begin()
	tx.p.Produce(ctx, r, cb)
	tx.added(ctx)
}

// Send is Produce, then waiting for the record's outcome, outside the
// transactions' lock so that other goroutines go on meanwhile.
func (tx *transactions) Send(ctx context.Context, r *producer.Record) (producer.RecordMetadata, error) {
	type outcome struct {
		md  producer.RecordMetadata
		err error
	}
	done := make(chan outcome, 1)
	tx.sent.Store(true)
	tx.Produce(ctx, r, func(md producer.RecordMetadata, err error) {
		if err == nil {
			tx.sendAcked.Add(1)
		}
		done <- outcome{md, err}
	})
	select {
	case o := <-done:
		return o.md, o.err
	case <-ctx.Done():
		return producer.RecordMetadata{}, ctx.Err()
	}
}

// begin begins a transaction unless one is open. tx.mu must be held.
func (tx *transactions) begin() {
	if tx.open || tx.err != nil {
		return
	}
	if err := tx.p.BeginTransaction(); err != nil {
		tx.err = fmt.Errorf("beginning transaction %d: %w", tx.ended+1, err)
		return
	}
	tx.open, tx.ackedAtBegin = true, tx.ackedSoFar()
}

// ackedSoFar counts the records handed over that were acknowledged, as
// their callbacks ran.
func (tx *transactions) ackedSoFar() int64 {
	if tx.sent.Load() {
		return tx.sendAcked.Load()
	}
	return tx.meter.counts().acked
}

// added books a record handed over, and ends a full transaction within
// ctx, the Produce's, and endWithin. The Produce's ctx is what ends the
// transaction's wait after Ctrl-C: the run then flushes for flushGrace, no
// longer, and a commit that waits for a slow broker meanwhile holds up the
// producing goroutine, so the run too, until it ends; a commit it cuts
// short fails as any other (see end). tx.mu must be held.
func (tx *transactions) added(ctx context.Context) {
	if !tx.open {
		return
	}
	tx.inTxn++
	if tx.inTxn >= tx.size {
		ctx, cancel := context.WithTimeout(ctx, tx.endWithin)
		defer cancel()
		tx.end(ctx)
	}
}

// end commits the open transaction, or aborts it once its records are
// written if it is an --txn-abort-every-th; a commit that fails is
// aborted, unless it had asked the coordinator to commit: the library then
// refuses the abort (ErrTransactionState), the coordinator perhaps having
// committed the transaction, and its outcome is unknown. kprod does not
// wait to learn it. tx.mu must be held.
func (tx *transactions) end(ctx context.Context) {
	n := tx.ended + 1
	tx.open, tx.inTxn, tx.ended = false, 0, n
	if tx.abortEvery > 0 && n%tx.abortEvery == 0 {
		err := tx.p.Flush(ctx) // the records are in the log, and aborted
		if err == nil {
			err = tx.p.AbortTransaction(ctx)
		}
		tx.booked(n, false, err)
		return
	}
	err := tx.p.CommitTransaction(ctx)
	if err == nil {
		tx.booked(n, true, nil)
		return
	}
	if errors.Is(err, producer.ErrTransactionFatal) {
		tx.fail(fmt.Errorf("committing transaction %d: %w", n, err))
		tx.notEnded()
		return
	}
	abortErr := tx.p.AbortTransaction(ctx)
	if errors.Is(abortErr, producer.ErrTransactionState) {
		tx.fail(fmt.Errorf("committing transaction %d, left unaborted: %w", n, err)) // err says the outcome is unknown
		tx.counts.outcomeUnknown = true
		tx.notEnded()
		return
	}
	tx.fail(fmt.Errorf("committing transaction %d: %w", n, err))
	tx.booked(n, false, abortErr)
}

// booked counts transaction n ended: committed, or aborted (err is then
// the abort's failure, if any). An aborted transaction's records counted
// are those acknowledged since it began: the library runs its callbacks
// before the abort returns, and a record that failed was not written.
func (tx *transactions) booked(n int64, committed bool, err error) {
	switch {
	case committed:
		tx.counts.committed++
	case err == nil:
		tx.counts.aborted++
		tx.counts.recordsAborted += tx.ackedSoFar() - tx.ackedAtBegin
	default:
		tx.fail(fmt.Errorf("aborting transaction %d: %w", n, err))
		tx.notEnded()
	}
}

// notEnded counts the transaction that just failed to end, neither
// committed nor aborted; the summary counts its acknowledged records once
// they all have their outcome.
func (tx *transactions) notEnded() {
	tx.counts.notEnded++
}

// fail keeps the first failure.
func (tx *transactions) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

// finish ends the last transaction, which has fewer than --txn-size
// records, and returns the first failure of any transaction.
func (tx *transactions) finish(ctx context.Context) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.open {
		tx.end(ctx)
	}
	return tx.err
}

// summary is what the summary says of the transactions, once every record
// has its outcome. The records acknowledged since the transaction that did
// not end began are its records: the transactions stop at it, and those
// handed over later are refused.
func (tx *transactions) summary() *txnCounts {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	c := tx.counts
	if c.notEnded > 0 {
		c.recordsNotEnded = tx.ackedSoFar() - tx.ackedAtBegin
	}
	return &c
}
