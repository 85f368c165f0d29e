package integration

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// requireFatal requires that err is fatal to the transactional producer.
func requireFatal(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err, "%s: the producer was fenced", what)
	assert.ErrorIs(t, err, producer.ErrTransactionFatal, "%s", what)
}

// requireFenced requires that err is the fencing error: fatal, and the
// broker's PRODUCER_FENCED.
func requireFenced(t *testing.T, err error, what string) {
	t.Helper()
	require.Error(t, err, "%s: the producer was fenced", what)
	assert.ErrorIs(t, err, producer.ErrTransactionFatal, "%s", what)
	assert.ErrorIs(t, err, kerr.ProducerFenced, "%s", what)
}

// A second producer with the same transactional id fences the first: its
// InitTransactions aborts the transaction the first left open, and the
// first producer's next call fails with the fencing error
// (ErrTransactionFatal and PRODUCER_FENCED), as does every call after it.
// The second producer goes on. One case per call the first makes next.
func TestTxnFencing(t *testing.T) {
	const partitions = 3
	nexts := []struct {
		name string
		// call is the fenced producer's next call after the second
		// producer's InitTransactions; it returns the call's error.
		call func(t *testing.T, p *producer.Producer, topic string) error
		// kfakeV2 is what the embedded broker does instead under
		// transactions v2, where it departs from Kafka: it takes a fenced
		// producer's EndTxn (epoch one below the current, no transaction
		// open) for a retry of the abort that fenced it, so it accepts an
		// abort, handing out the new producer's epoch, and refuses a
		// commit with INVALID_TXN_STATE, fatal but not PRODUCER_FENCED.
		// Kafka 4.3.1 answers both with PRODUCER_FENCED, which the run
		// against it checks.
		kfakeV2 string
	}{
		{"CommitTransaction", func(t *testing.T, p *producer.Producer, _ string) error {
			return p.CommitTransaction(testCtx(t))
		}, "fatal"},
		{"AbortTransaction", func(t *testing.T, p *producer.Producer, _ string) error {
			return p.AbortTransaction(testCtx(t))
		}, "skip"},
		{"SendOffsetsToTransaction", func(t *testing.T, p *producer.Producer, topic string) error {
			return p.SendOffsetsToTransaction(testCtx(t),
				[]producer.Offset{{Topic: topic, Partition: 0, Offset: 1, LeaderEpoch: -1}},
				producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1})
		}, ""},
	}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		for _, next := range nexts {
			t.Run(next.name, func(t *testing.T) {
				topic := newTopic(t, seeds, partitions)
				id := txnID(t, "fenced")
				first, _ := newTxnProducer(t, seeds, id, proto, nil)

				// The first producer's transaction is open, its records
				// written.
				require.NoError(t, first.BeginTransaction())
				openRecs := recordsFor(topic, 30, nil)
				requireAllAcked(t, produceAll(t, first, openRecs))

				check := requireFenced
				if embeddedBroker() && proto.v2 {
					switch next.kfakeV2 {
					case "skip":
						t.Skip("the embedded broker accepts a fenced producer's abort under transactions v2 (see kfakeV2)")
					case "fatal":
						check = requireFatal
					}
				}
				second, _ := newTxnProducer(t, seeds, id, proto, nil)

				check(t, next.call(t, first, topic), next.name+" of the fenced producer")
				// Every later call fails the same way, at once.
				check(t, first.BeginTransaction(), "BeginTransaction after the fencing")
				check(t, first.CommitTransaction(testCtx(t)), "CommitTransaction after the fencing")
				check(t, first.AbortTransaction(testCtx(t)), "AbortTransaction after the fencing")
				_, err := first.Send(testCtx(t), recordFor(topic, 1000, nil))
				check(t, err, "Send after the fencing")

				// The second producer goes on; what the first left open
				// was aborted.
				require.NoError(t, second.BeginTransaction())
				recs := recordsFor(topic, 30, nil)
				for i, r := range recs {
					r.Value = idValue(uint64(2000+i), 100)
				}
				requireAllAcked(t, produceAll(t, second, recs))
				require.NoError(t, second.CommitTransaction(testCtx(t)))
				got := readCommitted(t, seeds, topic, len(recs))
				for _, r := range got {
					id, _ := valueID(r.Value)
					require.GreaterOrEqual(t, id, uint64(2000), "read_committed sees a record of the fenced producer's transaction")
				}
			})
		}
	})
}

// A fenced producer that produces before its next transaction call: its
// records fail (the broker refuses its epoch), the transaction cannot
// commit, and aborting it, its next transaction call, fails with the
// fencing error.
func TestTxnFencingWhileProducing(t *testing.T) {
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		id := txnID(t, "fenced")
		first, log := newTxnProducer(t, seeds, id, proto, nil)
		require.NoError(t, first.BeginTransaction())
		requireAllAcked(t, produceAll(t, first, recordsFor(topic, 10, nil)))

		newTxnProducer(t, seeds, id, proto, nil)

		outs := produceAll(t, first, recordsFor(topic, 10, nil))
		for i, o := range outs {
			require.Error(t, o.err, "record %d produced after the fencing", i)
		}
		t.Logf("a record produced after the fencing: %v", outs[0].err)
		err := first.CommitTransaction(testCtx(t))
		require.Error(t, err, "CommitTransaction with failed records")
		t.Logf("CommitTransaction: %v", err)
		if !errors.Is(err, producer.ErrTransactionFatal) {
			require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
			err = first.AbortTransaction(testCtx(t))
			t.Logf("AbortTransaction: %v", err)
		}
		requireFenced(t, err, "the fenced producer's transaction call")
		requireFenced(t, first.BeginTransaction(), "BeginTransaction after the fencing")
	})
}

// A transactional producer's identity reaches HookProducerID, as an
// idempotent producer's does: the id and epoch InitTransactions got, not
// Bumped, then, with transactions v2, the epoch each transaction's end
// bumps under that id, Bumped. The coordinator's answers went to the
// accumulator alone: the hook heard nothing (promhooks' producer_epoch
// stayed -1), and an epoch a partition's restart bumped came as a new id.
func TestTxnHookProducerIDHearsTheCoordinatorsIDAndEpochs(t *testing.T) {
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		topic := newTopic(t, seeds, 1)
		ids := &producerIDs{}
		p, log := newTxnProducer(t, seeds, txnID(t, "ids"), proto, func(cfg *producer.Config) {
			cfg.Hooks = []producer.Hook{ids}
		})
		const transactions = 2
		for range transactions {
			require.NoError(t, p.BeginTransaction())
			_, err := p.Send(testCtx(t), &producer.Record{Topic: topic, Value: []byte("v")})
			require.NoError(t, err)
			require.NoError(t, p.CommitTransaction(testCtx(t)))
		}
		require.NoError(t, p.Close(testCtx(t))) // the hooks have heard all by then

		got := ids.heard()
		want := 1
		if proto.v2 {
			want += transactions
		}
		require.Len(t, got, want, "ProducerID events: %+v; log:\n%s", got, log)
		require.False(t, got[0].Bumped, "the id InitTransactions got: %+v", got[0])
		for i, e := range got[1:] {
			require.Equal(t, bumped(got[i]), e, "the epoch transaction %d's end bumped", i+1)
		}
	})
}

// bumped is the identity after id's epoch was bumped.
func bumped(id producer.ProducerID) producer.ProducerID {
	return producer.ProducerID{ID: id.ID, Epoch: id.Epoch + 1, Bumped: true}
}

// producerIDs is a HookProducerID that keeps what it hears.
type producerIDs struct {
	mu  sync.Mutex
	ids []producer.ProducerID
}

func (h *producerIDs) OnProducerID(id producer.ProducerID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ids = append(h.ids, id)
}

func (h *producerIDs) heard() []producer.ProducerID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]producer.ProducerID(nil), h.ids...)
}

// A transaction the coordinator timed out (TransactionTimeout), which it
// aborted under a new epoch. With transactions v1 the coordinator answers
// the abort's EndTxn, under the old epoch, PRODUCER_FENCED, as it answers a
// producer another one took over: the producer is fatal, as the Java
// client's is. With v2 it takes the abort as a retry of its own, answered
// with the new epoch (Kafka since KAFKA-19367, and kfake), and the producer
// goes on.
func TestTxnATransactionTheCoordinatorTimedOut(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "t"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			id := txnID(t, "timeout")
			p, log := newTxnProducer(t, seeds, id, proto, func(cfg *producer.Config) {
				// Long enough for the record to be acknowledged first on
				// a loaded machine, as the test wants.
				cfg.TransactionTimeout = 2 * time.Second
			})
			// The epoch before the transaction starts: read after its
			// records, it could already be the one the timeout gave (the
			// timeout runs from the transaction's start), and the wait
			// below for a later one would never end.
			epoch := coordinatorEpoch(t, seeds, id)
			require.NoError(t, p.BeginTransaction())
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("timed out")}}))
			awaitEpochAbove(t, seeds, id, epoch, 20*time.Millisecond, "the coordinator timed the transaction out")

			err := p.AbortTransaction(testCtx(t))
			if !proto.v2 {
				requireFenced(t, err, "AbortTransaction of a transaction the coordinator timed out")
				return
			}
			require.NoError(t, err, "AbortTransaction; log:\n%s", log)
			require.NoError(t, p.BeginTransaction())
			requireAllAcked(t, produceAll(t, p, []*producer.Record{{Topic: topic, Value: []byte("next")}}))
			require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction; log:\n%s", log)
			require.Equal(t, "next", string(readCommitted(t, seeds, topic, 1)[0].Value))
		})
	}
}
