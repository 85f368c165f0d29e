package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// requireExactlyOnceInOrder checks that partition p of topic holds values
// want, each once, in that order.
func requireExactlyOnceInOrder(t *testing.T, c *fakebroker.Cluster, topic string, p int32, want [][]byte) {
	t.Helper()
	got := c.Records(topic, p)
	require.Len(t, got, len(want), "records stored in %s-%d", topic, p)
	for i, r := range got {
		require.Equal(t, string(want[i]), string(r.Value), "%s-%d offset %d", topic, p, i)
	}
}

// The fault idempotence exists for: the broker writes a batch and its
// answer is lost. The retry is recognised as a duplicate, and the records
// are stored once, in order, though several batches were in flight.
func TestLostAnswersDoNotDuplicateOrReorder(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	var requests atomic.Int64
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		// Lose the answers to the 2nd and 3rd requests, after the append.
		n := requests.Add(1)
		return fakebroker.Action{LoseAnswer: n == 2 || n == 3}
	})
	p := newProducer(t, c, func(cfg *Config) { cfg.BatchSize = 1024; cfg.Linger = NoLinger })
	const n = 200
	o := newOutcomes(n)
	var want [][]byte
	for i := range n {
		v := append(value(0, i), make([]byte, 100)...) // several batches in flight
		want = append(want, v)
		p.Produce(ctx(t), &Record{Topic: "t", Value: v, Partition: 0, ExplicitPartition: true}, o.cb(i))
	}
	o.wait(t, "records")
	for i := range n {
		out := o.one(t, i)
		require.NoError(t, out.err, "record %d", i)
		require.Equal(t, int64(i), out.md.Offset, "record %d: its offset is its place", i)
	}
	requireExactlyOnceInOrder(t, c, "t", 0, want)
	require.Positive(t, c.DuplicateBatches(), "the retries of written batches reached the broker as duplicates")
	require.Equal(t, int64(1), c.InitProducerIdRequests(), "one producer id, asked for lazily")
}

// A broker that forgot the producer (producer.id.expiration.ms passed on an
// idle partition) takes any first sequence. The first request of a burst
// refused before any append, and the requests pipelined behind it written,
// its records would have been written after theirs, all acknowledged: they
// fail instead, not written, and the rest are stored once, in order.
func TestARequestPassedByAForgetfulBrokerFails(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	// The warm-up's request, then the burst's first two: counted from
	// here, as the hook may hear of the warm-up's write after its answer.
	written := &requestsWritten{}
	threeWritten := written.await(3)
	p := holdingProducer(t, c, written)
	first := []byte("before the partition went idle")
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: first, Partition: 0, ExplicitPartition: true})
	require.NoError(t, err)
	c.ForgetProducer(c.Records("t", 0)[0].ProducerID)

	// The first request of the burst is held until the producer has
	// written another behind it (the broker acknowledged the partition
	// before, so it pipelines), then refused. A fixed delay could end
	// before a slow sender wrote the second, and then none was passed.
	pipelined := make(chan bool, 1)
	var seen atomic.Int64
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if seen.Add(1) > 1 {
			return fakebroker.Action{}
		}
		holdUntil(threeWritten, pipelined)
		return fakebroker.Action{All: &fakebroker.Failure{Err: kerr.NotEnoughReplicas}}
	})
	const n = 20
	o, values := produceABatchEach(t, p, n)
	require.True(t, bounded.Receive(t, pipelined, 2*waitFor, "the broker saw no request of the burst"),
		"no request was written behind the held one (%v)", waitFor)
	o.wait(t, "records")
	want := [][]byte{first}
	for i := range n {
		if err := o.one(t, i).err; err != nil {
			require.ErrorIs(t, err, kerr.NotEnoughReplicas, "record %d", i)
			require.NotErrorIs(t, err, ErrMaybeWritten, "record %d was refused, never written", i)
			continue
		}
		want = append(want, values[i])
	}
	requireExactlyOnceInOrder(t, c, "t", 0, want)
	require.Less(t, len(want), n+1, "the first request of the burst was refused")
}

// After the epoch runs out the producer gets a new id, which no broker
// knows: a broker takes any first sequence under it. A partition
// acknowledged under the old id pipelined its first requests under the new
// one: the first refused before any append (NOT_ENOUGH_REPLICAS, a
// retriable error) and the next written ahead of it, the first failed as
// passed, though a retry would have written it. Under a new id, as under
// the first, one request stays in flight until the broker acknowledges one.
func TestABurstUnderANewIDKeepsItsOrderWhenItsFirstRequestIsRefused(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	written := &requestsWritten{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = 1024
		cfg.Linger = NoLinger
		cfg.Hooks = []Hook{written}
	})
	for part := int32(0); part < 2; part++ {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("warm"), Partition: part, ExplicitPartition: true})
		require.NoError(t, err)
	}
	old, _ := p.acc.ProducerID()
	// The epoch has run out; partition 1's next batch is refused as out of
	// order, which needs a new epoch: the producer gets a new id.
	p.acc.SetProducerID(accumulator.ProducerID{ID: old.ID, Epoch: math.MaxInt16})
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.OutOfOrderSequenceNumber, "")))
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("x"), Partition: 1, ExplicitPartition: true})
	require.NoError(t, err)
	now, _ := p.acc.ProducerID()
	require.NotEqual(t, old.ID, now.ID, "a new id")

	o, values, other := burstBehindAHeldRequest(t, c, p, written, kerr.NotEnoughReplicas, "under an id no broker has acknowledged")

	o.wait(t, "records")
	want := [][]byte{[]byte("warm")}
	for i := range values {
		require.NoError(t, o.one(t, i).err, "record %d", i)
		want = append(want, values[i])
	}
	requireExactlyOnceInOrder(t, c, "t", 0, want)
	other.wait(t, "the record of partition 1")
	require.NoError(t, other.one(t, 0).err)
}

// burstBehindAHeldRequest produces a burst of a batch each to partition 0
// of t while the broker holds the burst's first request until the
// producer has written another behind it, then refuses it before any
// append with refusal. The request behind carries a batch of partition 1
// produced while the burst waits, full (one that is not waits for the
// answer in flight): the sender drains it past partition 0's ready
// batches, one of which would go along if partition 0 pipelined, which it
// must not (why). It returns the burst's outcomes and values, and the
// outcome of partition 1's record.
func burstBehindAHeldRequest(t *testing.T, c *fakebroker.Cluster, p *Producer, written *requestsWritten, refusal *kerr.Error, why string) (*outcomes, [][]byte, *outcomes) {
	t.Helper()
	twoWritten := written.await(2)
	held := make(chan struct{})
	var seen atomic.Int64
	// Whether a request was written behind the held one, and what it
	// carries.
	pipelined := make(chan bool, 1)
	behind := make(chan []int32, 1)
	c.OnProduce(func(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
		switch seen.Add(1) {
		case 1:
			close(held)
			holdUntil(twoWritten, pipelined)
			return fakebroker.Action{All: &fakebroker.Failure{Err: refusal}}
		case 2:
			behind <- partitionsIn(req)
		}
		return fakebroker.Action{}
	})
	const n = 20
	o, values := produceABatchEach(t, p, n)
	receive(t, held, "the broker saw no request of the burst")
	other := newOutcomes(1)
	full := make([]byte, 1024) // BatchSize
	p.Produce(ctx(t), &Record{Topic: "t", Value: full, Partition: 1, ExplicitPartition: true}, other.cb(0))
	require.True(t, bounded.Receive(t, pipelined, 2*waitFor, "the broker held no request"),
		"no request was written behind the held one (%v)", waitFor)
	require.Equal(t, []int32{1}, receive(t, behind, "the request behind the held one"),
		"the partitions of the request behind the held one: partition 0 must not pipeline %s", why)
	return o, values, other
}

// Three batches pipelined: the first refused for good (a gap at its
// sequence), the second then refused as out of order, the third's
// connection dropped before its answer. The second, certainly not written,
// must restart under a new epoch once the third, which may have been
// written, is settled; it went again and again under the old epoch, which
// refuses it, until its DeliveryTimeout, and the batches behind with it.
func TestAGapThenALostAnswerStillRestartTheSequences(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	// The fake reads a connection's next request only once it answered the
	// one before, so the producer's side tells what went behind request 1:
	// the warm-up's request, then the burst's first three.
	written := &requestsWritten{}
	fourWritten := written.await(4)
	p := holdingProducer(t, c, written)
	first := []byte("acknowledged: the partition pipelines")
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: first, Partition: 0, ExplicitPartition: true})
	require.NoError(t, err)
	var seen atomic.Int64
	// Whether requests 2 and 3 were written while request 1 was unanswered.
	pipelined := make(chan bool, 1)
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		switch seen.Add(1) {
		case 1: // held until the next two are written behind it
			holdUntil(fourWritten, pipelined)
			return fakebroker.Action{All: &fakebroker.Failure{Err: kerr.InvalidRecord}}
		case 3:
			return fakebroker.Action{Drop: true}
		}
		return fakebroker.Action{}
	})
	o, values := produceABatchEach(t, p, 4)
	require.True(t, bounded.Receive(t, pipelined, 2*waitFor, "the broker saw no request of the burst"),
		"the sender did not pipeline three requests: the 2nd and 3rd were not written while the 1st was held (%v)", waitFor)
	o.wait(t, "records")
	require.ErrorIs(t, o.one(t, 0).err, kerr.InvalidRecord)
	require.NoError(t, o.one(t, 1).err, "record 1 was refused, never written: it goes under a new epoch")
	// Record 2 may have been written by the request whose answer was lost:
	// refused as out of order under its epoch, it fails, maybe written.
	require.ErrorIs(t, o.one(t, 2).err, ErrMaybeWritten)
	require.NoError(t, o.one(t, 3).err)
	requireExactlyOnceInOrder(t, c, "t", 0, [][]byte{first, values[1], values[3]})
}

// holdingProducer is a producer of one batch a record, whose written
// requests written counts, for a test that holds a request until others
// are written behind it (holdUntil): its RequestTimeout outlasts the hold,
// so that no retry of the held request is written meanwhile and counted
// as a request behind it.
func holdingProducer(t *testing.T, c *fakebroker.Cluster, written *requestsWritten) *Producer {
	return newProducer(t, c, func(cfg *Config) {
		cfg.BatchSize = 1024
		cfg.Linger = NoLinger
		cfg.RequestTimeout = 2 * waitFor
		cfg.Hooks = []Hook{written}
	})
}

// holdUntil holds the broker's handling of a request, on its goroutine,
// until reached says the requests wanted behind it are written, and says
// on pipelined whether they were within waitFor.
func holdUntil(reached <-chan struct{}, pipelined chan<- bool) {
	select {
	case <-reached:
		pipelined <- true
	case <-time.After(waitFor):
		pipelined <- false
	}
}

// requestsWritten counts the ProduceRequests the producer writes, for a
// test to await some number of them from a point it chooses.
type requestsWritten struct {
	mu      sync.Mutex
	n, want int64
	reached chan struct{}
}

// await returns a channel closed once the producer has written more
// ProduceRequests beyond those written so far.
func (w *requestsWritten) await(more int64) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.want, w.reached = w.n+more, make(chan struct{})
	return w.reached
}

func (w *requestsWritten) OnRequestWritten(RequestWritten) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n++; w.n == w.want {
		close(w.reached)
	}
}

// partitionsIn lists the partitions whose batches req carries.
func partitionsIn(req *protocol.ProduceRequest) []int32 {
	var parts []int32
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			parts = append(parts, rp.Index)
		}
	}
	return parts
}

// produceABatchEach produces n records to t-0 that fill a batch each (of
// the 1 KiB the tests above set), and returns their outcomes, to wait for,
// and their values.
func produceABatchEach(t *testing.T, p *Producer, n int) (*outcomes, [][]byte) {
	t.Helper()
	o := newOutcomes(n)
	values := make([][]byte, n)
	for i := range n {
		values[i] = append(value(0, i), make([]byte, 600)...)
		p.Produce(ctx(t), &Record{Topic: "t", Value: values[i], Partition: 0, ExplicitPartition: true}, o.cb(i))
	}
	return o, values
}

// Injected OUT_OF_ORDER_SEQUENCE_NUMBER for the partition's next batch: the
// partition restarts its sequences under a new epoch, and nothing is lost
// or written twice.
func TestOutOfOrderSequenceRestartsUnderANewEpoch(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	// An answer older brokers or other implementations may send: Kafka
	// takes any sequence from a producer id it has no state for, as here.
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.OutOfOrderSequenceNumber, "")))
	p := newProducer(t, c, nil)
	md, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
	require.Equal(t, int64(0), md.Offset)
	recs := c.Records("t", 0)
	require.Len(t, recs, 1)
	require.Equal(t, int16(1), recs[0].ProducerEpoch, "written under the bumped epoch")
	require.Equal(t, int32(0), recs[0].Sequence, "from sequence 0")
}

func TestFencedProducerFailsEverythingAfter(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	// An answer older brokers or other implementations may send: Kafka's
	// since 2.7 send INVALID_PRODUCER_EPOCH.
	c.OnProduce(failFirst(1, fakebroker.FailAll(kerr.ProducerFenced, "")))
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, kerr.ProducerFenced)
	require.Contains(t, err.Error(), "fenced")
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("w")})
	require.ErrorIs(t, err, kerr.ProducerFenced, "the producer takes nothing more")
}

// A Produce answer of CLUSTER_AUTHORIZATION_FAILED (the cluster denies the
// producer idempotent writes) or UNSUPPORTED_VERSION stops an idempotent
// producer, as it stops the Java client's
// (TransactionManager.maybeTransitionToErrorState); a producer without
// idempotence fails only the batch, as Java's does. Before, the idempotent
// producer failed the batch and took the next record.
func TestAProduceAnswerDenyingIdempotenceStopsAnIdempotentProducer(t *testing.T) {
	for _, code := range []*kerr.Error{kerr.ClusterAuthorizationFailed, kerr.UnsupportedVersion} {
		t.Run(code.Name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
			c.OnProduce(failFirst(1, fakebroker.FailAll(code, "")))
			p := newProducer(t, c, nil)
			_, first := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
			require.ErrorIs(t, first, code)
			_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("w")})
			require.ErrorIs(t, err, code, "the producer takes nothing more")
			require.Contains(t, first.Error(), "can send nothing more", "the error says why")
		})
		t.Run(code.Name+" without idempotence", func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
			c.OnProduce(failFirst(1, fakebroker.FailAll(code, "")))
			p := newProducer(t, c, func(cfg *Config) { cfg.DisableIdempotence = true })
			_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
			require.ErrorIs(t, err, code)
			_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("w")})
			require.NoError(t, err, "only the batch failed")
		})
	}
}

// A broker that cannot give an id (it denies idempotent writes) stops the
// producer with a clear error, as the Java client does.
func TestProducerIDDeniedIsFatal(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnInitProducerId(fakebroker.FailInitProducerId(1000, kerr.ClusterAuthorizationFailed))
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.ErrorIs(t, err, kerr.ClusterAuthorizationFailed)
	require.Contains(t, err.Error(), "DisableIdempotence")
}

func TestProducerIDRetriedWhileTheCoordinatorLoads(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnInitProducerId(fakebroker.FailInitProducerId(2, kerr.CoordinatorLoadInProgress))
	p := newProducer(t, c, nil)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
	require.Equal(t, int64(3), c.InitProducerIdRequests())
}

// A record that times out waiting for a producer id no broker gives (the
// coordinator not available, again and again) names what kept it, as one
// kept from an unreachable leader does; it said only that it was sent 0
// times.
func TestARecordTimingOutWithoutAProducerIDNamesWhyNoneCame(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnInitProducerId(fakebroker.FailInitProducerId(1<<40, kerr.CoordinatorNotAvailable))
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	failed := &countedLog{message: "InitProducerId failed"}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Logger = clk, slog.New(failed)
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 5*time.Second, NoLinger
	})
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	// The loop books its failure before it logs it.
	eventually(t, "InitProducerId failed", func() bool { return failed.n.Load() > 0 })
	clk.Advance(10 * time.Second)
	o.wait(t, "the record at its DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, kerr.CoordinatorNotAvailable, "the error names what kept the record: %v", err)
	require.ErrorContains(t, err, "never sent; no producer id: InitProducerId: COORDINATOR_NOT_AVAILABLE")
}

func TestIdempotenceNeedsAcksAll(t *testing.T) {
	for _, acks := range []Acks{AcksLeader, AcksNone} {
		_, err := New(Config{Brokers: []string{"h:1"}, Acks: acks})
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, "Acks", ce.Field)
		require.Contains(t, ce.Reason, "DisableIdempotence")
		p, err := New(Config{Brokers: []string{"h:1"}, Acks: acks, DisableIdempotence: true})
		require.NoError(t, err)
		// Its loops would otherwise run for the rest of the test binary.
		require.NoError(t, p.Close(ctx(t)))
	}
}

func TestDisabledIdempotenceSendsNoProducerID(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.DisableIdempotence = true })
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("v")})
	require.NoError(t, err)
	require.Equal(t, int64(-1), c.Records("t", 0)[0].ProducerID)
	require.Zero(t, c.InitProducerIdRequests())
}

// DeliveryTimeout bounds a record whose request never gets an answer: on
// the fake clock, the record fails the moment its DeliveryTimeout ends,
// though its request is still in flight, and it says it may have been
// written. Before, a batch in flight was never expired.
func TestDeliveryTimeoutEndsARequestWithoutAnswer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 9*time.Second, NoLinger
	})
	learnTopic(t, p, clk, "t") // the loop paces itself on the fake clock
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "a Produce request in flight", func() bool { return c.ProduceRequests() > 0 })
	clk.Advance(10 * time.Second)
	o.wait(t, "the record at its DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, ErrMaybeWritten)
}

// A record that waits for its topic's metadata is bounded by its
// DeliveryTimeout too, when that is shorter than MaxBlock: the clock starts
// when Produce returns.
func TestDeliveryTimeoutCountsTheWaitForMetadata(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = time.Hour, 10*time.Second, time.Second
	})
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("v")}, o.cb(0))
	clk.Advance(10 * time.Second)
	o.wait(t, "the held record at its DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.False(t, errors.Is(err, ErrMaybeWritten), "never sent: certainly not written")
}

// A callback may call Close: Close returns (the callback does not wait for
// itself), and every record gets exactly one outcome.
func TestCloseFromACallback(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	p := newProducer(t, c, nil)
	const n = 100
	o := newOutcomes(n)
	closed := make(chan error, 1)
	for i := range n {
		cb := o.cb(i)
		if i == 0 {
			cb = func(md RecordMetadata, err error) {
				o.cb(0)(md, err)
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				closed <- p.Close(ctx)
			}
		}
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, cb)
	}
	require.NoError(t, receive(t, closed, "Close called from a callback did not return"))
	o.wait(t, "every record after Close from a callback")
	for i := range n {
		o.one(t, i)
	}
}

// Flush and Send from a callback return by their ctx at the latest.
func TestFlushAndSendFromACallbackReturn(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	p := newProducer(t, c, nil)
	done := make(chan error, 2)
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("warm")})
	require.NoError(t, err)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(RecordMetadata, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done <- p.Flush(ctx)
		_, err := p.Send(ctx, &Record{Topic: "t", Value: []byte("inner")})
		done <- err
	})
	require.NoError(t, receive(t, done, "Flush called from a callback did not return"), "Flush from a callback waits only for outcomes")
	require.ErrorIs(t, receive(t, done, "Send called from a callback did not return"), context.DeadlineExceeded, "Send from a callback waits for a callback behind its own")
}

// A broker the metadata stops naming is closed and no longer asked for
// metadata (only seeds are kept for good).
func TestBrokerLeavingTheClusterIsForgotten(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"t": 2}})
	var hide atomic.Bool
	asked := make([]atomic.Int64, 3)
	c.OnMetadata(func(node int32, _ *protocol.MetadataRequest) fakebroker.Action {
		asked[node].Add(1)
		if hide.Load() {
			return fakebroker.Action{HideBrokers: []int32{2}}
		}
		return fakebroker.Action{}
	})
	// Only broker 0 is a seed.
	p := newProducer(t, c, func(cfg *Config) { cfg.Brokers = c.Addrs()[:1] })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	eventually(t, "broker 2 known", func() bool { return p.knows(2) })

	hide.Store(true)
	for i := range 3 { // new topics make refreshes
		_, _ = p.PartitionsFor(ctxWithin(t, 100*time.Millisecond), fmt.Sprint("absent-", i))
	}
	eventually(t, "broker 2 forgotten", func() bool { return !p.knows(2) })
	before := asked[2].Load()
	// Refreshes go on until the other brokers have been asked three times
	// more: each is a chance to ask broker 2, which a loaded machine could
	// otherwise leave the loop without.
	others := func() int64 { return asked[0].Load() + asked[1].Load() }
	for i, from := 0, others(); others() < from+3; i++ {
		if i == 100 {
			t.Fatalf("the other brokers were asked %d times in 100 lookups of absent topics, want 3", others()-from)
		}
		_, _ = p.PartitionsFor(ctxWithin(t, 100*time.Millisecond), fmt.Sprint("still-absent-", i))
	}
	require.Equal(t, before, asked[2].Load(), "a broker that left the cluster is asked nothing more")
}

// knows reports whether the producer holds a connection handle for node.
func (p *Producer) knows(node int32) bool { return p.cluster.Node(node) != nil }

// cfgRetryBackoff is newProducer's RetryBackoff.
const cfgRetryBackoff = 10 * time.Millisecond

// ctxWithin is a context ending after d, cancelled at cleanup.
func ctxWithin(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}
