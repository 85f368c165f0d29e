package cluster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/scram"
)

// liveSeedAndNode0 returns the seed and node 0 of a one-broker rig, both
// with a live connection.
func liveSeedAndNode0(t *testing.T, r *rig) (*conn.Broker, *conn.Broker, *conn.Conn) {
	r.awaitTopic("t")
	seed := r.c.seeds[0]
	_, err := seed.Conn(context.Background()) // the bootstrap's connection, or a new one
	require.NoError(t, err)
	require.Equal(t, conn.Connected, seed.Readiness())
	n := r.c.Node(0)
	require.NotNil(t, n)
	require.Equal(t, seed.Addr(), n.Broker.Addr(), "node 0 is advertised at the seed's address")
	cn, err := n.Broker.Conn(context.Background())
	require.NoError(t, err)
	return seed, n.Broker, cn
}

// A seed at the address of a node backing off (its connection just died)
// is asked: its own connection to the broker is live and answers, where a
// refresh failing would hold the records waiting for metadata back by up
// to ReconnectBackoffMax.
func TestASeedAtTheAddressOfANodeBackingOffIsAsked(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = fake
	})
	_, node, cn := liveSeedAndNode0(t, r)
	cn.Close() // the node's connection dies; the fake clock stands, so its backoff lasts
	_, err := node.Conn(context.Background())
	require.ErrorIs(t, err, conn.ErrBackoff, "node 0 backs off")

	_, err = r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
	require.NoError(t, err, "the seed's live connection to the same broker could answer")
}

// switching starts sessions of before until switched is set, then of
// after: credentials rotated, or a token provider that stopped answering.
type switching struct {
	before, after sasl.Mechanism
	switched      *atomic.Bool
}

func (m switching) Name() string { return m.before.Name() }
func (m switching) Start(ctx context.Context, broker string) (sasl.Session, error) {
	if m.switched.Load() {
		return m.after.Start(ctx, broker)
	}
	return m.before.Start(ctx, broker)
}

// A seed at the address of a node whose new connection is refused (rotated
// credentials, a passing SASL failure) is asked: its authenticated
// connection answers, where the node's refusal alone would speak for the
// cluster (Refusal) and fail the records waiting for metadata and every
// unsent record.
func TestASeedAtTheAddressOfANodeRefusedIsAsked(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	var bad atomic.Bool
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "p"}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = fake
		cfg.Conn.SASL = switching{before: scram.SHA256("u", "p"), after: scram.SHA256("u", "x"), switched: &bad}
	})
	_, node, cn := liveSeedAndNode0(t, r)
	bad.Store(true)
	cn.Close()
	fake.Advance(200 * time.Millisecond) // past node 0's backoff: it dials, and is refused
	_, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
	require.NoError(t, err, "the seed's live connection to the same broker could answer")
	_, err = node.Conn(context.Background())
	require.Error(t, err, "node 0's new connection is refused")
}

// A seed at the address of a node backing off after its connection died of
// an earlier request's timeout is asked: the node's backoff error wraps
// that timeout, but this request was never sent, and the seed's own
// connection answers.
func TestASeedAtTheAddressOfANodeBackingOffAfterATimeoutIsAsked(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = fake
		cfg.Conn.RequestTimeout = time.Second
		// A backoff longer than RequestTimeout, so that a connection that
		// died of a timeout is not replaced at once.
		cfg.Conn.ReconnectBackoff, cfg.Conn.ReconnectBackoffMax = 10*time.Second, 10*time.Second
	})
	_, node, cn := liveSeedAndNode0(t, r)
	hang := "hang"
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if len(req.Topics) > 0 && *req.Topics[0].Name == hang {
			return fakebroker.Action{Hang: true}
		}
		return fakebroker.Action{}
	})
	v, err := cn.VersionWithin(protocol.Metadata, protocol.AllVersions)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := cn.RequestVersion(context.Background(), &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{{Name: &hang}}}, v)
		done <- err
	}()
	reqErr := advanceUntil(t, fake, done, "the hung request's timeout")
	require.ErrorIs(t, reqErr, conn.ErrRequestTimeout)
	<-cn.Done()
	_, err = node.Conn(context.Background())
	require.ErrorIs(t, err, conn.ErrBackoff, "node 0 backs off")
	t.Logf("node 0: %v", err)

	_, err = r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
	require.NoError(t, err, "the seed's live connection to the same broker could answer")
}

// stalled is a SASL mechanism whose Start waits for its ctx: a token
// provider that stopped answering.
type stalled struct{ name string }

func (s stalled) Name() string { return s.name }
func (s stalled) Start(ctx context.Context, _ string) (sasl.Session, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A seed at the address of a node whose new connection failed because the
// client's own SASL mechanism outlasted RequestTimeout (a token provider
// stuck) is asked: that timeout is the node's handle's alone, and the
// seed's authenticated connection answers.
func TestASeedAtTheAddressOfANodeWhoseAuthenticationTimedOutIsAsked(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	var stall atomic.Bool
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "p"}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = fake
		cfg.Conn.RequestTimeout = time.Second
		good := scram.SHA256("u", "p")
		cfg.Conn.SASL = switching{before: good, after: stalled{good.Name()}, switched: &stall}
	})
	_, _, cn := liveSeedAndNode0(t, r)
	stall.Store(true)
	cn.Close()
	fake.Advance(200 * time.Millisecond) // past node 0's backoff: it dials, and its SASL Start stalls
	asked := make(chan error, 1)
	go func() {
		_, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
		asked <- err
	}()
	// The stalled Start ends at RequestTimeout on the fake clock.
	err := advanceUntil(t, fake, asked, "AskAny")
	require.NoError(t, err, "the seed's live connection to the same broker could answer")
}

// advanceUntil moves fake on, a tenth of a second at a time, until got
// brings what, which it returns; a timeout the test waits for fires when
// the clock passes it, wherever the goroutine waiting for it has got to.
func advanceUntil[T any](t *testing.T, fake *clock.Fake, got <-chan T, what string) T {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case v := <-got:
			return v
		case <-time.After(20 * time.Millisecond):
			fake.Advance(100 * time.Millisecond)
		case <-deadline:
			t.Fatalf("%s did not come", what)
		}
	}
}
