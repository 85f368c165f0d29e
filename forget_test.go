package producer

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
)

// forgetRecorder is a partitioner that wants load reports and is told of
// the topics the metadata forgets (partitioner.Forgetter).
type forgetRecorder struct {
	loadRecorder
	forgotMu sync.Mutex
	forgot   []string
}

func (f *forgetRecorder) Forget(topic string) {
	f.forgotMu.Lock()
	defer f.forgotMu.Unlock()
	f.forgot = append(f.forgot, topic)
}

func (f *forgetRecorder) forgotten() []string {
	f.forgotMu.Lock()
	defer f.forgotMu.Unlock()
	return slices.Clone(f.forgot)
}

// What the producer keeps per topic only as a hint goes when its metadata
// forgets the topic as idle: the time of its last load report, and the
// partitioner's state, which a partitioner.Forgetter is told to drop. A
// record for the topic later is sent as the first was, and the hints come
// back. Before, both stayed for the producer's life: 50,000 topics
// produced to once held about a third of a KiB each after the metadata
// had forgotten them. The clock is fake: the idle time passes at once.
func TestAForgottenTopicsHintsGoAndComeBack(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	part := &forgetRecorder{loadRecorder: loadRecorder{Partitioner: partitioner.RoundRobin(), reports: map[string][]int32{}}}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Partitioner = part
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle, cfg.MaxBlock = time.Hour, 5*time.Second, time.Hour
	})
	o := newOutcomes(2)
	send := func(i int) {
		sendMoving(t, p, clk, o, "t", i)
		_, reported := p.loadReports.Load("t")
		require.True(t, reported, "record %d: no load report's time kept for the topic", i)
	}
	send(0)

	clk.Advance(6 * time.Second)
	eventually(t, "the partitioner told that the idle topic was forgotten", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return slices.Contains(part.forgotten(), "t")
	})
	require.Nil(t, p.cluster.Snapshot().Topic("t"), "the topic is still in the metadata")
	_, reported := p.loadReports.Load("t")
	require.False(t, reported, "the forgotten topic's last load report's time is kept")

	send(1)
	require.Equal(t, 2, len(c.Records("t", 0))+len(c.Records("t", 1)))
}

// A topic the producer has not used for MetadataMaxIdle leaves its
// metadata, and refreshes stop asking for it; a record for it later waits
// for its metadata and is sent, as the first was. The clock is fake: the
// idle time passes at once.
func TestAnIdleTopicIsForgottenAndFoundAgain(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle, cfg.MaxBlock = time.Hour, 5*time.Second, time.Hour
	})
	o := newOutcomes(2)
	sendMoving(t, p, clk, o, "t", 0)

	clk.Advance(6 * time.Second)
	eventually(t, "the idle topic forgotten", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return p.cluster.Snapshot().Topic("t") == nil
	})
	sendMoving(t, p, clk, o, "t", 1)
	require.Equal(t, 2, len(c.Records("t", 0))+len(c.Records("t", 1)))
}

// sendMoving produces record i of o to topic and moves clk (the record's
// linger, and the metadata loop's backoff) until its outcome, which must
// be a success.
func sendMoving(t *testing.T, p *Producer, clk *clock.Fake, o *outcomes, topic string, i int) {
	t.Helper()
	p.Produce(ctx(t), &Record{Topic: topic, Value: value(0, i)}, o.cb(i))
	eventually(t, fmt.Sprintf("record %d's outcome", i), func() bool {
		clk.Advance(cfgRetryBackoff)
		return o.has(i)
	})
	require.NoError(t, o.one(t, i).err)
}

// A topic whose only record failed while its batch was in flight, whose
// request then went unanswered too (a broker hanging through the retries),
// is forgotten after MetadataMaxIdle as any other: the batch stays only
// for its sequence number, which the next record of the partition would
// restart, and needs no leader. Before, it counted as buffered for as long
// as no record came for the partition again: refreshes asked for the
// topic for ever, and, once it was deleted, polled for its leader every
// RetryBackoffMax. The clock is fake: the timeouts and the idle time pass
// at once.
func TestATopicWhoseBatchExpiredInFlightIsForgottenWhenIdle(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 9*time.Second, NoLinger
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle = time.Hour, 5*time.Second
	})
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "a Produce request in flight", func() bool { return c.ProduceRequests() > 0 })
	clk.Advance(9 * time.Second) // its RequestTimeout
	eventually(t, "the retry in flight", func() bool {
		releasePacing(clk) // the retry backoff
		return c.ProduceRequests() > 1
	})
	clk.Advance(time.Second) // DeliveryTimeout
	o.wait(t, "the record at its DeliveryTimeout")
	require.ErrorIs(t, o.one(t, 0).err, ErrMaybeWritten)
	clk.Advance(9 * time.Second) // the retry's RequestTimeout
	eventually(t, "the retry's request answered by its timeout", func() bool {
		return p.acc.Stats().EncodedBytes > 0 // counted once no sender holds the batch
	})

	eventually(t, "the idle topic forgotten", func() bool {
		clk.Advance(cfgRetryBackoff)
		p.cluster.RequestRefresh("test")
		return p.cluster.Snapshot().Topic("t") == nil
	})
}

// blockingPartitioner holds its first call until release is closed: a
// Produce that has looked its topic up in the metadata and not yet
// appended.
type blockingPartitioner struct {
	entered, release chan struct{}
	calls            atomic.Int64
}

func (b *blockingPartitioner) Partition(*partitioner.Topic, []byte) int32 {
	if b.calls.Add(1) == 1 {
		close(b.entered)
		<-b.release
	}
	return 0
}

// The metadata loop forgets a topic idle for MetadataMaxIdle while a
// Produce that looked it up before is partitioning a record of it; the
// record then starts a batch. The producer looks the batch's leader up in
// the metadata as it is now, finds none, and asks for a refresh, which
// finds the topic again: the record is sent. Before, the leader was looked
// up in the snapshot the Produce had read, its sender was woken though it
// no longer led the topic, and nothing asked for metadata before
// MetadataMaxAge: the record failed with ErrDeliveryTimeout.
func TestARecordOfATopicForgottenWhileItWasProducedIsSent(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	const maxAge = 5 * time.Hour
	bp := &blockingPartitioner{entered: make(chan struct{}), release: make(chan struct{})}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Partitioner = bp
		cfg.Linger, cfg.DeliveryTimeout, cfg.MaxBlock = time.Hour, 2*time.Hour, time.Hour
		cfg.MetadataMaxAge, cfg.MetadataMaxIdle = maxAge, 5*time.Second
	})
	learnTopic(t, p, clk, "t")
	loopAwaitsMaxAge := func() bool {
		return slices.ContainsFunc(clk.Deadlines(), func(d time.Time) bool {
			return d.Sub(clk.Now()) > maxAge/2 // the loop's only timer that long
		})
	}
	// The loop idle first: a refresh it still had paced would come within
	// the advance, forget the topic before the Produce reads it, and hold
	// the record instead.
	eventually(t, "the metadata loop waiting for MetadataMaxAge", func() bool {
		releasePacing(clk)
		return loopAwaitsMaxAge()
	})
	clk.Advance(6 * time.Second) // idle

	o := newOutcomes(1)
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	}()
	receive(t, bp.entered, "the Produce in its partitioner")
	p.cluster.RequestRefresh("test")
	eventually(t, "the idle topic forgotten, and the metadata loop waiting for MetadataMaxAge", func() bool {
		releasePacing(clk)
		return p.cluster.Snapshot().Topic("t") == nil && loopAwaitsMaxAge()
	})

	close(bp.release) // the Produce appends the record with the topic it read
	receive(t, produced, "the Produce's return")
	go func() { _ = p.Flush(ctx(t)) }() // after the append, or it flushes nothing
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk) // the loop's pacing only, never DeliveryTimeout
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
	require.Len(t, c.Records("t", 0), 1)
}
