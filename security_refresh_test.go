package producer

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/fakebroker"
)

// A record that waited for its topic in vain names why the last metadata
// refresh failed only if it did: once a refresh succeeds after every
// broker refused the producer, the refusal is history, and a record
// failing later at its MaxBlock said it still, as if the brokers refused
// the producer then.
func TestARecordsErrorNamesNoRefreshFailureThatALaterRefreshEnded(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &cutOffDialer{}
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Dialer = clk, d
		cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, 2*time.Hour
	})
	learnTopic(t, p, clk, "t")
	d.refuseAll()
	eventually(t, "a metadata refresh refused by every broker", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		return p.auth.last.Load() != nil
	})
	d.admitAll()
	eventually(t, "a metadata refresh that succeeded", func() bool {
		releasePacing(clk)
		p.cluster.RequestRefresh("test")
		return p.auth.last.Load() == nil
	})

	err := failedAtMaxBlockOfAnHour(t, p, clk)
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.NotErrorIs(t, err, ErrAuthentication)
	// A refresh may still fail after the refusal and be named: the hour
	// passes at once on the fake clock, and a Metadata request in flight
	// then has no answer within its RequestTimeout.
	require.NotContains(t, err.Error(), "failed to verify certificate")
}

// A PartitionsFor begun after every broker refused the producer waits for
// the next refresh's answer rather than fail with the refusal it found:
// access may have been granted since (a certificate rotated), which only a
// refresh tells. Here the metadata loop is held in its log of the refusal,
// so that no refresh comes before the call's ctx ends.
func TestPartitionsForBegunAfterARefusalWaitsForTheNextAnswer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &cutOffDialer{}
	loopHeld := holdLog(func(rec slog.Record) bool {
		return rec.Message == "metadata refresh failed" && cluster.Refusal(logged(rec, "err")) != nil
	})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.Dialer, cfg.Logger = clk, d, slog.New(loopHeld) })
	t.Cleanup(loopHeld.letGo) // before the producer's Close, which waits for the metadata loop
	learnTopic(t, p, clk, "t")
	d.refuseAll()
	awaitHeld(t, p, clk, loopHeld, "the metadata loop held in its log of a refusal by every broker")
	require.NotNil(t, p.auth.last.Load(), "the refusal noted before its log")

	_, err := p.PartitionsFor(ctxWithin(t, 100*time.Millisecond), "other")
	require.ErrorIs(t, err, context.DeadlineExceeded, "the call failed at once with the refusal it found as it began")
	require.ErrorIs(t, err, ErrUnknownTopic)
}
