package producer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// Partitions added to a topic are found by the periodic refresh
// (MetadataMaxAge) with nothing else asking for metadata, and records reach
// them.
func TestPeriodicRefreshFindsNewPartitions(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"grows": 2}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.MetadataMaxAge = 100 * time.Millisecond
		cfg.Partitioner = partitioner.RoundRobin()
	})
	n, err := p.PartitionsFor(ctx(t), "grows")
	require.NoError(t, err)
	require.Equal(t, 2, n)

	require.NoError(t, c.AddPartitions("grows", 4))
	eventually(t, "the periodic refresh to find the new partitions", func() bool {
		n, _ := p.PartitionsFor(ctx(t), "grows")
		return n == 4
	})
	for i := 0; i < 8; i++ {
		_, err := p.Send(ctx(t), &Record{Topic: "grows", Value: []byte("v")})
		require.NoError(t, err)
	}
	for part := int32(2); part < 4; part++ {
		require.NotEmpty(t, c.Records("grows", part), "round-robin never reached new partition %d", part)
	}
}

// A Metadata answer with an error for the whole response (v13+, KIP-1102)
// is not applied, whatever it carries: the producer asks again.
func TestMetadataTopLevelErrorIsNotApplied(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 3}})
	var answered atomic.Int64
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if answered.Add(1) <= 2 {
			return fakebroker.Action{Err: kerr.UnknownServerError}
		}
		return fakebroker.Action{}
	})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.GreaterOrEqual(t, answered.Load(), int64(3), "an answer with a top-level error was taken for metadata")
}

// One Metadata answer from a broker that lags behind calls a topic
// unknown while records of it are buffered: its partitions are dropped,
// and no sender leads them. The producer keeps asking for the topic while
// it has batches of it, polling with backoff rather than waiting for
// MetadataMaxAge, and the records go once a broker names it again. Before,
// the topic was never asked for again (with no other topic of use, it was
// even deleted from the cache), and the records waited for their
// DeliveryTimeout. On the fake clock, only the poll can bring the topic
// back: no periodic refresh and no expiry comes within the test.
func TestRecordsOfATopicCalledUnknownOnceAreSentOnceItIsKnownAgain(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	var hide, hidden, askedAgain atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			hidden.Store(true)
			return fakebroker.Action{Hide: []string{"t"}}
		}
		for _, rt := range req.Topics {
			if hidden.Load() && rt.Name != nil && *rt.Name == "t" {
				askedAgain.Store(true)
			}
		}
		return fakebroker.Action{}
	})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		// The records linger until the Flush below.
		cfg.MetadataMaxAge, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, time.Hour
	})
	eventually(t, "the topic's metadata", func() bool {
		clk.Advance(cfgRetryBackoff)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), "t")
		return n > 0
	})
	const n = 10
	o := newOutcomes(n)
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "t", Value: value(0, i)}, o.cb(i))
	}
	require.Zero(t, o.first.Load(), "a record has an outcome before the Flush")

	hide.Store(true)
	p.cluster.RequestRefresh("test")
	// The requests after the lagging answer come once it is applied.
	eventually(t, "a request for the topic after the answer calling it unknown", func() bool {
		clk.Advance(cfgRetryBackoff)
		return askedAgain.Load()
	})
	eventually(t, "the topic's partitions known again", func() bool {
		clk.Advance(cfgRetryBackoff)
		tp := p.cluster.Snapshot().Topic("t")
		return tp != nil && len(tp.Partitions) == 2
	})
	require.NoError(t, p.Flush(ctx(t)))
	for i := range n {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	require.Len(t, append(c.Records("t", 0), c.Records("t", 1)...), n)
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

// A Metadata answer from a broker that has not seen CreatePartitions yet
// lists fewer partitions than the topic has, while a record of a partition
// past its count is buffered. With topic ids the cache keeps the partitions
// past the answer's count (Kafka never removes one); without them it takes
// the answer, and the metadata loop polls for the buffered partition,
// which has no leader. Either way the record is sent. Before, the partition
// left the metadata, no sender led it, nothing asked for metadata again
// before MetadataMaxAge, and the record failed with ErrDeliveryTimeout,
// "sent 0 times". On the fake clock only the loop's pacing moves.
func TestARecordOfAPartitionALaggingAnswerLeftOutIsSent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions map[protocol.APIKey]protocol.VersionRange
	}{
		{"topic ids", nil},
		{"no topic ids", map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}, KeepRecords: true, Versions: tc.versions})
			p, clk := lingeringOnFakeClock(t, c) // until the Flush below
			learnTopic(t, p, clk, "t")
			o := newOutcomes(1)
			p.Produce(ctx(t), &Record{Topic: "t", Partition: 3, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

			var shrink, shrunk atomic.Bool
			var beforeShrunk atomic.Pointer[metadata.Snapshot]
			c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
				if !shrink.CompareAndSwap(true, false) {
					return fakebroker.Action{}
				}
				// Refreshes run one after another: this is the snapshot
				// the shrunk answer replaces.
				beforeShrunk.Store(p.cluster.Snapshot())
				shrunk.Store(true)
				return fakebroker.Action{Shrink: map[string]int32{"t": 2}}
			})
			shrink.Store(true)
			p.cluster.RequestRefresh("test")
			eventually(t, "the lagging answer applied", func() bool {
				releasePacing(clk)
				return shrunk.Load() && p.cluster.Snapshot() != beforeShrunk.Load()
			})
			require.Zero(t, o.first.Load(), "the record has an outcome before the Flush")

			go func() { _ = p.Flush(ctx(t)) }()
			eventually(t, "the record's outcome", func() bool {
				releasePacing(clk) // the loop's pacing only, never DeliveryTimeout
				return o.done()
			})
			got := o.one(t, 0)
			require.NoError(t, got.err, "partition 3 exists; only a lagging broker left it out")
			require.Equal(t, int32(3), got.md.Partition)
			require.Len(t, c.Records("t", 3), 1)
		})
	}
}

// A topic seen with 6 partitions under its id is called unknown by a
// broker that has not caught up, and then another, which has not seen
// CreatePartitions, lists 3 under the same id. Kafka never removes a
// partition: a keyed record still goes to its partition among the 6, one
// the short answer leaves without a known leader until the next answer
// names it. Before, the unknown answer's zero id hid the id the 6 were
// seen under, the producer took the 3, and keyed records hashed modulo 3,
// silently landing on other partitions. On the fake clock only the loop's
// pacing moves.
func TestAKeyedRecordKeepsItsPartitionAfterAnUnknownThenAShortAnswer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 6}, KeepRecords: true})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	key := []byte("k0") // one whose partition differs among 6 and among 3
	for i := 1; partitioner.KeyPartition(key, 6) == partitioner.KeyPartition(key, 3); i++ {
		key = []byte(fmt.Sprint("k", i))
	}

	// 1: the next answer calls t unknown; 2: the next lists 3 of its
	// partitions; 3: answers are whole again.
	var lagging atomic.Int32
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		switch {
		case lagging.CompareAndSwap(1, 2):
			return fakebroker.Action{Hide: []string{"t"}}
		case lagging.CompareAndSwap(2, 3):
			return fakebroker.Action{Shrink: map[string]int32{"t": 3}}
		}
		return fakebroker.Action{}
	})
	lagging.Store(1)
	p.cluster.RequestRefresh("test")
	eventually(t, "the unknown answer applied", func() bool {
		releasePacing(clk)
		tt := p.cluster.Snapshot().Peek("t")
		return tt != nil && len(tt.Partitions) == 0
	})

	// Held until the short answer comes.
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Key: key, Value: []byte("v")}, o.cb(0))
	go func() { _ = p.Flush(ctx(t)) }()
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	got := o.one(t, 0)
	require.NoError(t, got.err)
	require.Equal(t, partitioner.KeyPartition(key, 6), got.md.Partition, "the key's partition among the topic's 6")
}

// One broker's corrupt Metadata answer, listing a partition of a topic
// not known yet twice, fails nothing at once: PartitionsFor and a held
// record wait for a later answer, as for a topic not known yet, and the
// record is sent once one describes the topic. At MaxBlock, PartitionsFor
// fails with ErrUnknownTopic naming the malformed answer: the API, its
// version and what was wrong. Before, the answer counted as a refusal
// "that will not heal", as a denied authorization does: both failed at
// once with its error.
func TestOneMalformedMetadataAnswerFailsNothingAtOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2, "u": 2}, KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	const maxBlock = time.Minute
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.MaxBlock = clk, maxBlock
		cfg.Linger, cfg.DeliveryTimeout = time.Hour, 2*time.Hour
		cfg.MetadataMaxAge = 5 * time.Hour
	})
	var corrupt atomic.Bool
	corrupt.Store(true)
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if corrupt.Load() {
			return fakebroker.Action{ListTwice: []string{"t", "u"}}
		}
		return fakebroker.Action{}
	})
	malformed := func(topic string) bool {
		tt := p.cluster.Snapshot().Peek(topic)
		return tt != nil && errors.Is(tt.Err, metadata.ErrMalformed)
	}

	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(context.Background(), "u")
		failed <- err
	}()
	eventually(t, "a malformed answer for u", func() bool {
		releasePacing(clk)
		return malformed("u")
	})
	select {
	case err := <-failed:
		t.Fatalf("PartitionsFor failed on one malformed answer: %v", err)
	default:
	}
	clk.Advance(maxBlock)
	err := receive(t, failed, "PartitionsFor at MaxBlock")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorIs(t, err, metadata.ErrMalformed)
	require.ErrorContains(t, err, `Metadata v13 answer: topic "u": partition 0 listed twice`)

	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "a malformed answer for t", func() bool {
		releasePacing(clk)
		return malformed("t")
	})
	corrupt.Store(false)
	go func() { _ = p.Flush(ctx(t)) }()
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk) // the loop's pacing only, never MaxBlock
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
}

// PartitionsFor of a topic that does not exist asks for metadata once and
// leaves the metadata loop to poll for the awaited topic, with backoff:
// 10, 20, 40 and 80ms, then RetryBackoffMax (100ms), each ±20%: from 11
// to 18 Metadata requests in a second. Before, it asked again after every
// update, and the loop refreshed every RetryBackoff (10ms) for as long as
// it waited, about 100 requests a second. On the fake clock only the
// loop's pacing moves.
func TestPartitionsForOfAMissingTopicLeavesTheLoopToPollWithBackoff(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.MaxBlock = clk, time.Hour
		cfg.MetadataMaxAge = 5 * time.Hour
	})
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(ctx, "nope")
		failed <- err
	}()
	until := clk.Now().Add(time.Second)
	eventually(t, "a second of the loop's pacing", func() bool {
		releasePacing(clk)
		return !clk.Now().Before(until)
	})
	cancel()
	require.ErrorIs(t, receive(t, failed, "PartitionsFor once its ctx ended"), ErrUnknownTopic)
	require.LessOrEqual(t, c.MetadataRequests(), int64(25), "Metadata requests in a second")
}

// A held record naming a partition its topic does not have yet leaves the
// metadata loop to poll for that partition with backoff, as for a missing
// topic (see above), and is sent once the partition is added. Before, its
// drain asked for a refresh after every update, and the loop refreshed
// every RetryBackoff for as long as the record waited.
func TestARecordWaitingForAPartitionLeavesTheLoopToPollWithBackoff(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	before := c.MetadataRequests()
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	until := clk.Now().Add(time.Second)
	eventually(t, "a second of the loop's pacing", func() bool {
		releasePacing(clk)
		return !clk.Now().Before(until)
	})
	require.LessOrEqual(t, c.MetadataRequests()-before, int64(25), "Metadata requests in a second")

	require.NoError(t, c.AddPartitions("t", 6))
	go func() { _ = p.Flush(ctx(t)) }()
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
	require.Len(t, c.Records("t", 5), 1)
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

// unreachableDialer refuses every dial to addr, as a host with nobody
// listening does, and counts them; it dials the other addresses.
type unreachableDialer struct {
	addr    string
	refused atomic.Int64
}

func (d *unreachableDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr == d.addr {
		d.refused.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// A record waiting for a leader the metadata names but nobody can connect
// to asks for metadata once per connection that failed, not once every
// RetryBackoff. Before, the sender asked on every pass, also when its
// broker's reconnect backoff refused to dial, and each refresh's wake made
// the next pass: a Metadata request every RetryBackoff (10 a second at
// the default) until the record's DeliveryTimeout, every answer the same.
// Here the reconnect backoff outlasts the steps, so one dial fails, and
// the loop's pacing cannot grow past RetryBackoff.
func TestALeaderNobodyCanReachAsksForMetadataOncePerFailedConnection(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(_ string, p int32) int32 { return p }})
	clk := clock.NewFake(heldClockStart)
	dialer := &unreachableDialer{addr: c.Addrs()[1]}
	const (
		backoff          = 100 * time.Millisecond
		reconnectBackoff = 10 * time.Minute
		maxAge           = 5 * time.Hour
		deliveryTimeout  = time.Hour
	)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Brokers = c.Addrs()[:1]
		cfg.Dialer = dialer
		cfg.RetryBackoff, cfg.RetryBackoffMax = backoff, backoff
		cfg.ReconnectBackoff, cfg.ReconnectBackoffMax = reconnectBackoff, reconnectBackoff
		cfg.Linger, cfg.DeliveryTimeout, cfg.MetadataMaxAge = NoLinger, deliveryTimeout, maxAge
	})
	loopAwaitsMaxAge := func() bool {
		return slices.ContainsFunc(clk.Deadlines(), func(d time.Time) bool {
			return d.Sub(clk.Now()) > maxAge/2 // the loop's only timer that long
		})
	}
	// A record for broker 0 first: once it is acknowledged, the producer
	// id is assigned, and nothing else is under way.
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	eventually(t, "the record for broker 0 acknowledged", func() bool {
		releasePacing(clk)
		return o.first.Load() == 1
	})
	require.NoError(t, o.one(t, 0).err)
	// The loop arms its MetadataMaxAge wait only with no refresh asked for:
	// once it is armed, no refresh is under way or due but the ones the
	// record below causes.
	eventually(t, "the metadata loop waiting for MetadataMaxAge", func() bool {
		releasePacing(clk)
		return loopAwaitsMaxAge()
	})
	// A request sent to any broker (InitProducerId, Metadata) may have gone
	// to broker 1, and its refused dial started the reconnect backoff: past
	// it, the sender's first attempt for the record below dials.
	clk.Advance(reconnectBackoff * 3 / 2)
	refusedBefore := dialer.refused.Load()
	askedBefore := c.MetadataRequests()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("v")}, o.cb(1))
	eventually(t, "the refresh the refused dial asked for", func() bool {
		return dialer.refused.Load() > refusedBefore && c.MetadataRequests() > askedBefore
	})
	const steps = 20
	for range steps {
		clk.Advance(backoff)
		n := c.MetadataRequests()
		eventually(t, "a Metadata request, or the metadata loop waiting for MetadataMaxAge", func() bool {
			return c.MetadataRequests() > n || loopAwaitsMaxAge()
		})
	}
	requests, refused := c.MetadataRequests()-askedBefore, dialer.refused.Load()-refusedBefore
	require.Equal(t, int64(1), refused, "dials to broker 1 within its reconnect backoff")
	require.Equal(t, refused, requests,
		"%d Metadata requests over %v for %d refused dial; the metadata never changed", requests, steps*backoff, refused)

	clk.Advance(deliveryTimeout)
	eventually(t, "the record's DeliveryTimeout", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.ErrorIs(t, o.one(t, 1).err, ErrDeliveryTimeout)
	require.ErrorContains(t, o.one(t, 1).err, "broker 1 unreachable")
}

// lingeringOnFakeClock is a producer on a fake clock whose records linger
// until a Flush, and within whose test no periodic refresh, expiry or
// MaxBlock comes: only the metadata loop's pacing moves (releasePacing).
func lingeringOnFakeClock(t *testing.T, c *fakebroker.Cluster) (*Producer, *clock.Fake) {
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Linger, cfg.DeliveryTimeout, cfg.MaxBlock = time.Hour, 2*time.Hour, time.Hour
		cfg.MetadataMaxAge = 5 * time.Hour
	})
	return p, clk
}
