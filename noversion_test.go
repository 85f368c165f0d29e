package producer

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// speaksNo is a fake cluster's versions without api.
func speaksNo(api protocol.APIKey) map[protocol.APIKey]protocol.VersionRange {
	return map[protocol.APIKey]protocol.VersionRange{api: {Min: 1, Max: 0}}
}

// One broker speaks no FindCoordinator while the other cannot be reached
// (restarting, say): the lookup is asked again, since that one may speak
// it once back, and a ctx that ends meanwhile ends InitTransactions with
// its error; the producer is not stopped. Before, the ctx's error kept
// the first broker's version error among its last failures, and that
// made the producer fatal (ErrTransactionFatal) where the user should
// only call again.
func TestAnInitTransactionsWhoseCtxEndsWhileABrokerIsDownDoesNotStopTheProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Versions: speaksNo(protocol.FindCoordinator)})
	d := newHalfDownDialer(c)
	d.refusing.Store(false)
	clk := clock.NewFake(heldClockStart)
	retrying := &countedLog{message: "coordinator request failed; retrying"}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.TransactionalID, cfg.Dialer = "tx", d
		cfg.clock, cfg.Logger = clk, slog.New(retrying)
	})
	initCtx, cancel := context.WithCancel(ctx(t))
	done := make(chan error, 1)
	go func() { done <- p.InitTransactions(initCtx) }()
	// The retry waits on the fake clock, which stands still: the ctx ends
	// the wait.
	eventually(t, "a FindCoordinator asked again", func() bool { return retrying.n.Load() > 0 })
	cancel()
	err := receive(t, done, "InitTransactions did not return when its ctx ended")
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion, "the last failure is kept: %v", err)
	require.NotErrorIs(t, err, ErrTransactionFatal)
	require.NotErrorIs(t, p.BeginTransaction(), ErrTransactionFatal, "the producer was stopped")
}

// One broker refuses the producer (its certificate does not verify) while
// the other speaks no FindCoordinator: the one that refused has not said
// what it speaks, and may speak it once it lets the producer in, so the
// failure is the refusal's, returned as any refusal is, and the producer
// is not stopped. Before, the one version error made it fatal.
func TestARefusalWhileAnotherBrokerSpeaksNoFindCoordinatorDoesNotStopTheProducer(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Versions: speaksNo(protocol.FindCoordinator)})
	d := newHalfDownDialer(c)
	d.unreached.Store(false)
	p := newProducer(t, c, func(cfg *Config) { cfg.TransactionalID, cfg.Dialer = "tx", d })
	err := p.InitTransactions(ctx(t))
	require.ErrorIs(t, err, ErrAuthentication)
	require.NotErrorIs(t, err, ErrTransactionFatal)
	require.NotErrorIs(t, p.BeginTransaction(), ErrTransactionFatal, "the producer was stopped")
}

// No broker speaks FindCoordinator: no coordinator can be found, now or
// later, and the producer stops, saying that FindCoordinator is the
// request the brokers do not speak. Before, the error said that the
// transaction coordinator shared no version of InitProducerId with the
// producer: the wrong request, and a coordinator no broker had named.
// Brokers speaking v0 alone are as good as none: v0 has no KeyType, and a
// lookup sent at v0 found the coordinator of a group named as the
// transactional id.
func TestFindCoordinatorSpokenByNoBrokerStopsTheProducerAndSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions map[protocol.APIKey]protocol.VersionRange
	}{
		{"no version", speaksNo(protocol.FindCoordinator)},
		{"v0 alone", map[protocol.APIKey]protocol.VersionRange{protocol.FindCoordinator: {Min: 0, Max: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Versions: tc.versions})
			p := newProducer(t, c, func(cfg *Config) { cfg.TransactionalID = "tx" })
			err := p.InitTransactions(ctx(t))
			require.ErrorIs(t, err, ErrTransactionFatal)
			var verr *protocol.VersionError
			require.ErrorAs(t, err, &verr)
			require.Equal(t, protocol.FindCoordinator, verr.API)
			require.ErrorContains(t, err, "no broker shares a version of FindCoordinator with this producer")
			require.NotContains(t, err.Error(), "share no version of InitProducerId")
			require.Zero(t, c.FindCoordinatorRequests(), "FindCoordinator sent")
		})
	}
}

// An idempotent producer asks any broker for its id. One speaks no
// InitProducerId while the other cannot be reached (restarting, say):
// that one may give the id once back, so the producer asks again and its
// records wait; once it answers alike, no broker will give an id, and the
// producer stops. Before, the one version error stopped it at once.
func TestNoInitProducerIdStopsTheIdempotentProducerOnlyOnceNoBrokerMayGiveOne(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Versions: speaksNo(protocol.InitProducerId)})
	d := newHalfDownDialer(c)
	d.refusing.Store(false)
	failures := &countedLog{message: "InitProducerId failed"}
	p := newProducer(t, c, func(cfg *Config) { cfg.Dialer, cfg.Logger = d, slog.New(failures) })
	sent := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) { sent <- err })
	// Before, the producer stopped before any failure was logged.
	eventually(t, "InitProducerId failed, or the record did", func() bool { return failures.n.Load() > 0 || len(sent) > 0 })
	select {
	case err := <-sent:
		t.Fatalf("the record failed while a broker that may give an id was down: %v", err)
	default:
	}
	d.unreached.Store(false)
	err := receive(t, sent, "no outcome for the record once every broker said it speaks no InitProducerId")
	require.ErrorIs(t, err, ErrProducerStopped)
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
}
