package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol/kerr"
)

// The abort of a transaction whose records wait for their topic's
// metadata (held records), or whose Produce calls are still under way.

// An abort fails the records of its transaction held for metadata that has
// not come (a partition the topic does not have, or a topic that does not
// exist) with ErrTransactionAborted at once, and so does Close, which
// aborts first. Before, AbortTransaction waited for them until its ctx or
// their MaxBlock ("records without an outcome: flush: records waiting for
// metadata"), and they then failed with ErrUnknownTopic.
func TestTxnAbortFailsTheHeldRecords(t *testing.T) {
	ends := []struct {
		name string
		end  func(ctx context.Context, p *producer.Producer) error
	}{
		{"AbortTransaction", func(ctx context.Context, p *producer.Producer) error { return p.AbortTransaction(ctx) }},
		{"Close", func(ctx context.Context, p *producer.Producer) error { return p.Close(ctx) }},
	}
	helds := []struct {
		name string
		rec  *producer.Record
	}{
		{"missing partition", &producer.Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("held")}},
		{"unknown topic", &producer.Record{Topic: "unknown", Value: []byte("held")}},
	}
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			for _, end := range ends {
				for _, held := range helds {
					t.Run(end.name+"/"+held.name, func(t *testing.T) {
						p, log := newTxnProducer(t, seeds, txnID(t, "held"), proto, func(cfg *producer.Config) {
							cfg.MaxBlock = time.Hour // a record that waits its MaxBlock out outlasts the test
						})
						require.NoError(t, p.BeginTransaction())
						o := newOutcomes(2)
						p.Produce(testCtx(t), &producer.Record{Topic: "t", Value: []byte("sent")}, o.callback(0))
						p.Produce(testCtx(t), held.rec, o.callback(1))
						ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
						defer cancel()
						require.NoError(t, end.end(ctx, p), "%s with a held record; log:\n%s", end.name, log)
						outs := o.wait(t)
						require.ErrorIs(t, outs[1].err, producer.ErrTransactionAborted, "the held record")
					})
				}
			}
			readCommitted(t, seeds, "t", 0)
		})
	}
}

// waitingForHeldMemory waits, bounded, until a goroutine waits in the
// producer for memory to hold a record for its topic's metadata
// (reserveHeld): by then its Produce has been admitted to the transaction
// for good. A hook's OnRecordBuffered said so too early: hooks run outside
// the admission, which Produce takes again after them, so an abort begun
// on the hook's word could end before that, and the record was refused as
// produced outside a transaction instead of failing with the abort.
func waitingForHeldMemory(t *testing.T) {
	t.Helper()
	waitingIn(t, "producer.(*Producer).reserveHeld(", "no Produce waits for memory to hold its record")
}

// waitingIn waits, bounded, until a goroutine's stack shows fn: the one
// sign of a wait inside the producer that a test outside it can read.
func waitingIn(t *testing.T, fn, what string) {
	t.Helper()
	require.Eventually(t, func() bool { return stacksShow(fn) }, testTimeout, time.Millisecond, what)
}

// stacksShow reports whether some goroutine's stack shows fn.
func stacksShow(fn string) bool { return strings.Contains(bounded.Stacks(), fn) }

// A record whose Produce began in a transaction and was still under way
// when AbortTransaction began (it waited for memory to be held for its
// topic's metadata) belongs to the aborted transaction: it fails with
// ErrTransactionAborted. Before, the abort neither waited for it nor failed
// it once held: it was appended once its topic appeared, in the next
// transaction, and committed with it, its callback reporting success.
func TestTxnARecordProducedBeforeAnAbortIsNotCommittedInTheNext(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "next"), proto, func(cfg *producer.Config) {
				// Held records may reserve BufferMemory less one batch:
				// room for one of the two below.
				cfg.BatchSize, cfg.BufferMemory = 1024, 2048
			})
			require.NoError(t, p.BeginTransaction())
			o := newOutcomes(2)
			p.Produce(testCtx(t), &producer.Record{Topic: "a", Value: make([]byte, 600)}, o.callback(0))
			go p.Produce(testCtx(t), &producer.Record{Topic: "b", Value: make([]byte, 600)}, o.callback(1))
			waitingForHeldMemory(t) // the record of b

			aborted := make(chan error, 1)
			go func() { aborted <- p.AbortTransaction(testCtx(t)) }()
			// One ctx for every probe: testCtx registers a cleanup, and the
			// condition runs each tick, on a goroutine of testify's.
			probeCtx := testCtx(t)
			require.Eventually(t, func() bool {
				return errors.Is(produceOne(probeCtx, p, &producer.Record{Topic: "t", Value: []byte("probe")}), producer.ErrTransactionState)
			}, testTimeout, time.Millisecond, "Produce refused: the abort began")
			// Lets the first record be appended, freeing the memory the
			// second waits for, if the abort has not failed it.
			require.NoError(t, c.CreateTopic("a", 1))
			require.NoError(t, receive(t, aborted, "AbortTransaction did not return"), "AbortTransaction; log:\n%s", log)

			require.NoError(t, p.BeginTransaction())
			require.NoError(t, c.CreateTopic("b", 1))
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: "t", Value: []byte("next")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "log:\n%s", log)
			outs := o.wait(t)
			require.ErrorIs(t, outs[1].err, producer.ErrTransactionAborted,
				"the record produced in the aborted transaction (offset %d if written)", outs[1].md.Offset)
			readCommitted(t, seeds, "b", 0)
		})
	}
}

// produceOne produces r within ctx and returns its error if Produce refused
// it at once; a record it took (appended, or held) reports nil.
func produceOne(ctx context.Context, p *producer.Producer, r *producer.Record) error {
	refused := make(chan error, 1)
	p.Produce(ctx, r, func(_ producer.RecordMetadata, err error) {
		select {
		case refused <- err:
		default:
		}
	})
	select {
	case err := <-refused:
		return err
	default:
		return nil
	}
}

// fourBatchesOfMemory gives a producer four 16 KiB batches of memory,
// sends each batch at once, and lets a Produce wait for memory, or a record
// for its topic, far longer than a test lasts: what waits for memory waits
// until something frees it.
func fourBatchesOfMemory(cfg *producer.Config) {
	cfg.BufferMemory = 64 << 10
	cfg.BatchSize = 16 << 10
	cfg.Linger = producer.NoLinger
	cfg.MaxBlock = time.Hour
	cfg.DeliveryTimeout = 2 * time.Hour
}

// Close from a callback, with a transaction open and a record that waited
// for its topic's metadata now waiting for a batch's memory, which only the
// callbacks behind the current one give back: the abort Close begins with
// ends that wait, failing the record with ErrTransactionAborted. Before,
// the abort's flush waited for the record, and Close with it, until
// MaxBlock (an hour here).
func TestTxnCloseFromACallbackEndsAHeldRecordsWaitForMemory(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 4}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			// The held record reserves half a batch of the memory until its
			// topic appears.
			p, log := newTxnProducer(t, seeds, txnID(t, "cb"), proto, fourBatchesOfMemory)
			_, err := p.PartitionsFor(testCtx(t), "t")
			require.NoError(t, err)
			require.NoError(t, p.BeginTransaction())
			closeNow := make(chan struct{})
			closed := make(chan error, 1)
			held, o := holdARecordWaitingForMemory(t, c, p, func() {
				<-closeNow
				closed <- p.Close(context.Background())
			})

			close(closeNow)
			require.NoError(t, receive(t, closed, "Close from a callback, a transaction open, did not return"), "Close from the callback; log:\n%s", log)
			require.ErrorIs(t, held.wait(t)[0].err, producer.ErrTransactionAborted, "the held record")
			o.wait(t)
		})
	}
}

// AbortTransaction while a record that waited for its topic's metadata
// waits for a batch's memory, which the callback holding up the delivery
// goroutine keeps back, ends that wait and fails the record with one
// sentence under its PartitionError, as the abort's other records read.
// Before, the abort's words came before the PartitionError, which then
// told how the pool's wait ended: "transaction aborted: while the record
// waited for its batch's memory: producer: topic "late" partition 0:
// waiting for buffer memory: context canceled".
func TestTxnAbortEndsAHeldRecordsWaitForMemoryInOneSentence(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Topics: map[string]int32{"t": 4}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "abort"), proto, fourBatchesOfMemory)
			_, err := p.PartitionsFor(testCtx(t), "t")
			require.NoError(t, err)
			require.NoError(t, p.BeginTransaction())
			release := make(chan struct{})
			held, o := holdARecordWaitingForMemory(t, c, p, func() { <-release })

			aborted := make(chan error, 1)
			go func() { aborted <- p.AbortTransaction(testCtx(t)) }()
			// The abort ends the wait at once; the record's callback runs
			// once the blocker's has.
			require.Eventually(t, func() bool { return p.Stats().BufferWaiters == 0 }, testTimeout, time.Millisecond, "the held record's append still waiting")
			close(release)
			require.NoError(t, receive(t, aborted, "AbortTransaction did not return"), "log:\n%s", log)
			err = held.wait(t)[0].err
			require.EqualError(t, err, `producer: topic "late" partition 0: transaction aborted: while the record waited for its batch's memory`)
			require.ErrorIs(t, err, producer.ErrTransactionAborted)
			require.NotErrorIs(t, err, context.Canceled, "the abort, not the record's ctx, ended the wait")
			o.wait(t)
		})
	}
}

// An abort that must bump the epoch (transactions v1, a record refused) is
// cut short while its InitProducerId is held at the coordinator, which,
// once released, bumps the epoch for an answer nobody reads.
// AbortTransaction, called again as its doc allows, and Close, which
// aborts too, end the transaction and the next one commits. Before, the
// call made again sent EndTxn(abort) again under the old epoch, which the
// coordinator, now an epoch on, answered PRODUCER_FENCED: the producer was
// fatal.
func TestTxnAnAbortCalledAgainAfterItsEpochBumpWasCutShortGoesOn(t *testing.T) {
	ends := []struct {
		name string
		end  func(ctx context.Context, p *producer.Producer) error
		next bool // a next transaction follows
	}{
		{"AbortTransaction", func(ctx context.Context, p *producer.Producer) error { return p.AbortTransaction(ctx) }, true},
		{"Close", func(ctx context.Context, p *producer.Producer) error { return p.Close(ctx) }, false},
	}
	proto := txnProtocols[0] // v2 gets its new epoch from EndTxn itself
	const topic = "t"
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
	seeds := c.Addrs()
	setTransactionVersion(t, seeds, proto.level)
	for _, end := range ends {
		t.Run(end.name, func(t *testing.T) {
			id := txnID(t, "bump")
			p, log := newTxnProducer(t, seeds, id, proto, nil)
			require.NoError(t, p.BeginTransaction())
			f := c.FailNextProduce(1, kerr.InvalidRecord.Code)
			outs := produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("refused")}})
			waitFault(t, f, "the refused produce")
			require.ErrorIs(t, outs[0].err, kerr.InvalidRecord)

			epoch := coordinatorEpoch(t, seeds, id)
			held, release := c.HoldNext(int16(kmsg.InitProducerID))
			t.Cleanup(release)
			ctx, cancel := context.WithCancel(t.Context())
			aborted := make(chan error, 1)
			go func() { aborted <- p.AbortTransaction(ctx) }()
			waitFault(t, held, "the abort's InitProducerId")
			cancel()
			err := receive(t, aborted, "AbortTransaction did not return after its ctx ended")
			require.ErrorIs(t, err, context.Canceled)
			release()
			awaitEpochAbove(t, seeds, id, epoch, 10*time.Millisecond, "the held InitProducerId bumped the epoch")

			require.NoError(t, end.end(testCtx(t), p), "%s after the abort was cut short; log:\n%s", end.name, log)
			if !end.next {
				return
			}
			require.NoError(t, p.BeginTransaction())
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("next")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
			readCommitted(t, seeds, topic, 1)
		})
	}
}

// An abort fails the record its topic's drain has in hand, waiting for the
// topic's partitions after a lagging broker called the topic unknown, with
// ErrTransactionAborted, at once, also when it is the last record held
// before the abort: the abort ends the wait, and the record, of the
// aborted transaction, may neither wait again (the abort would wait for it
// until its MaxBlock, an hour here) nor be appended, into the next
// transaction. Record A, blocked in the partitioner until the broker
// lags, keeps the drain from reaching record B before then.
func TestTxnAnAbortFailsAHeldRecordWaitingMidDrainForItsTopic(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			entered, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
			part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
				if string(key) == "A" {
					close(entered)
					<-release
				}
				return 0
			})
			p, log := newTxnProducer(t, seeds, txnID(t, "drain"), proto, func(cfg *producer.Config) {
				cfg.Partitioner = part
				cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, 2*time.Hour
			})
			require.NoError(t, p.BeginTransaction())
			o := newOutcomes(2)
			p.Produce(testCtx(t), &producer.Record{Topic: "late", Key: []byte("A")}, o.callback(0))
			p.Produce(testCtx(t), &producer.Record{Topic: "late", Key: []byte("B")}, o.callback(1))
			require.NoError(t, c.CreateTopic("late", 1))
			receive(t, entered, "the drain did not reach record A")

			stop := fixedMetadata(t, c, "late", func(m *kmsg.MetadataResponse) {
				for i := range m.Topics {
					m.Topics[i].ErrorCode = kerr.UnknownTopicOrPartition.Code
					m.Topics[i].Partitions = nil
				}
			})
			defer stop()
			require.Eventually(t, func() bool {
				nudge, cancel := context.WithCancel(t.Context())
				cancel()
				_, _ = p.PartitionsFor(nudge, "nudge") // a topic it lacks: a refresh
				ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
				defer cancel()
				_, err := p.PartitionsFor(ctx, "late") // at once while known
				return err != nil
			}, testTimeout, time.Millisecond, "the lagging answer applied")
			releaseOnce.Do(func() { close(release) })
			waitingIn(t, "producer.(*Producer).awaitMetadata(", "the drain waiting with record B for the topic's partitions")

			require.NoError(t, p.AbortTransaction(testCtx(t)), "AbortTransaction; log:\n%s", log)
			outs := o.wait(t)
			require.ErrorIs(t, outs[1].err, producer.ErrTransactionAborted, "record B")
		})
	}
}

// holdARecordWaitingForMemory sets the scene of a record that waited for
// its topic's metadata and now waits for a batch's memory, in a transaction
// begun on p (fourBatchesOfMemory, topic "t" of four partitions): a record
// of partition 0 whose callback runs blocker holds up the delivery
// goroutine, so that no batch's memory comes back until blocker returns; a
// record for "late", not a topic yet, is held; one record for each other
// partition of "t" takes what memory is left, the last waiting for the held
// record's; and once "late" is created the held record's memory goes back
// as its drain begins, the Produce waiting takes it, and the held record's
// append waits. held has the held record's outcome, others those of "t".
func holdARecordWaitingForMemory(t *testing.T, c *embedded.Cluster, p *producer.Producer, blocker func()) (held, others *outcomes) {
	t.Helper()
	entered := make(chan struct{})
	p.Produce(testCtx(t), &producer.Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("blocker")}, func(producer.RecordMetadata, error) {
		close(entered)
		blocker()
	})
	receive(t, entered, "the blocker's callback did not run")
	held = newOutcomes(1)
	p.Produce(testCtx(t), &producer.Record{Topic: "late", Value: make([]byte, 8<<10)}, held.callback(0))
	others = newOutcomes(3)
	p.Produce(testCtx(t), &producer.Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("a")}, others.callback(0))
	p.Produce(testCtx(t), &producer.Record{Topic: "t", Partition: 2, ExplicitPartition: true, Value: []byte("b")}, others.callback(1))
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		p.Produce(testCtx(t), &producer.Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("c")}, others.callback(2))
	}()
	require.Eventually(t, func() bool { return p.Stats().BufferWaiters == 1 }, testTimeout, time.Millisecond, "a Produce waiting for memory")
	require.NoError(t, c.CreateTopic("late", 1))
	receive(t, waited, "the Produce waiting for memory never got it")
	require.Eventually(t, func() bool { return p.Stats().BufferWaiters == 1 }, testTimeout, time.Millisecond, "the held record's append waiting")
	return held, others
}
