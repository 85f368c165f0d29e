package producer

import (
	"context"
	"errors"
	"sync/atomic"
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
