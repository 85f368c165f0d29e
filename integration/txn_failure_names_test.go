package integration

// What the transaction's error says of a failed batch's partition: every
// later call, and every record refused after, quotes it.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol/kerr"
)

// A batch of partition 0 refused (INVALID_RECORD) leaves the transaction
// to abort, and a record of partition 1 produced after is refused with the
// transaction's error, which says in words that a batch of partition 0
// failed. Before, it quoted the batch's *producer.PartitionError:
// `producer: topic "T": the transaction must be aborted: producer: topic
// "T" partition 0: ...`, the prefix twice and partition 0 named as if the
// record were of it; CommitTransaction's error was that PartitionError.
func TestTxnARecordRefusedAfterABatchFailedNamesThatBatchAsTheCause(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "refused-after"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "refused"), proto, nil)
			require.NoError(t, p.BeginTransaction())
			f := c.FailNextProduce(1, kerr.InvalidRecord.Code)
			failing := recordFor(topic, 0, nil)
			failing.Partition, failing.ExplicitPartition = 0, true
			failed := produceAll(t, p, []*producer.Record{failing})[0].err
			require.ErrorIs(t, failed, kerr.InvalidRecord, "log:\n%s", log)
			waitFault(t, f, "the refused produce")

			later := recordFor(topic, 1, nil)
			later.Partition, later.ExplicitPartition = 1, true
			refused := produceAll(t, p, []*producer.Record{later})[0].err
			require.ErrorIs(t, refused, producer.ErrTransactionAbortable, "log:\n%s", log)
			require.ErrorIs(t, refused, kerr.InvalidRecord, "the refusal says why")
			var pe *producer.PartitionError
			require.ErrorAs(t, refused, &pe)
			require.NotEqual(t, int32(0), pe.Partition, "%v", refused)
			requireOnePartitionError(t, refused)
			requireNamesPartitionOnce(t, refused, topic, 0)
			require.Contains(t, refused.Error(), "a batch of "+topic+"-0 failed")

			err := p.CommitTransaction(testCtx(t))
			require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
			require.ErrorIs(t, err, kerr.InvalidRecord, "CommitTransaction says why")
			require.False(t, errors.As(err, &pe), "CommitTransaction's error is a PartitionError: %v", err)
			requireNamesPartitionOnce(t, err, topic, 0)
			require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
		})
	}
}

// A Produce answered PRODUCER_FENCED stops the producer: a failure of the
// producer, not of the partition whose batch heard it first. Every later
// call returns it naming no partition. Before, the transaction's fatal
// error was the first failed batch's *producer.PartitionError, which
// BeginTransaction, CommitTransaction, AbortTransaction and
// SendOffsetsToTransaction quoted
// (`the transactional producer cannot continue: producer: topic "T"
// partition 0: ...`), and errors.As found it in their errors.
func TestTxnAProducerStoppedByAProduceAnswerNamesNoPartitionAfter(t *testing.T) {
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			const topic = "stopped-unnamed"
			c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
			seeds := c.Addrs()
			setTransactionVersion(t, seeds, proto.level)
			p, log := newTxnProducer(t, seeds, txnID(t, "stopped"), proto, nil)
			require.NoError(t, p.BeginTransaction())
			c.FailNextProduce(1<<20, kerr.ProducerFenced.Code)
			recs := recordsFor(topic, 3, nil)
			for i, r := range recs {
				r.Partition, r.ExplicitPartition = int32(i), true
			}
			for i, o := range produceAll(t, p, recs) {
				require.ErrorIs(t, o.err, kerr.ProducerFenced, "record %d; log:\n%s", i, log)
			}

			calls := []struct {
				name string
				call func() error
			}{
				{"CommitTransaction", func() error { return p.CommitTransaction(testCtx(t)) }},
				{"AbortTransaction", func() error { return p.AbortTransaction(testCtx(t)) }},
				{"BeginTransaction", p.BeginTransaction},
				{"SendOffsetsToTransaction", func() error {
					return p.SendOffsetsToTransaction(testCtx(t),
						[]producer.Offset{{Topic: topic, Partition: 0, Offset: 1, LeaderEpoch: -1}},
						producer.GroupMetadata{ID: txnID(t, "group"), Generation: -1})
				}},
			}
			for _, c := range calls {
				err := c.call()
				requireFenced(t, err, c.name)
				var pe *producer.PartitionError
				require.False(t, errors.As(err, &pe), "%s's error is a PartitionError: %v", c.name, err)
				require.NotContains(t, err.Error(), topic, "%s names the topic", c.name)
				require.NotContains(t, err.Error(), "partition", "%s names a partition", c.name)
			}
		})
	}
}

// A record refused before it joined a batch leaves the transaction to
// abort, and the transaction's error says in words whose record was
// refused, as for a failed batch. Produce refuses a record stamped before
// 1970 at once, its partition not chosen yet ("a record of T was
// refused"); a held record for partition 5 of a topic of one, whose
// DeliveryTimeout ends while it waits for that partition, is refused
// naming it ("a record of T-5 was refused"). Before, the transaction
// booked the refusal's *producer.PartitionError: CommitTransaction's
// error was one, and a record refused after read `producer: topic "T":
// the transaction must be aborted: producer: topic "T" partition 5: ...`.
func TestTxnARecordRefusedAfterARefusedOneNamesThatOneAsTheCause(t *testing.T) {
	scenes := []struct {
		name      string
		partition int32 // the refused record's, in the transaction's error; -1: none
		settings  func(*producer.Config)
		refused   func(topic string) *producer.Record
		want      error
	}{
		{"before 1970", -1, nil, func(topic string) *producer.Record {
			r := recordFor(topic, 0, nil)
			r.Timestamp = time.Unix(-10, 0)
			return r
		}, producer.ErrInvalidRecord},
		{"held past its DeliveryTimeout", 5, func(cfg *producer.Config) {
			cfg.Linger = producer.NoLinger
			cfg.RequestTimeout, cfg.DeliveryTimeout, cfg.MaxBlock = 500*time.Millisecond, time.Second, time.Minute
		}, func(topic string) *producer.Record {
			r := recordFor(topic, 0, nil)
			r.Partition, r.ExplicitPartition = 5, true
			return r
		}, producer.ErrDeliveryTimeout},
	}
	for _, proto := range txnProtocols {
		for _, s := range scenes {
			t.Run(proto.name+"/"+s.name, func(t *testing.T) {
				const topic = "refused-first"
				c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 1}})
				seeds := c.Addrs()
				setTransactionVersion(t, seeds, proto.level)
				p, log := newTxnProducer(t, seeds, txnID(t, "refused"), proto, s.settings)
				require.NoError(t, p.BeginTransaction())
				first := produceAll(t, p, []*producer.Record{s.refused(topic)})[0].err
				require.ErrorIs(t, first, s.want, "log:\n%s", log)

				later := recordFor(topic, 1, nil)
				later.Partition, later.ExplicitPartition = 0, true
				refused := produceAll(t, p, []*producer.Record{later})[0].err
				require.ErrorIs(t, refused, producer.ErrTransactionAbortable, "log:\n%s", log)
				require.ErrorIs(t, refused, s.want, "the refusal says why")
				requireOnePartitionError(t, refused)
				cause := "a record of " + topic + " was refused"
				if s.partition >= 0 {
					cause = fmt.Sprintf("a record of %s-%d was refused", topic, s.partition)
					requireNamesPartitionOnce(t, refused, topic, s.partition)
				}
				require.Contains(t, refused.Error(), cause)

				err := p.CommitTransaction(testCtx(t))
				require.ErrorIs(t, err, producer.ErrTransactionAbortable, "CommitTransaction; log:\n%s", log)
				require.ErrorIs(t, err, s.want, "CommitTransaction says why")
				var pe *producer.PartitionError
				require.False(t, errors.As(err, &pe), "CommitTransaction's error is a PartitionError: %v", err)
				require.Contains(t, err.Error(), cause)
				require.NoError(t, p.AbortTransaction(testCtx(t)), "log:\n%s", log)
			})
		}
	}
}

// requireOnePartitionError checks that err holds one *PartitionError, not
// another under it naming a partition again.
func requireOnePartitionError(t *testing.T, err error) {
	t.Helper()
	var pe *producer.PartitionError
	require.ErrorAs(t, err, &pe, "%v", err)
	var inner *producer.PartitionError
	require.False(t, errors.As(pe.Err, &inner), "a PartitionError under the record's: %v", err)
	require.Equal(t, 1, strings.Count(err.Error(), "producer: topic"), "%v", err)
}

// requireNamesPartitionOnce checks that err's text names topic's partition
// exactly once, as a *producer.PartitionError does ("partition 1"), or as
// "<topic>-1".
func requireNamesPartitionOnce(t *testing.T, err error, topic string, partition int32) {
	t.Helper()
	text := err.Error()
	named := strings.Count(text, fmt.Sprintf("partition %d", partition)) +
		strings.Count(text, fmt.Sprintf("%s-%d", topic, partition))
	require.Equal(t, 1, named, "times the partition is named in: %v", err)
}
