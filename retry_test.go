package producer

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// produceN produces n numbered records to t-0 and waits for all outcomes.
func produceN(t *testing.T, p *Producer, n int) *outcomes {
	t.Helper()
	o := newOutcomes(n)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i), Partition: 0, ExplicitPartition: true}, o.cb(i))
	}
	o.wait(t, "produce")
	return o
}

// requireDelivered checks that records 0..n-1 were each acknowledged once,
// at the offset that holds it, and that the fake holds each exactly once,
// in order.
func requireDelivered(t *testing.T, c *fakebroker.Cluster, o *outcomes, n int) {
	t.Helper()
	want := make([][]byte, n)
	for i := range n {
		want[i] = value(0, i)
	}
	requireExactlyOnceInOrder(t, c, "t", 0, want)
	for i := range n {
		out := o.one(t, i)
		require.NoError(t, out.err, "record %d", i)
		require.Equal(t, int64(i), out.md.Offset, "record %d: acknowledged at the offset that holds it", i)
	}
}

func TestRetriableErrorsAreRetried(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.NotLeaderOrFollower, kerr.RequestTimedOut, kerr.NotEnoughReplicas} {
		t.Run(code.Name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
			c.OnProduce(failFirst(3, fakebroker.FailAll(code, "try again")))
			// One request in flight keeps the retried batch ahead of later
			// ones, so the order can be checked too.
			p := newProducer(t, c, func(cfg *Config) { cfg.MaxInFlight = 1 })
			o := produceN(t, p, 50)
			requireDelivered(t, c, o, 50)
			require.GreaterOrEqual(t, p.Stats().Retries, int64(3))
		})
	}
}

func TestNonRetriableErrorFailsWithBrokerMessage(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.InvalidRecord, "the broker says no")))
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, kerr.InvalidRecord)
	require.Contains(t, err.Error(), "the broker says no")
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, int32(0), pe.Partition)
	require.Empty(t, c.Records("t", 0))
	require.Zero(t, p.Stats().Retries, "a non-retriable error is not retried")

	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
}

// A batch the broker refuses for one record it names (KIP-467) fails that
// record with the broker's error and its word on it, and the others with
// ErrBatchRefused, which does not match the broker's error: produced again,
// they are written. Before, all four failed with INVALID_RECORD.
func TestABatchRefusedForOneRecordFailsTheOthersWithErrBatchRefused(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	bad := "the record has no key, and the topic is compacted"
	p, o := refusedBatch(t, c, 4, &fakebroker.Failure{Err: kerr.InvalidRecord, Message: "one record is invalid",
		RecordErrors: []protocol.ProduceResponseRecordError{{BatchIndex: 2, BatchIndexErrorMessage: &bad}}})
	for i := range 4 {
		err := o.one(t, i).err
		var pe *PartitionError
		require.ErrorAs(t, err, &pe, "record %d", i)
		require.Equal(t, int32(0), pe.Partition)
		if i == 2 {
			require.ErrorIs(t, err, kerr.InvalidRecord)
			require.NotErrorIs(t, err, ErrBatchRefused)
			require.Contains(t, err.Error(), bad)
			require.Equal(t, "INVALID_RECORD", ErrorName(err))
			continue
		}
		require.ErrorIs(t, err, ErrBatchRefused, "record %d", i)
		require.NotErrorIs(t, err, kerr.InvalidRecord, "record %d", i)
		require.NotErrorIs(t, err, ErrMaybeWritten, "record %d", i)
		require.Contains(t, err.Error(), "INVALID_RECORD", "record %d's error names what refused its batch", i)
		require.Equal(t, "BATCH_REFUSED", ErrorName(err))
	}

	again := newOutcomes(3)
	for i, v := range []int{0, 1, 3} {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, v)}, again.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	again.wait(t, "the records produced again")
	for i := range 3 {
		require.NoError(t, again.one(t, i).err, "record %d, produced again", i)
	}
	require.Len(t, c.Records("t", 0), 3)
}

// refusedBatch produces n records to partition 0 of c's topic "t" in one
// batch, whose first Produce the broker refuses with f, and returns the
// producer and the records' outcomes, once every record has one.
func refusedBatch(t *testing.T, c *fakebroker.Cluster, n int, f *fakebroker.Failure) (*Producer, *outcomes) {
	t.Helper()
	c.OnProduce(failFirst(1, fakebroker.Action{All: f}))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Linger, cfg.BatchSize = time.Minute, 1<<20 // one batch takes every record
	})
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "the refused batch")
	return p, o
}

// A batch refused for two or more records it names fails each with
// INVALID_RECORD and the broker's word on that record, as the Java client
// does: the answer's one code need not be theirs. Kafka answers
// INVALID_TIMESTAMP for a batch with a timestamp out of range and, on a
// compacted topic, a record without a key, naming both. Before, the record
// refused for its key matched kerr.InvalidTimestamp and was named
// INVALID_TIMESTAMP.
func TestABatchRefusedForTwoRecordsFailsEachWithInvalidRecordAndItsOwnWord(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	stamp := "Timestamp 0 of message with offset 0 is out of range."
	key := "Compacted topic cannot accept message without key in topic partition t-0"
	partition := "One or more records have been rejected due to invalid timestamp"
	_, o := refusedBatch(t, c, 3, &fakebroker.Failure{Err: kerr.InvalidTimestamp, Message: partition,
		RecordErrors: []protocol.ProduceResponseRecordError{
			{BatchIndex: 0, BatchIndexErrorMessage: &stamp}, {BatchIndex: 1, BatchIndexErrorMessage: &key}}})
	for i, word := range []string{stamp, key} {
		err := o.one(t, i).err
		require.ErrorIs(t, err, kerr.InvalidRecord, "record %d", i)
		require.NotErrorIs(t, err, kerr.InvalidTimestamp, "record %d: the answer's code may not be its own", i)
		require.NotErrorIs(t, err, ErrBatchRefused, "record %d", i)
		require.Equal(t, "INVALID_RECORD", ErrorName(err), "record %d", i)
		require.Contains(t, err.Error(), word, "record %d", i)
		require.NotContains(t, err.Error(), partition, "record %d: the partition's word is not its own", i)
	}
	err := o.one(t, 2).err
	require.ErrorIs(t, err, ErrBatchRefused, "the record not named")
	require.NotErrorIs(t, err, kerr.InvalidRecord, "the record not named")
	require.Contains(t, err.Error(), "INVALID_TIMESTAMP", "the record not named: its error names what refused its batch")
}

// MESSAGE_TOO_LARGE on a batch of many records splits it until the halves
// fit (KIP-126); every record is delivered, in order.
func TestMessageTooLargeSplitsTheBatch(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true, MaxMessageBytes: 2000})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = 16 << 10
		cfg.Linger = time.Hour // one big batch, sent by Flush
		cfg.DeliveryTimeout = 2 * time.Hour
		cfg.MaxInFlight = 1
	})
	const n = 40
	o := newOutcomes(n)
	for i := 0; i < n; i++ {
		p.Produce(ctx(t), &Record{Topic: "t", Value: append(value(0, i), make([]byte, 300)...), Partition: 0, ExplicitPartition: true}, o.cb(i))
	}
	require.NoError(t, p.Flush(ctx(t)))
	o.wait(t, "split batches")
	log := c.Records("t", 0)
	require.Len(t, log, n)
	for i := 0; i < n; i++ {
		out := o.one(t, i)
		require.NoError(t, out.err)
		require.Equal(t, int64(i), out.md.Offset)
		require.Equal(t, value(0, i), log[i].Value[:len(value(0, i))])
	}
	require.Positive(t, p.Stats().Splits)
}

// A leader that moved is named by the old leader's answer (KIP-951); the
// batch goes to the new leader. Metadata is frozen before the move, so the
// hint is the only way to learn of it: without the hint the record would
// bounce off the old leader until the test's context ends.
func TestLeaderMoveFollowsTheHint(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: value(0, 0)})
	require.NoError(t, err)
	leader, _, err := c.Leader("t", 0)
	require.NoError(t, err)
	c.FreezeMetadata()
	require.NoError(t, c.SetLeader("t", 0, 1-leader))

	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: value(0, 1)})
	require.NoError(t, err)
	require.Equal(t, int64(1), md.Offset)
	require.Equal(t, value(0, 1), c.Records("t", 0)[1].Value)
	require.Positive(t, p.Stats().Retries, "the first attempt went to the old leader")
}

// Before Produce v10 there is no hint: NOT_LEADER_OR_FOLLOWER makes the
// producer refresh metadata, which names the new leader.
func TestLeaderMoveWithoutHintRefreshesMetadata(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, KeepRecords: true,
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Produce: {Min: 3, Max: 9}}})
	p := newProducer(t, c, func(cfg *Config) { cfg.MetadataMaxAge = time.Hour })
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: value(0, 0)})
	require.NoError(t, err)
	leader, _, err := c.Leader("t", 0)
	require.NoError(t, err)
	require.NoError(t, c.SetLeader("t", 0, 1-leader))
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: value(0, 1)})
	require.NoError(t, err)
	require.Equal(t, int64(1), md.Offset)
	require.Equal(t, value(0, 1), c.Records("t", 0)[1].Value)
}

func TestDroppedConnectionIsRetried(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	c.OnProduce(failFirst(1, fakebroker.Action{Drop: true}))
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxInFlight = 1 })
	o := produceN(t, p, 20)
	requireDelivered(t, c, o, 20)
	require.GreaterOrEqual(t, c.Connections(), int64(2), "a new connection replaced the dropped one")
}

// A reply slower than RequestTimeout: the producer gives up on the
// connection and retries on a new one, where the record is acknowledged.
// The fake appends the slow request when its delay ends, if the test has
// not ended by then: after the retry, under the same sequence, so the
// idempotent producer's broker takes it for a duplicate. The record has
// one outcome either way.
func TestSlowReplyIsRetriedOnANewConnection(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	c.OnProduce(failFirst(1, fakebroker.Action{Delay: 2 * time.Second}))
	p := newProducer(t, c, func(cfg *Config) { cfg.RequestTimeout = 300 * time.Millisecond })
	before := c.Connections()
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("slow")})
	require.NoError(t, err)
	require.GreaterOrEqual(t, md.Offset, int64(0))
	require.Greater(t, c.Connections(), before, "the retry needed a new connection")
	require.Positive(t, p.Stats().Retries)
}

// A broker that never answers: the record fails with ErrDeliveryTimeout
// once DeliveryTimeout has passed, after retries on fresh connections.
func TestDeliveryTimeoutWhenBrokerNeverAnswers(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	p := newProducer(t, c, func(cfg *Config) {
		cfg.RequestTimeout = 200 * time.Millisecond
		cfg.DeliveryTimeout = 500 * time.Millisecond
	})
	began := time.Now()
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("lost")})
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.False(t, errors.Is(err, ErrClosed))
	require.Less(t, time.Since(began), waitFor/2, "bounded by DeliveryTimeout, not by the test's wait")
}

// A record refused with NOT_ENOUGH_REPLICAS (the broker did not append it)
// whose DeliveryTimeout passes while it waits out its retry backoff fails
// with ErrDeliveryTimeout, certainly not written, and is not sent again:
// the sender, woken by the backoff's end before the expiry loop, once sent
// it after its deadline, and the expiry loop, finding it in flight, failed
// it as maybe written.
func TestARecordWhoseDeliveryTimeoutPassesDuringItsRetryBackoffIsNotSentAgain(t *testing.T) {
	for _, idem := range []bool{true, false} {
		t.Run(fmt.Sprintf("idempotent=%v", idem), func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
			c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
				return fakebroker.FailAll(kerr.NotEnoughReplicas, "")
			})
			clk := clock.NewFake(time.Unix(1_700_000_000, 0))
			p := newProducer(t, c, func(cfg *Config) {
				cfg.clock = clk
				cfg.DisableIdempotence = !idem
				cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 9*time.Second, NoLinger
			})
			learnTopic(t, p, clk, "t") // the loop paces itself on the fake clock
			o := newOutcomes(1)
			p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
			eventually(t, "the refused batch back for a retry", func() bool { return p.Stats().Retries > 0 })
			clk.Advance(10 * time.Second) // past the backoff and the DeliveryTimeout
			o.wait(t, "the record at its DeliveryTimeout")
			err := o.one(t, 0).err
			require.ErrorIs(t, err, ErrDeliveryTimeout)
			require.ErrorIs(t, err, kerr.NotEnoughReplicas, "the timeout names the last error")
			require.False(t, errors.Is(err, ErrMaybeWritten), "refused each time it was sent: certainly not written (%v)", err)
			require.Equal(t, int64(1), c.ProduceRequests(), "sent again after its DeliveryTimeout")
		})
	}
}
