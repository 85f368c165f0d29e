package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// misuseFailsWithin bounds a misuse's call: it must fail at once, not hang
// until its ctx (testTimeout, a minute) ends; well under that, as a loaded
// machine may take seconds even to fail at once.
const misuseFailsWithin = 20 * time.Second

// callWithin runs a transaction call and requires that it returns within
// misuseFailsWithin with an error matching want.
func callWithin(t *testing.T, what string, want error, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call(ctx) }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, want, "%s", what)
		require.Less(t, time.Since(start), misuseFailsWithin, "%s: a misuse must fail at once", what)
	case <-time.After(testTimeout):
		t.Fatalf("%s: no answer within %v", what, testTimeout)
	}
}

// Misuse of the transaction API is an error at once (ErrTransactionState),
// never a hang or a panic, and leaves the producer able to run its next
// transaction: producing outside a transaction, committing or aborting with
// none begun, beginning twice, a second InitTransactions, transaction calls
// before InitTransactions or on a producer without a TransactionalID; after
// Close, ErrClosed. Nothing a misuse offered is written.
func TestTxnMisuse(t *testing.T) {
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 2)
		offsets := []producer.Offset{{Topic: topic, Partition: 0, Offset: 1, LeaderEpoch: -1}}
		group := producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1}
		outside := func(p *producer.Producer, when string) {
			t.Helper()
			_, err := e2eProduceNow(t, p, recordFor(topic, 900, nil))
			require.ErrorIs(t, err, producer.ErrTransactionState, "Produce %s", when)
			_, err = p.Send(testCtx(t), recordFor(topic, 901, nil))
			require.ErrorIs(t, err, producer.ErrTransactionState, "Send %s", when)
			callWithin(t, "CommitTransaction "+when, producer.ErrTransactionState, p.CommitTransaction)
			callWithin(t, "AbortTransaction "+when, producer.ErrTransactionState, p.AbortTransaction)
			callWithin(t, "SendOffsetsToTransaction "+when, producer.ErrTransactionState, func(ctx context.Context) error {
				return p.SendOffsetsToTransaction(ctx, offsets, group)
			})
		}

		// A producer without a TransactionalID has no transactions.
		plain := newProducer(t, seeds, nil)
		callWithin(t, "InitTransactions without a TransactionalID", producer.ErrTransactionState, plain.InitTransactions)
		callWithin(t, "BeginTransaction without a TransactionalID", producer.ErrTransactionState,
			func(context.Context) error { return plain.BeginTransaction() })
		callWithin(t, "CommitTransaction without a TransactionalID", producer.ErrTransactionState, plain.CommitTransaction)
		callWithin(t, "AbortTransaction without a TransactionalID", producer.ErrTransactionState, plain.AbortTransaction)

		// Before InitTransactions.
		log := &txnLog{}
		p := newProducer(t, seeds, func(cfg *producer.Config) {
			cfg.TransactionalID = txnID(t, "misuse")
			cfg.Logger = log.logger()
			fastRetries(cfg)
		})
		outside(p, "before InitTransactions")
		callWithin(t, "BeginTransaction before InitTransactions", producer.ErrTransactionState,
			func(context.Context) error { return p.BeginTransaction() })
		// Each refusal names the call that comes first, rather than send
		// the caller to BeginTransaction, which is refused too.
		_, err := p.Send(testCtx(t), recordFor(topic, 902, nil))
		require.ErrorContains(t, err, "InitTransactions first", "Send before InitTransactions")
		require.ErrorContains(t, p.BeginTransaction(), "InitTransactions first", "BeginTransaction before InitTransactions")
		require.ErrorContains(t, p.CommitTransaction(testCtx(t)), "InitTransactions first", "CommitTransaction before InitTransactions")

		require.NoError(t, p.InitTransactions(testCtx(t)))
		require.Equal(t, []bool{proto.v2}, log.protocols(), "the protocol InitTransactions chose")
		callWithin(t, "a second InitTransactions", producer.ErrTransactionState, p.InitTransactions)
		outside(p, "before BeginTransaction")

		// A transaction, with misuse inside it, commits what it should.
		require.NoError(t, p.BeginTransaction())
		callWithin(t, "a second BeginTransaction", producer.ErrTransactionState,
			func(context.Context) error { return p.BeginTransaction() })
		callWithin(t, "InitTransactions in a transaction", producer.ErrTransactionState, p.InitTransactions)
		recs := recordsFor(topic, 20, nil)
		for i, r := range recs {
			r.Partition, r.ExplicitPartition = int32(i%2), true
		}
		requireAllAcked(t, produceAll(t, p, recs))
		require.NoError(t, p.CommitTransaction(testCtx(t)))
		outside(p, "after CommitTransaction")

		// An aborted transaction, then misuse again.
		require.NoError(t, p.BeginTransaction())
		requireAllAcked(t, produceAll(t, p, recordsFor(topic, 5, nil)))
		require.NoError(t, p.AbortTransaction(testCtx(t)))
		outside(p, "after AbortTransaction")

		requireSameRecords(t, recs, readCommitted(t, seeds, topic, len(recs)), "read_committed")

		require.NoError(t, p.Close(testCtx(t)))
		for what, call := range map[string]func(context.Context) error{
			"InitTransactions":  p.InitTransactions,
			"BeginTransaction":  func(context.Context) error { return p.BeginTransaction() },
			"CommitTransaction": p.CommitTransaction,
			"AbortTransaction":  p.AbortTransaction,
			"SendOffsetsToTransaction": func(ctx context.Context) error {
				return p.SendOffsetsToTransaction(ctx, offsets, group)
			},
		} {
			callWithin(t, what+" after Close", producer.ErrClosed, call)
		}
	})
}

// Close with a transaction open aborts it, as the Java client does: its
// records not sent fail with ErrTransactionAborted, those sent are never
// seen by a consumer reading committed records, and that consumer is not
// held up by a transaction left open until the coordinator times it out
// (TransactionTimeout, a minute here).
func TestTxnCloseAbortsTheOpenTransaction(t *testing.T) {
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		p, log := newTxnProducer(t, seeds, txnID(t, "close"), proto, func(cfg *producer.Config) {
			cfg.TransactionTimeout = time.Minute
		})
		require.NoError(t, p.BeginTransaction())
		committed := recordsFor(topic, 10, nil)
		requireAllAcked(t, produceAll(t, p, committed))
		require.NoError(t, p.CommitTransaction(testCtx(t)))

		require.NoError(t, p.BeginTransaction())
		requireAllAcked(t, produceAll(t, p, recordsFor(topic, 10, nil))) // written, in the open transaction
		o := newOutcomes(1)
		p.Produce(testCtx(t), recordFor(topic, 99, nil), o.callback(0)) // buffered (Linger)
		require.NoError(t, p.Close(testCtx(t)), "log:\n%s", log)
		if out := o.wait(t)[0]; out.err != nil {
			require.ErrorIs(t, out.err, producer.ErrTransactionAborted, "a record not sent when Close aborted its transaction")
		}

		// Well within the transaction timeout, a read_committed consumer
		// reads to the end: the transaction was aborted, not left open.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		got, err := readback.ReadAll(ctx, seeds, topic, len(committed), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
		require.NoError(t, err, "read_committed is held up by the transaction Close left open")
		requireSameRecords(t, committed, got, "read_committed")
	})
}
