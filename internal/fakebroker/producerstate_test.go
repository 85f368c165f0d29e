package fakebroker

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/record"
)

// idempotent starts a one-partition cluster keeping records, and a
// connection to it; send produces one batch to t-0 and returns the answer.
func idempotent(t *testing.T) (c *Cluster, send func(b []byte) *protocol.ProduceResponsePartition) {
	t.Helper()
	c = start(t, Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	cn := dial(t, c, 0, conn.Config{})
	return c, func(b []byte) *protocol.ProduceResponsePartition {
		t.Helper()
		_, p := produce(t, cn, 12, "t", 0, b)
		return p
	}
}

// requireAppended checks an answer of success at offset base.
func requireAppended(t *testing.T, p *protocol.ProduceResponsePartition, base int64) {
	t.Helper()
	require.Zero(t, p.ErrorCode, "error %d", p.ErrorCode)
	require.Equal(t, base, p.BaseOffset)
}

// requireRefused checks an answer of err, as Kafka sends it.
func requireRefused(t *testing.T, p *protocol.ProduceResponsePartition, err *kerr.Error) {
	t.Helper()
	require.Equal(t, err.Code, p.ErrorCode, "want %s", err.Name)
	require.Equal(t, int64(-1), p.BaseOffset)
	require.Equal(t, int64(-1), p.LogAppendTimeMs)
	require.Zero(t, p.LogStartOffset, "the log start offset, not -1")
	require.Nil(t, p.ErrorMessage)
}

// values lists the stored values of t-0, in offset order.
func values(c *Cluster) []string {
	var out []string
	for _, r := range c.Records("t", 0) {
		out = append(out, string(r.Value))
	}
	return out
}

func TestProducerSequencesInOrder(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 0, 0, "a", "b", "c")), 0)
	requireAppended(t, send(stamped(t, 7, 0, 3, "d")), 3)
	requireAppended(t, send(stamped(t, 7, 0, 4, "e", "f")), 4)

	recs := c.Records("t", 0)
	require.Equal(t, []string{"a", "b", "c", "d", "e", "f"}, values(c))
	for i, r := range recs {
		require.Equal(t, int64(7), r.ProducerID)
		require.Equal(t, int16(0), r.ProducerEpoch)
		require.Equal(t, int32(i), r.Sequence, "a record's sequence is its batch's base plus its delta")
	}
	st, ok := c.ProducerState("t", 0, 7)
	require.True(t, ok)
	require.Equal(t, ProducerState{Epoch: 0, Batches: []BatchMetadata{
		{FirstSequence: 0, LastSequence: 2, BaseOffset: 0},
		{FirstSequence: 3, LastSequence: 3, BaseOffset: 3},
		{FirstSequence: 4, LastSequence: 5, BaseOffset: 4},
	}}, st)
	require.Equal(t, int32(5), st.LastSequence())
	require.Zero(t, c.DuplicateBatches()+c.OutOfOrderBatches()+c.InvalidEpochBatches())
}

func TestProducerSequenceGapIsOutOfOrder(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 0, 0, "a", "b")), 0)
	requireRefused(t, send(stamped(t, 7, 0, 3, "d")), kerr.OutOfOrderSequenceNumber)
	requireRefused(t, send(stamped(t, 7, 0, 1, "b")), kerr.OutOfOrderSequenceNumber) // overlaps, not a cached range
	require.Equal(t, int64(2), c.OutOfOrderBatches())
	requireAppended(t, send(stamped(t, 7, 0, 2, "c")), 2)
	require.Equal(t, []string{"a", "b", "c"}, values(c), "refused batches append nothing")
	require.Equal(t, int64(3), c.HighWatermark("t", 0))
}

// A retry is recognised by its whole sequence range, as Kafka's
// findDuplicateBatch does: a batch that starts where a retained one did but
// ends elsewhere is no retry of it, and as it does not follow the last
// sequence either, it is out of order. Taken for a duplicate, a producer
// resending other records under a sequence already used would see them
// acknowledged and never written.
func TestProducerSameFirstSequenceOtherRangeIsNoDuplicate(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 0, 0, "a", "b")), 0)
	requireAppended(t, send(stamped(t, 7, 0, 2, "c")), 2)
	requireRefused(t, send(stamped(t, 7, 0, 0, "a")), kerr.OutOfOrderSequenceNumber)
	requireRefused(t, send(stamped(t, 7, 0, 2, "c", "d")), kerr.OutOfOrderSequenceNumber)
	require.Zero(t, c.DuplicateBatches())
	require.Equal(t, int64(2), c.OutOfOrderBatches())
	require.Equal(t, []string{"a", "b", "c"}, values(c))
}

// A retry of any of the producer's last 5 batches is answered with success
// and the offset the original got, and not appended again.
func TestProducerDuplicateOfEachOfTheLastFive(t *testing.T) {
	c, send := idempotent(t)
	var sent [][]byte
	for i := 0; i < 5; i++ {
		v := string(rune('a' + i))
		b := stamped(t, 7, 0, int32(2*i), v, v+v)
		sent = append(sent, b)
		requireAppended(t, send(b), int64(2*i))
	}
	for i, b := range sent {
		p := send(b)
		requireAppended(t, p, int64(2*i))
		require.Equal(t, int64(1001), p.LogAppendTimeMs, "Kafka answers a duplicate with its batch's max timestamp")
		require.Zero(t, p.LogStartOffset)
	}
	require.Equal(t, int64(5), c.DuplicateBatches())
	require.Len(t, c.Records("t", 0), 10, "nothing appended twice")
	require.Equal(t, int64(10), c.ProduceCount())
	requireAppended(t, send(stamped(t, 7, 0, 10, "f")), 10)
}

// The sixth batch back is forgotten: its retry is out of order.
func TestProducerDuplicateOlderThanFiveIsOutOfOrder(t *testing.T) {
	c, send := idempotent(t)
	var sent [][]byte
	for i := 0; i < 6; i++ {
		b := stamped(t, 7, 0, int32(i), string(rune('a'+i)))
		sent = append(sent, b)
		requireAppended(t, send(b), int64(i))
	}
	requireRefused(t, send(sent[0]), kerr.OutOfOrderSequenceNumber)
	requireAppended(t, send(sent[1]), 1)
	require.Equal(t, int64(1), c.OutOfOrderBatches())
	require.Equal(t, int64(1), c.DuplicateBatches())
	require.Len(t, c.Records("t", 0), 6)
}

// A higher epoch starts again at sequence 0 and forgets the old epoch's
// batches; the old epoch is then refused, retries included.
func TestProducerEpochBump(t *testing.T) {
	c, send := idempotent(t)
	old := stamped(t, 7, 0, 0, "a", "b")
	requireAppended(t, send(old), 0)
	// The same sequence range at the new epoch is new data, not a retry.
	requireAppended(t, send(stamped(t, 7, 1, 0, "c", "d")), 2)

	st, _ := c.ProducerState("t", 0, 7)
	require.Equal(t, ProducerState{Epoch: 1, Batches: []BatchMetadata{{FirstSequence: 0, LastSequence: 1, BaseOffset: 2}}}, st)
	requireRefused(t, send(old), kerr.InvalidProducerEpoch)
	requireRefused(t, send(stamped(t, 7, 0, 2, "x")), kerr.InvalidProducerEpoch)
	require.Equal(t, int64(2), c.InvalidEpochBatches())
	requireAppended(t, send(stamped(t, 7, 1, 2, "e")), 4)
	require.Equal(t, []string{"a", "b", "c", "d", "e"}, values(c))
	require.Zero(t, c.DuplicateBatches())
}

func TestProducerNewEpochMustStartAtZero(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 0, 0, "a", "b")), 0)
	requireRefused(t, send(stamped(t, 7, 1, 2, "c")), kerr.OutOfOrderSequenceNumber)
	require.Equal(t, int64(1), c.OutOfOrderBatches())
	st, _ := c.ProducerState("t", 0, 7)
	require.Equal(t, int16(0), st.Epoch, "a refused batch changes nothing")
}

// Sequences wrap from math.MaxInt32 to 0, within a batch and between
// batches.
func TestProducerSequenceWraps(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 0, math.MaxInt32-1, "a", "b", "c")), 0)
	st, _ := c.ProducerState("t", 0, 7)
	require.Equal(t, BatchMetadata{FirstSequence: math.MaxInt32 - 1, LastSequence: 0, BaseOffset: 0}, st.Batches[0])
	requireAppended(t, send(stamped(t, 7, 0, 1, "d")), 3)
	var seqs []int32
	for _, r := range c.Records("t", 0) {
		seqs = append(seqs, r.Sequence)
	}
	require.Equal(t, []int32{math.MaxInt32 - 1, math.MaxInt32, 0, 1}, seqs)

	// A batch ending exactly at the top is followed by 0.
	requireAppended(t, send(stamped(t, 8, 0, math.MaxInt32-1, "e", "f")), 4)
	requireRefused(t, send(stamped(t, 8, 0, math.MaxInt32, "g")), kerr.OutOfOrderSequenceNumber)
	requireAppended(t, send(stamped(t, 8, 0, 0, "g")), 6)
}

// A producer the partition knows nothing of may start anywhere: its state
// expired, or its records were deleted.
func TestProducerWithoutStateAcceptsAnySequence(t *testing.T) {
	c, send := idempotent(t)
	requireAppended(t, send(stamped(t, 7, 3, 42, "a")), 0)
	requireAppended(t, send(stamped(t, 7, 3, 43, "b")), 1)

	c.ForgetProducer(7)
	_, ok := c.ProducerState("t", 0, 7)
	require.False(t, ok)
	requireAppended(t, send(stamped(t, 7, 3, 1000, "c")), 2)
	requireAppended(t, send(stamped(t, 7, 3, 1001, "d")), 3)
	require.Equal(t, []string{"a", "b", "c", "d"}, values(c))
	require.Zero(t, c.OutOfOrderBatches())
}

// Batches without a producer id are appended as ever: no sequence, no
// duplicate detection.
func TestNonIdempotentBatchesAreUnaffected(t *testing.T) {
	c, send := idempotent(t)
	b := batch(t, "a", "b")
	requireAppended(t, send(b), 0)
	requireAppended(t, send(b), 2)
	odd := batch(t, "c")
	record.StampProducer(odd, record.NoProducerID, record.NoProducerEpoch, 77, false)
	requireAppended(t, send(odd), 4)
	require.Equal(t, []string{"a", "b", "a", "b", "c"}, values(c))
	for _, r := range c.Records("t", 0)[:4] {
		require.Equal(t, record.NoProducerID, r.ProducerID)
		require.Equal(t, record.NoProducerEpoch, r.ProducerEpoch)
		require.Equal(t, record.NoSequence, r.Sequence)
	}
	require.Zero(t, c.DuplicateBatches())

	// Between a producer's batches, they do not disturb it.
	requireAppended(t, send(stamped(t, 7, 0, 0, "d")), 5)
	requireAppended(t, send(batch(t, "e")), 6)
	requireAppended(t, send(stamped(t, 7, 0, 1, "f")), 7)
	require.Equal(t, []string{"a", "b", "a", "b", "c", "d", "e", "f"}, values(c))
}

// Kafka refuses a batch with a producer id and no sequence as an invalid
// record.
func TestProducerIDWithoutSequenceIsInvalid(t *testing.T) {
	c, send := idempotent(t)
	requireRefused(t, send(stamped(t, 7, 0, -1, "a")), kerr.InvalidRecord)
	require.Zero(t, c.HighWatermark("t", 0))
}

// State is per partition and per producer, and it moves with leadership,
// as Kafka replicates it: a retry sent to a new leader is a duplicate.
func TestProducerStateIsPerPartitionAndSurvivesLeaderMoves(t *testing.T) {
	c := start(t, Options{Nodes: 2, Topics: map[string]int32{"t": 2}, Leader: func(string, int32) int32 { return 0 }})
	cn := dial(t, c, 0, conn.Config{})
	b := stamped(t, 7, 0, 0, "a")
	_, p := produce(t, cn, 12, "t", 0, b)
	requireAppended(t, p, 0)
	_, p = produce(t, cn, 12, "t", 1, stamped(t, 7, 0, 9, "x"))
	requireAppended(t, p, 0)
	_, p = produce(t, cn, 12, "t", 0, stamped(t, 8, 0, 4, "y"))
	requireAppended(t, p, 1)

	require.NoError(t, c.SetLeader("t", 0, 1))
	cn1 := dial(t, c, 1, conn.Config{})
	_, p = produce(t, cn1, 12, "t", 0, b)
	requireAppended(t, p, 0)
	require.Equal(t, int64(1), c.DuplicateBatches())
	_, p = produce(t, cn1, 12, "t", 0, stamped(t, 7, 0, 1, "b"))
	requireAppended(t, p, 2)
}

// An answer lost after the append is the case idempotence exists for: the
// producer's retry, on a new connection, is a duplicate.
func TestProducerRetryAfterLostAnswerIsDuplicate(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action { return Action{LoseAnswer: true} })
	cn := dial(t, c, 0, conn.Config{})
	b := stamped(t, 7, 0, 0, "a", "b")
	_, err := request(t, cn, produceReq(1, "t", map[int32][]byte{0: b}), 12)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	require.Equal(t, int64(2), c.HighWatermark("t", 0), "appended before the answer was lost")

	c.OnProduce(nil)
	_, p := produce(t, dial(t, c, 0, conn.Config{}), 12, "t", 0, b)
	requireAppended(t, p, 0)
	require.Equal(t, int64(1), c.DuplicateBatches())
	require.Equal(t, []string{"a", "b"}, values(c))
}

// The check adds no allocation to an append: the producer state is a value
// copied in place, and its map entry is made once per producer.
func TestProducerStateCheckDoesNotAllocate(t *testing.T) {
	c := start(t, Options{Topics: map[string]int32{"t": 1}})
	s := &session{c: c, n: c.nodes[0]}
	plain, idem := batch(t, "a", "b", "c"), batch(t, "a", "b", "c")
	var rp protocol.ProduceResponsePartition
	seq := int32(0)
	appendIdem := func() {
		record.StampProducer(idem, 7, 0, seq, false)
		seq += 3
		s.appendPartition(&rp, "t", 0, idem, 12)
	}
	appendPlain := func() { s.appendPartition(&rp, "t", 0, plain, 12) }
	appendIdem() // the producer's first batch makes its entry
	require.Zero(t, rp.ErrorCode)

	base := testing.AllocsPerRun(100, appendPlain)
	withState := testing.AllocsPerRun(100, appendIdem)
	require.Zero(t, rp.ErrorCode)
	require.Equal(t, base, withState, "allocations per append, without and with a producer id")
	require.Zero(t, c.OutOfOrderBatches())
}

// BenchmarkAppend measures one partition's append of a 10-record batch,
// stamp and decode included, without and with a producer id: what
// idempotence costs the fake per batch.
func BenchmarkAppend(b *testing.B) {
	for _, idem := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "idempotent"}[idem]
		b.Run(name, func(b *testing.B) {
			c, err := Start(Options{Topics: map[string]int32{"t": 1}})
			require.NoError(b, err)
			defer c.Close()
			s := &session{c: c, n: c.nodes[0]}
			var bld record.Builder
			bld.Reset(make([]byte, 0, 4096))
			for i := 0; i < 10; i++ {
				bld.Append(int64(1000+i), []byte("key"), make([]byte, 100), nil)
			}
			data, err := bld.Close(record.CloseOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1})
			require.NoError(b, err)
			var rp protocol.ProduceResponsePartition
			seq := int32(0)
			b.ReportAllocs()
			for b.Loop() {
				if idem {
					record.StampProducer(data, 7, 0, seq, false)
					seq = addSeq(seq, 10)
				} else {
					record.StampProducer(data, record.NoProducerID, record.NoProducerEpoch, record.NoSequence, false)
				}
				s.appendPartition(&rp, "t", 0, data, 12)
			}
			require.Zero(b, rp.ErrorCode)
		})
	}
}

// An injected OUT_OF_ORDER_SEQUENCE_NUMBER meets a retry of the producer's
// last batch as Kafka would: it recognises the duplicate even after a
// restart from its snapshot, so the answer is the duplicate's. A retry of
// an earlier batch, which such a broker no longer recognises, and a new
// batch are refused as injected.
func TestAnInjectedOutOfOrderGivesWayToADuplicateOfTheLastBatch(t *testing.T) {
	c, send := idempotent(t)
	first, last := stamped(t, 7, 0, 0, "a"), stamped(t, 7, 0, 1, "b")
	requireAppended(t, send(first), 0)
	requireAppended(t, send(last), 1)
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action {
		return Action{Partitions: map[TopicPartition]*Failure{{Topic: "t", Partition: 0}: {Err: kerr.OutOfOrderSequenceNumber}}}
	})
	requireAppended(t, send(last), 1)
	require.Equal(t, int64(1), c.DuplicateBatches())
	p := send(first)
	require.Equal(t, kerr.OutOfOrderSequenceNumber.Code, p.ErrorCode)
	p = send(stamped(t, 7, 0, 2, "c"))
	require.Equal(t, kerr.OutOfOrderSequenceNumber.Code, p.ErrorCode)
	require.Equal(t, []string{"a", "b"}, values(c))
}

// REQUEST_TIMED_OUT and NOT_ENOUGH_REPLICAS_AFTER_APPEND come from Kafka
// only after the leader appended the batch (acks=all then timed out, or
// the ISR shrank), and a Failure marked Appended, such as a
// KAFKA_STORAGE_ERROR, comes so too: the batch is in the log, the answer
// carries its base offset and the log start offset, and its retry is a
// duplicate. Data the append refuses keeps its refusal. Before, the fake
// wrote nothing and answered base offset -1.
func TestAFailureAfterTheAppendWritesTheBatch(t *testing.T) {
	for _, f := range []*Failure{
		{Err: kerr.RequestTimedOut},
		{Err: kerr.NotEnoughReplicasAfterAppend},
		{Err: kerr.KafkaStorageError, Appended: true},
	} {
		t.Run(f.Err.Name, func(t *testing.T) {
			c, send := idempotent(t)
			requireAppended(t, send(stamped(t, 7, 0, 0, "a")), 0)
			c.OnProduce(func(int32, *protocol.ProduceRequest) Action { return Action{All: f} })
			b := stamped(t, 7, 0, 1, "b", "c")
			p := send(b)
			require.Equal(t, f.Err.Code, p.ErrorCode)
			require.Equal(t, int64(1), p.BaseOffset, "the append's base offset")
			require.Zero(t, p.LogStartOffset)
			require.Equal(t, int64(-1), p.LogAppendTimeMs)
			require.Equal(t, []string{"a", "b", "c"}, values(c), "written before the error")
			requireRefused(t, send(stamped(t, 7, 0, 9, "x")), kerr.OutOfOrderSequenceNumber)

			c.OnProduce(nil)
			requireAppended(t, send(b), 1)
			require.Equal(t, int64(1), c.DuplicateBatches())
			require.Equal(t, []string{"a", "b", "c"}, values(c))
		})
	}
}

// A KAFKA_STORAGE_ERROR not marked Appended is a refusal before the append,
// as Kafka's answer with base offset -1 is.
func TestAFailureBeforeTheAppendWritesNothing(t *testing.T) {
	c, send := idempotent(t)
	c.OnProduce(func(int32, *protocol.ProduceRequest) Action { return FailAll(kerr.KafkaStorageError, "") })
	p := send(stamped(t, 7, 0, 0, "a"))
	require.Equal(t, kerr.KafkaStorageError.Code, p.ErrorCode)
	require.Equal(t, int64(-1), p.BaseOffset)
	require.Empty(t, values(c))
}
