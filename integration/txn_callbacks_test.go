package integration

// Transaction calls made from a record's callback, where the outcomes
// queued behind the callback wait for it to return.

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
)

// A transaction committed from a record's callback, while another record
// of the transaction has failed and its callback waits behind the running
// one: the commit must see the failure (it is booked as it is decided, not
// when its callback runs), and the next transaction must not inherit it.
func TestTxnCommitFromACallbackSeesAFailureQueuedBehindIt(t *testing.T) {
	cases := []struct {
		name string
		// fail produces record b so that it fails while a's callback runs,
		// and returns what puts the cluster right once it has failed.
		fail func(t *testing.T, c *embedded.Cluster, p *producer.Producer, b *producer.Record, cb producer.Callback) (heal func())
	}{
		// Every attempt is sent and lost: the batch fails at its
		// DeliveryTimeout, maybe written, with no sequence to restart (a
		// failure that would restart one reaches the transaction through
		// Config.EpochNeeded as well).
		{"a batch whose every attempt lost its connection", func(t *testing.T, c *embedded.Cluster, p *producer.Producer, b *producer.Record, cb producer.Callback) func() {
			f := c.CloseConnOnNextProduce(1 << 20)
			b.Partition, b.ExplicitPartition = 1, true
			p.Produce(testCtx(t), b, cb)
			return f.Remove
		}},
		// Held for a partition the topic does not have, until MaxBlock.
		{"a record that waited for metadata in vain", func(t *testing.T, c *embedded.Cluster, p *producer.Producer, b *producer.Record, cb producer.Callback) func() {
			b.Partition, b.ExplicitPartition = 5, true
			p.Produce(testCtx(t), b, cb)
			return func() {}
		}},
	}
	for _, proto := range txnProtocols {
		for _, tc := range cases {
			t.Run(proto.name+"/"+tc.name, func(t *testing.T) {
				const topic = "commit-from-callback"
				c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
				seeds := c.Addrs()
				setTransactionVersion(t, seeds, proto.level)
				// Short timeouts, for b to fail soon; seconds for
				// DeliveryTimeout, not one, as a must be acknowledged within
				// it first on a machine that may be loaded. (a does not
				// wait for metadata, fetched before it.)
				p, log := newTxnProducer(t, seeds, txnID(t, "cb"), proto, func(cfg *producer.Config) {
					cfg.Linger = producer.NoLinger
					cfg.MaxBlock = 300 * time.Millisecond
					cfg.RequestTimeout = time.Second
					cfg.DeliveryTimeout = 3 * time.Second
				})
				awaitMetadata(t, p, topic)
				require.NoError(t, p.BeginTransaction())

				// a's callback waits until b has failed, then commits.
				type commit struct{ aErr, err error }
				inA, commitDone := make(chan struct{}), make(chan commit, 1)
				a := recordFor(topic, 0, nil)
				a.Partition, a.ExplicitPartition = 0, true
				p.Produce(testCtx(t), a, func(_ producer.RecordMetadata, err error) {
					close(inA)
					if err != nil {
						commitDone <- commit{aErr: err}
						return
					}
					// b's callback runs only after this one returns; what
					// the transaction knows of b shows in
					// BeginTransaction's refusal, which changes nothing.
					assert.Eventually(t, func() bool {
						return errors.Is(p.BeginTransaction(), producer.ErrTransactionAbortable)
					}, testTimeout, time.Millisecond, "the transaction did not learn of b's failure while a's callback ran")
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					commitDone <- commit{err: p.CommitTransaction(ctx)}
				})
				receive(t, inA, "record a got no outcome")
				bFailed := make(chan error, 1)
				heal := tc.fail(t, c, p, recordFor(topic, 1, nil), func(_ producer.RecordMetadata, err error) { bFailed <- err })

				got := receive(t, commitDone, "CommitTransaction from a's callback did not return")
				require.NoError(t, got.aErr, "record a")
				require.ErrorIs(t, got.err, producer.ErrTransactionAbortable,
					"CommitTransaction from a callback committed a transaction whose record failed; log:\n%s", log)
				require.Error(t, receive(t, bFailed, "record b got no outcome"), "record b")
				heal()

				require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
				require.NoError(t, p.BeginTransaction(), "the next transaction")
				next := recordFor(topic, 2, nil)
				next.Partition, next.ExplicitPartition = 0, true
				requireAllAcked(t, produceAll(t, p, []*producer.Record{next}))
				require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
				requireSameRecords(t, []*producer.Record{next}, readCommitted(t, seeds, topic, 1), "read_committed")
			})
		}
	}
}

// Close called from a record's callback while CommitTransaction, on
// another goroutine, waits for that record and the one behind it: Close's
// abort waits for the commit, which waited for the callbacks queued behind
// the one closing, so with context.Background() both hung for ever, and
// every callback with them. The commit must give up (its EndTxn not sent),
// failing with ErrClosed, and Close must abort the transaction: its
// records, sent in the batch the commit's flush sent, are written but never
// committed.
func TestTxnCloseFromACallbackStopsACommitWaitingForItsRecords(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "close-from-callback"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			// A long linger: both records share a batch, which only the
			// commit's flush sends.
			p, log := newTxnProducer(t, seeds, txnID(t, "close"), proto, func(cfg *producer.Config) {
				cfg.Linger = 10 * time.Second
			})
			require.NoError(t, p.BeginTransaction())
			pair := produceClosingPair(t, p, topic, 0)
			committed := make(chan error, 1)
			go func() { committed <- p.CommitTransaction(testCtx(t)) }()

			require.NoError(t, receive(t, pair.closed, "Close from the callback, with context.Background(), still waits for CommitTransaction"), "Close from the callback; log:\n%s", log)
			err := receive(t, committed, "CommitTransaction did not return once Close had")
			require.ErrorIs(t, err, producer.ErrClosed, "CommitTransaction, the producer closed under it; log:\n%s", log)
			pair.requireOneOutcomeEach(t, p, func(i int, err error) {
				require.NoError(t, err, "record %d, sent by the commit's flush", i)
			})
			readUncommitted(t, seeds, topic, 2)
			readCommitted(t, seeds, topic, 0)
		})
	}
}

// Close called from a record's callback while AbortTransaction, on another
// goroutine, waits for the callbacks of that record and the one behind it:
// Close's abort waits for the abort under way (the call lock), which waited
// for the callbacks queued behind the one closing, so with
// context.Background() both hung for ever, and every callback with them.
// The abort must wait only for the records' outcomes and end the
// transaction; Close then finds nothing left to abort.
func TestTxnCloseFromACallbackLetsAnAbortUnderWayEnd(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "close-during-abort"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			// A long linger: the two records share a batch the abort fails
			// unsent.
			p, log := newTxnProducer(t, seeds, txnID(t, "close"), proto, func(cfg *producer.Config) {
				cfg.Linger = 10 * time.Second
			})
			require.NoError(t, p.BeginTransaction())
			// A record written first, so that the transaction is under way
			// at the coordinator and the abort sends EndTxn.
			first := make(chan error, 1)
			p.Produce(testCtx(t), recordFor(topic, 0, nil), func(_ producer.RecordMetadata, err error) { first <- err })
			require.NoError(t, p.Flush(testCtx(t)))
			require.NoError(t, receive(t, first, "the first record got no outcome"), "the first record")
			pair := produceClosingPair(t, p, topic, 1)
			aborted := make(chan error, 1)
			go func() { aborted <- p.AbortTransaction(testCtx(t)) }()

			require.NoError(t, receive(t, pair.closed, "Close from the callback, with context.Background(), still waits for AbortTransaction"), "Close from the callback; log:\n%s", log)
			require.NoError(t, receive(t, aborted, "AbortTransaction did not return once Close had"), "AbortTransaction; log:\n%s", log)
			pair.requireOneOutcomeEach(t, p, func(i int, err error) {
				require.ErrorIs(t, err, producer.ErrTransactionAborted, "record %d, not sent when the transaction was aborted", i)
			})
			readUncommitted(t, seeds, topic, 1)
			readCommitted(t, seeds, topic, 0)
		})
	}
}

// A callback ending the transaction, by Close or AbortTransaction, while a
// Produce of the transaction on another goroutine waits for a batch's
// memory, which only the callbacks behind this one give back: the abort
// waits for that Produce (lest its record land in the next transaction),
// and waited until its MaxBlock (an hour here), to refuse its record then.
// The wait ends as the abort begins, and the record fails with
// ErrTransactionAborted.
func TestTxnEndedFromACallbackEndsAProduceWaitingForMemory(t *testing.T) {
	ends := []struct {
		name string
		end  func(p *producer.Producer) error
	}{
		{"Close", func(p *producer.Producer) error { return p.Close(context.Background()) }},
		{"AbortTransaction", func(p *producer.Producer) error { return p.AbortTransaction(context.Background()) }},
	}
	for _, proto := range txnProtocols {
		for _, e := range ends {
			t.Run(proto.name+"/"+e.name, func(t *testing.T) {
				const topic = "memory-from-callback"
				c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 4}})
				seeds := c.Addrs()
				setTransactionVersion(t, seeds, proto.level)
				p, log := newTxnProducer(t, seeds, txnID(t, "mem"), proto, fourBatchesOfMemory)
				_, err := p.PartitionsFor(testCtx(t), topic)
				require.NoError(t, err)
				require.NoError(t, p.BeginTransaction())
				// A batch each, of a quarter of the memory.
				record := func(partition int32) *producer.Record {
					return &producer.Record{Topic: topic, Partition: partition, ExplicitPartition: true, Value: make([]byte, 15<<10)}
				}
				inFirst, endNow, ended := make(chan struct{}), make(chan struct{}), make(chan error, 1)
				p.Produce(testCtx(t), record(0), func(producer.RecordMetadata, error) {
					close(inFirst)
					<-endNow
					ended <- e.end(p)
				})
				receive(t, inFirst, "the first record got no outcome")
				o := newOutcomes(4)
				for i := range 3 {
					p.Produce(testCtx(t), record(int32(i+1)), o.callback(i))
				}
				go p.Produce(testCtx(t), record(1), o.callback(3)) // waits for memory
				require.Eventually(t, func() bool { return p.Stats().BufferWaiters == 1 }, testTimeout, time.Millisecond, "no Produce waits for memory")
				close(endNow)

				require.NoError(t, receive(t, ended, e.name+"(context.Background()) from the callback still waits for a Produce waiting for memory"), "log:\n%s", log)
				outs := o.wait(t)
				require.ErrorIs(t, outs[3].err, producer.ErrTransactionAborted, "the record that waited for memory")
			})
		}
	}
}

// closingPair is two records produced into one batch, the first's callback
// calling Close(context.Background()): the records of the tests of Close
// from a callback while another goroutine ends the transaction.
type closingPair struct {
	outcomes [2]atomic.Int32
	errs     [2]error // each written by its record's one callback
	closed   chan error
}

// produceClosingPair produces records first and first+1 of topic.
func produceClosingPair(t *testing.T, p *producer.Producer, topic string, first int) *closingPair {
	pair := &closingPair{closed: make(chan error, 1)}
	p.Produce(testCtx(t), recordFor(topic, first, nil), func(_ producer.RecordMetadata, err error) {
		pair.outcomes[0].Add(1)
		pair.errs[0] = err
		pair.closed <- p.Close(context.Background())
	})
	p.Produce(testCtx(t), recordFor(topic, first+1, nil), func(_ producer.RecordMetadata, err error) {
		pair.outcomes[1].Add(1)
		pair.errs[1] = err
	})
	return pair
}

// requireOneOutcomeEach waits, with a Close outside the callbacks, for the
// callbacks the first Close left, then checks that each record had one
// outcome, and what it was.
func (pair *closingPair) requireOneOutcomeEach(t *testing.T, p *producer.Producer, check func(i int, err error)) {
	t.Helper()
	require.NoError(t, p.Close(testCtx(t)), "a second Close")
	for i := range pair.outcomes {
		require.EqualValues(t, 1, pair.outcomes[i].Load(), "outcomes of record %d", i)
		check(i, pair.errs[i])
	}
}
