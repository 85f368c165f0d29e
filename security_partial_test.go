package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// halfDownDialer, while refusing is set, refuses refused's certificate, as
// crypto/tls does for an unknown CA, and while down is set finds down's
// address unreachable: one broker refuses the producer while another
// restarts.
type halfDownDialer struct {
	refused, down       string
	refusing, unreached atomic.Bool
}

// newHalfDownDialer refuses c's node 0 and finds its node 1 down.
func newHalfDownDialer(c *fakebroker.Cluster) *halfDownDialer {
	d := &halfDownDialer{refused: c.Addrs()[0], down: c.Addrs()[1]}
	d.refusing.Store(true)
	d.unreached.Store(true)
	return d
}

func (d *halfDownDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch {
	case addr == d.refused && d.refusing.Load():
		return nil, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	case addr == d.down && d.unreached.Load():
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// leaderNode1 makes node 1, the one halfDownDialer finds down, lead every
// partition, so that a record has a leader to go to once it is back.
func leaderNode1(string, int32) int32 { return 1 }

// awaitRefreshesRefusedAndDown waits, bounded, for n metadata refreshes
// that end after the call, each failing with one broker's refusal among
// another's failure to connect.
func awaitRefreshesRefusedAndDown(t *testing.T, p *Producer, n int) {
	t.Helper()
	last := p.refreshFailed.Load()
	for i := range n {
		eventually(t, "a metadata refresh that failed", func() bool {
			failed := p.refreshFailed.Load()
			if failed == nil || failed == last {
				return false
			}
			last = failed
			return true
		})
		var ae *AuthError
		if !errors.As(*last, &ae) || !errors.Is(*last, syscall.ECONNREFUSED) {
			t.Fatalf("refresh %d failed with %v; want a refusal and a broker down", i+1, *last)
		}
	}
}

// One broker refusing the producer (its certificate does not verify) while
// the other is briefly down (a rolling restart) does not speak for the
// cluster: the records waiting for metadata wait for the other broker, and
// go once it is back. Before, the refusal failed them at the first refresh
// after they were produced, with ErrAuthentication, though DESIGN.md has
// them fail only when no broker will give their metadata.
func TestOneBrokersRefusalWhileAnotherIsDownFailsNoWaitingRecord(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Leader: leaderNode1})
	d := newHalfDownDialer(c)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Dialer = d
		cfg.MaxBlock, cfg.DeliveryTimeout = time.Hour, time.Hour
	})
	sent := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) { sent <- err })
	// The second ends after the first was noted, whenever the record was
	// held.
	awaitRefreshesRefusedAndDown(t, p, 2)
	goesOnceTheBrokerIsBack(t, d, sent)
}

// A record that waits out MaxBlock while one broker refuses the producer
// and the other is down fails as an unknown topic whose last refresh
// failed with the refusal, which the error carries.
func TestARecordWaitingOutARefusalAndABrokerDownFailsAtMaxBlockWithTheRefusal(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}})
	d := newHalfDownDialer(c)
	clk := clock.NewFake(heldClockStart)
	const maxBlock = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.Dialer, cfg.MaxBlock = clk, d, maxBlock })
	sent := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) { sent <- err })
	// The first refresh runs at once; the next waits for the clock.
	eventually(t, "a metadata refresh that failed", func() bool { return p.refreshFailed.Load() != nil })
	clk.Advance(maxBlock)
	err := receive(t, sent, "the record outlived MaxBlock")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorIs(t, err, ErrAuthentication)
	require.ErrorContains(t, err, "unknown authority")
}

// The idempotent producer's id, asked for while one broker refuses the
// producer and the other is briefly down, comes once that one is back, and
// the records waiting for it go. Before, the one refusal failed them.
func TestOneBrokersRefusalWhileAnotherIsDownFailsNoRecordWaitingForTheProducerID(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}, Leader: leaderNode1})
	d := newHalfDownDialer(c)
	d.refusing.Store(false)
	d.unreached.Store(false)
	failures := &countedLog{message: "InitProducerId failed"}
	p := newProducer(t, c, func(cfg *Config) { cfg.Dialer, cfg.Logger = d, slog.New(failures) })
	_, err := p.PartitionsFor(ctx(t), "t") // connected, no producer id yet
	require.NoError(t, err)

	d.refusing.Store(true)
	d.unreached.Store(true)
	require.NoError(t, c.DropConnections(0))
	require.NoError(t, c.DropConnections(1))
	sent := make(chan error, 1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) { sent <- err })
	// Before, the first failure failed the record, before it was logged.
	eventually(t, "InitProducerId failed", func() bool { return failures.n.Load() > 0 })
	goesOnceTheBrokerIsBack(t, d, sent)
}

// countedLog is a slog.Handler that counts the records of one message.
type countedLog struct {
	message string
	n       atomic.Int64
}

func (l *countedLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *countedLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *countedLog) WithGroup(string) slog.Handler            { return l }

func (l *countedLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.message {
		l.n.Add(1)
	}
	return nil
}

// goesOnceTheBrokerIsBack checks that the record whose outcome comes on
// sent has none while d keeps a broker down, and goes once it is back.
func goesOnceTheBrokerIsBack(t *testing.T, d *halfDownDialer, sent chan error) {
	t.Helper()
	select {
	case err := <-sent:
		t.Fatalf("the record failed while a broker was only down: %v", err)
	default:
	}
	d.unreached.Store(false)
	require.NoError(t, receive(t, sent, "no outcome for the record once the broker was back"))
}
