package integration

// An EndTxn that went unanswered, its retry answered, and that the
// coordinator handles late, once the next transaction is open, against the
// embedded broker holding it.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/readback"
)

// A broker handles a request it has read even after the client gave up on
// its answer. With transactions v1 the next transaction kept the producer's
// epoch, and the coordinator applied such a late EndTxn to it: a late abort
// aborted the next transaction's first records, which the coordinator's
// fresh transaction for its later ones did not hold, and the commit
// returned nil with a record whose callback succeeded lost to
// read_committed; a late commit committed the first records of a
// transaction the producer then aborted, whose abort could even fail
// ErrTransactionFatal, nothing having fenced it. Now a v1 transaction
// whose EndTxn went unanswered ends with a new epoch (InitProducerId with
// the current one, KIP-360), under which the coordinator fences the late
// request; with v2 every EndTxn gives one.
func TestALateEndTxnDoesNotEndTheNextTransaction(t *testing.T) {
	for _, end := range []string{"commit", "abort"} {
		for _, proto := range txnProtocols {
			t.Run(end+"/"+proto.name, func(t *testing.T) {
				const topic = "t"
				c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 2}})
				seeds := c.Addrs()
				setTransactionVersion(t, seeds, proto.level)
				id := txnID(t, "late")
				p, log := newTxnProducer(t, seeds, id, proto, func(cfg *producer.Config) {
					cfg.RequestTimeout = time.Second // gives up on the held EndTxn
				})
				record := func(partition int32, value string) []*producer.Record {
					return []*producer.Record{{Topic: topic, Partition: partition, ExplicitPartition: true, Value: []byte(value)}}
				}

				// The first transaction's EndTxn is held at the
				// coordinator; the producer gives up on it and asks
				// again, and that one is answered.
				require.NoError(t, p.BeginTransaction())
				requireAllAcked(t, produceAll(t, p, record(0, "first")))
				held, release := c.HoldNext(int16(kmsg.EndTxn))
				t.Cleanup(release) // before the cluster closes
				if end == "commit" {
					require.NoError(t, p.CommitTransaction(testCtx(t)), "the first commit; log:\n%s", log)
				} else {
					require.NoError(t, p.AbortTransaction(testCtx(t)), "the first abort; log:\n%s", log)
				}
				waitFault(t, held, "the first EndTxn")

				// The next transaction writes a record; then the held
				// EndTxn reaches the coordinator, which has handled it
				// by the time it answers the DescribeTransactions after.
				require.NoError(t, p.BeginTransaction())
				requireAllAcked(t, produceAll(t, p, record(0, "next-a")))
				release()
				coordinatorEpoch(t, seeds, id)

				// The transaction goes on to another partition, and
				// ends as the first did not: only what it says is read.
				requireAllAcked(t, produceAll(t, p, record(1, "next-b")))
				want := []string{"first"}
				if end == "commit" {
					require.NoError(t, p.AbortTransaction(testCtx(t)), "the next transaction's abort; log:\n%s", log)
				} else {
					require.NoError(t, p.CommitTransaction(testCtx(t)), "the next transaction's commit; log:\n%s", log)
					want = []string{"next-a", "next-b"}
				}
				require.Equal(t, want, committedValues(t, seeds, topic), "read_committed; log:\n%s", log)
			})
		}
	}
}

// committedValues reads topic back to its end as a consumer reading
// committed records does, and gives their values by partition, then offset.
func committedValues(t *testing.T, seeds []string, topic string) []string {
	t.Helper()
	recs, err := readback.ReadAll(testCtx(t), seeds, topic, 0, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err, "reading back %s (read_committed)", topic)
	var values []string
	for _, r := range recs {
		values = append(values, string(r.Value))
	}
	return values
}
