package integration

// Transactions whose records fail, against the embedded broker's faults:
// the transaction becomes abortable, CommitTransaction says why at once
// (it does not wait out DeliveryTimeout for records that can no longer be
// sent), AbortTransaction settles every record, and the next transaction
// commits.

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
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
		// The broker lost its state for the producer (it says at which
		// log start offset): a transactional producer does not restart
		// the partition's sequences silently and retry, as an
		// idempotent one does under an epoch it bumps itself, but
		// leaves the transaction to abort, whose new epoch from the
		// coordinator lets the partition send again (KIP-360). So does
		// the Java client, except for a partition whose acknowledged
		// records all lie before that offset (lost to retention, or
		// none yet, as here): it restarts that partition's sequences
		// under the same epoch and goes on with the transaction.
		{"the producer unknown (UNKNOWN_PRODUCER_ID)", kerr.UnknownProducerID.Code, kerr.UnknownProducerID},
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

// A transaction that can no longer commit (a record refused as too large)
// with a record still waiting in a batch of a partition not yet admitted
// to it: the batch would only fail at the abort, yet a Flush waited for it,
// here until its ctx ended (or DeliveryTimeout). The partition is refused
// admission, its batch fails with why, and Flush returns.
func TestTxnFlushReturnsOnceTheTransactionCanNoLongerCommit(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "abortable-flush"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "flush"), proto, func(cfg *producer.Config) {
				cfg.Linger = 10 * time.Second // the batch waits for the Flush
				cfg.MaxRequestSize = 1 << 20
			})
			require.NoError(t, p.BeginTransaction())
			o := newOutcomes(2)
			waiting := recordFor(topic, 0, nil)
			waiting.Partition, waiting.ExplicitPartition = 0, true
			p.Produce(testCtx(t), waiting, o.callback(0))
			tooLarge := &producer.Record{Topic: topic, Partition: 1, ExplicitPartition: true, Value: make([]byte, 2<<20)}
			p.Produce(testCtx(t), tooLarge, o.callback(1))

			require.NoError(t, p.Flush(testCtx(t)), "log:\n%s", log)
			outs := o.wait(t)
			require.ErrorIs(t, outs[1].err, producer.ErrRecordTooLarge)
			require.ErrorIs(t, outs[0].err, producer.ErrTransactionAbortable, "the record waiting in its batch")
			require.ErrorIs(t, outs[0].err, producer.ErrRecordTooLarge, "it says why")

			require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
			require.NoError(t, p.BeginTransaction())
			next := recordFor(topic, 1, nil)
			next.Partition, next.ExplicitPartition = 0, true
			acked := newOutcomes(1)
			p.Produce(testCtx(t), next, acked.callback(0))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction (its commit sends the batch); log:\n%s", log)
			requireAllAcked(t, acked.wait(t))
			requireSameRecords(t, []*producer.Record{next}, readCommitted(t, seeds, topic, 1), "read_committed")
		})
	}
}

// A record refused before it joins a batch, here for want of memory while
// it waits for its topic's metadata, is missing from the transaction as a
// failed one is: CommitTransaction refuses to commit without it.
func TestTxnRecordRefusedWhileHeldMeansAbort(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "not-yet-known"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			// One batch of memory; the first record's batch lingers until
			// the commit, so no memory comes back before then.
			p, log := newTxnProducer(t, seeds, txnID(t, "held"), proto, func(cfg *producer.Config) {
				cfg.BatchSize, cfg.BufferMemory, cfg.Linger = 1024, 1024, time.Minute
			})
			require.NoError(t, p.BeginTransaction())
			o := newOutcomes(2)
			// The producer has not asked for the topic yet: the first
			// record waits for its metadata, holding most of the memory,
			// and the second, whose ctx allows no wait, finds too little.
			p.Produce(testCtx(t), &producer.Record{Topic: topic, Value: make([]byte, 600)}, o.callback(0))
			done, cancel := context.WithCancel(t.Context())
			cancel()
			p.Produce(done, &producer.Record{Topic: topic, Value: make([]byte, 600)}, o.callback(1))

			ctx, cancelCommit := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancelCommit()
			err := p.CommitTransaction(ctx)
			require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
			require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
			outs := o.wait(t)
			require.Error(t, outs[1].err, "the record refused for want of memory")
		})
	}
}

// A commit whose transaction failed returns the abortable error at once,
// without waiting for the other records' callbacks, nor the failed one's:
// the caller must abort anyway. AbortTransaction is the call that waits
// for them: it returns only once every callback of the transaction has
// run, so that what the callbacks wrote may be read after it. Record a's
// callback blocks until the test releases it, and record b, which fails,
// has its callback queued behind a's: the order is the test's to decide.
func TestTxnAbortAfterAFailedCommitWaitsForEveryCallback(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "abort-waits-for-callbacks"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "abort"), proto, nil)
			require.NoError(t, p.BeginTransaction())

			var aRan, bRan atomic.Bool
			inA, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
			a := recordFor(topic, 0, nil)
			a.Partition, a.ExplicitPartition = 0, true
			p.Produce(testCtx(t), a, func(_ producer.RecordMetadata, err error) {
				assert.NoError(t, err, "record a")
				close(inA)
				<-release
				aRan.Store(true)
			})
			receive(t, inA, "record a got no outcome")

			f := c.FailNextProduce(1, kerr.InvalidRecord.Code)
			b := recordFor(topic, 1, nil)
			b.Partition, b.ExplicitPartition = 1, true
			p.Produce(testCtx(t), b, func(_ producer.RecordMetadata, err error) {
				assert.ErrorIs(t, err, kerr.InvalidRecord, "record b")
				bRan.Store(true)
			})
			waitFault(t, f, "record b's produce")

			committed := make(chan error, 1)
			go func() { committed <- p.CommitTransaction(testCtx(t)) }()
			err := receive(t, committed, "CommitTransaction of a failed transaction waited for its callbacks")
			require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
			require.False(t, aRan.Load() || bRan.Load(), "a callback ran while record a's was blocked")

			// While a callback of the transaction is still to run, the
			// abort goes no further than its wait for the records: with its
			// ctx ended, it fails there (rather than send its EndTxn) and
			// may be called again.
			ended, cancel := context.WithCancel(context.Background())
			cancel()
			err = p.AbortTransaction(ended)
			require.ErrorIs(t, err, context.Canceled,
				"AbortTransaction, its ctx ended, while record a's callback was blocked; log:\n%s", log)
			require.ErrorContains(t, err, "records without an outcome",
				"AbortTransaction, its ctx ended, went past its wait for the records while record a's callback was blocked")

			type abort struct {
				err        error
				aRan, bRan bool // when AbortTransaction returned
			}
			aborted := make(chan abort, 1)
			go func() {
				err := p.AbortTransaction(testCtx(t))
				aborted <- abort{err, aRan.Load(), bRan.Load()}
			}()
			releaseOnce.Do(func() { close(release) })
			got := receive(t, aborted, "AbortTransaction did not return once the callbacks were released")
			require.NoError(t, got.err, "AbortTransaction; log:\n%s", log)
			require.True(t, got.aRan, "AbortTransaction returned before record a's callback had run")
			require.True(t, got.bRan, "AbortTransaction returned before the failed record b's callback had run")

			require.NoError(t, p.BeginTransaction(), "the next transaction")
			requireAllAcked(t, produceAll(t, p, []*producer.Record{recordFor(topic, 2, nil)}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
		})
	}
}

// A record of a transaction that times out makes the transaction
// abortable, and both the record's error and CommitTransaction's name the
// partition once, and match ErrDeliveryTimeout: the record's in its
// *producer.PartitionError, the commit's as the cause ("a batch of
// timeout-named-1 failed"). Before, the callback's named it twice (its
// PartitionError, then "1 record for timeout-named-1 had no outcome").
// Every Produce loses its connection, so the batch times out after
// DeliveryTimeout, maybe written.
func TestTxnCommitAfterADeliveryTimeoutNamesThePartitionOnce(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "timeout-named"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "timeout"), proto, func(cfg *producer.Config) {
				cfg.Linger = producer.NoLinger
				cfg.RequestTimeout = 500 * time.Millisecond
				cfg.DeliveryTimeout = time.Second
			})
			require.NoError(t, p.BeginTransaction())
			lost := c.CloseConnOnNextProduce(1 << 20)
			r := recordFor(topic, 0, nil)
			r.Partition, r.ExplicitPartition = 1, true
			failed := make(chan error, 1)
			p.Produce(testCtx(t), r, func(_ producer.RecordMetadata, err error) { failed <- err })
			recErr := receive(t, failed, "the record got no outcome")
			require.ErrorIs(t, recErr, producer.ErrDeliveryTimeout, "log:\n%s", log)
			var pe *producer.PartitionError
			require.ErrorAs(t, recErr, &pe, "%v", recErr)
			require.Equal(t, topic, pe.Topic, "%v", recErr)
			require.Equal(t, int32(1), pe.Partition, "%v", recErr)
			requireNamesPartitionOnce(t, recErr, topic, 1)

			err := p.CommitTransaction(testCtx(t))
			require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
			require.ErrorIs(t, err, producer.ErrDeliveryTimeout, "CommitTransaction says why")
			requireNamesPartitionOnce(t, err, topic, 1)
			require.Contains(t, err.Error(), "a batch of "+topic+"-1 failed")
			lost.Remove()
			require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
		})
	}
}
