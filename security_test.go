package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
	"github.com/gokafka/producer/sasl/plain"
	"github.com/gokafka/producer/sasl/scram"
)

// refusingDialer dials normally until refuse is set, then fails every dial
// the way crypto/tls does when the broker's certificate has an unknown CA;
// with only set, it refuses that address alone, from the start.
type refusingDialer struct {
	refuse atomic.Bool
	only   string
	dials  atomic.Int64 // dials refused
}

func (d *refusingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.refuse.Load() || (d.only != "" && addr == d.only) {
		d.dials.Add(1)
		return nil, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// assertAuthFailure checks that a record's error says the broker refused us,
// not that time ran out.
func assertAuthFailure(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrAuthentication)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "TLS", ae.Mechanism)
	require.NotErrorIs(t, err, ErrDeliveryTimeout)
	require.NotErrorIs(t, err, ErrUnknownTopic)
	require.Contains(t, err.Error(), "unknown authority")
}

// Records waiting for metadata fail as soon as no broker lets the producer
// in, not after MaxBlock; PartitionsFor too.
func TestRefusedConnectionFailsWaitingRecords(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &refusingDialer{}
	d.refuse.Store(true)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Dialer = d
		cfg.MaxBlock = time.Hour
		cfg.DeliveryTimeout = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := p.Send(ctx, &Record{Topic: "t", Value: []byte("v")})
	assertAuthFailure(t, err)

	_, err = p.PartitionsFor(ctx, "t")
	assertAuthFailure(t, err)
}

// Batches for a leader that refuses the connection fail at once. The
// leader is a broker of its own, refused from the start: had it let a
// metadata request in first, its connection would serve the records.
func TestRefusedLeaderFailsBatches(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(string, int32) int32 { return 1 }})
	d := &refusingDialer{only: c.Addrs()[1]}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Brokers = c.Addrs()[:1]
		cfg.Dialer = d
		cfg.DeliveryTimeout = time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, err := p.PartitionsFor(ctx, "t") // metadata through the other broker
	require.NoError(t, err)

	for i := range 20 {
		_, err := p.Send(ctx, &Record{Topic: "t", Partition: int32(i % 2), Value: []byte("v")})
		assertAuthFailure(t, err)
	}
	// The reconnect backoff paces the attempts: twenty records, far fewer
	// dials than one per record would be.
	require.Less(t, d.dials.Load(), int64(20), "dials")
}

// InitTransactions against brokers that all refuse the producer fails with
// the refusal, as records do, rather than look for the coordinator again
// and again until its ctx ends (for ever with context.Background()).
func TestInitTransactionsFailsOnARefusal(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &refusingDialer{}
	d.refuse.Store(true)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Dialer = d
		cfg.TransactionalID = "tx"
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	assertAuthFailure(t, p.InitTransactions(ctx))
	require.NoError(t, ctx.Err(), "InitTransactions waited for its ctx rather than fail on the refusal")
}

// switchingSCRAM authenticates with the right password, or with a wrong
// one while wrong is set: a rotation the brokers have not caught up with.
type switchingSCRAM struct {
	right, bad sasl.Mechanism
	wrong      atomic.Bool
}

func (m *switchingSCRAM) Name() string { return m.right.Name() }

func (m *switchingSCRAM) Start(ctx context.Context, broker string) (sasl.Session, error) {
	if m.wrong.Load() {
		return m.bad.Start(ctx, broker)
	}
	return m.right.Start(ctx, broker)
}

// errIdentityProviderDown is a token provider's error while its identity
// provider answers 503.
var errIdentityProviderDown = errors.New("identity provider: 503 Service Unavailable")

// blippingStart is a mechanism whose next fails starts fail with
// errIdentityProviderDown, as an OAUTHBEARER token provider's do while its
// identity provider blips.
type blippingStart struct {
	sasl.Mechanism
	fails  atomic.Int32
	failed atomic.Int32
}

func (m *blippingStart) Start(ctx context.Context, broker string) (sasl.Session, error) {
	if m.fails.Add(-1) >= 0 {
		m.failed.Add(1)
		return nil, errIdentityProviderDown
	}
	return m.Mechanism.Start(ctx, broker)
}

// A mechanism that cannot start refused nothing, so it fails no record: the
// connection is dialed again at the reconnect backoff's pace, and the
// records go once the token can be had. Before, its error was an
// *AuthError, and the records failed at once with ErrAuthentication, both
// those waiting for metadata (the bootstrap dial) and the batches of a
// broker whose new connection could not start.
func TestATokenFetchThatFailsOnceFailsNoRecord(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "pw"}})
	mech := &blippingStart{Mechanism: scram.SHA256("u", "pw")}
	mech.fails.Store(1)
	p := newProducer(t, c, func(cfg *Config) { cfg.SASL = mech })
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("waited for metadata")})
	require.NoError(t, err, "a record failed because the first token fetch did")
	// Two connections may start at once (a seed's, for metadata, and the
	// broker's): one may have taken its failure, not yet counted, when the
	// other's start lets the record go.
	eventually(t, "the failed start counted", func() bool { return mech.failed.Load() == 1 })

	mech.fails.Store(3)
	require.NoError(t, c.DropConnections(0))
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("batched")})
	require.NoError(t, err, "a record failed because the token fetches of a new connection did")
	eventually(t, "the three failed starts counted", func() bool { return mech.failed.Load() == 4 })
}

// A token provider whose own HTTP client timed out (its error matches
// context.DeadlineExceeded) fails a record that waited for metadata at
// MaxBlock as an unknown topic whose last refresh could not start, not as
// a match for context.DeadlineExceeded, which says that the record's ctx
// ended: it was context.Background(). Before, the provider's error was
// wrapped all the way to the record's.
func TestATokenProvidersOwnTimeoutIsNotTheRecordsCtxError(t *testing.T) {
	// SCRAM makes the fake speak SASL; no token gets that far.
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "pw"}})
	clk := clock.NewFake(heldClockStart)
	mech := oauthbearer.New(func(context.Context) (oauthbearer.Token, error) {
		return oauthbearer.Token{}, fmt.Errorf("identity provider: %w", context.DeadlineExceeded)
	})
	const maxBlock = 10 * time.Second
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.SASL, cfg.MaxBlock = clk, mech, maxBlock })
	failed := make(chan error, 1)
	p.Produce(context.Background(), &Record{Topic: "t", Value: []byte("v")}, func(_ RecordMetadata, err error) { failed <- err })
	eventually(t, "a metadata refresh that failed", func() bool { return p.refreshFailed.Load() != nil })
	clk.Advance(maxBlock)
	err := receive(t, failed, "the record outlived MaxBlock")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "could not start: OAUTHBEARER: token provider: identity provider: context deadline exceeded")
	require.NotErrorIs(t, err, context.DeadlineExceeded, "a record produced with context.Background() failed as if its ctx ended")
}

// A token the mechanism judges invalid (an extension name with a hyphen,
// which OAUTHBEARER allows never) is refused credentials: the records fail
// at once with ErrAuthentication, whatever MaxBlock. Taken for a token
// fetch that failed, it was retried, and the record waiting for metadata
// failed only after MaxBlock, as an unknown topic.
func TestAnInvalidTokenFailsRecordsAtOnce(t *testing.T) {
	// SCRAM makes the fake speak SASL; the token is judged before any of it.
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "pw"}})
	mech := oauthbearer.New(func(context.Context) (oauthbearer.Token, error) {
		return oauthbearer.Token{Value: "eyJhbGciOiJub25lIn0.e30.", Extensions: map[string]string{"trace-id": "x"}}, nil
	})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.SASL = mech
		cfg.MaxBlock = time.Hour
		cfg.DeliveryTimeout = time.Hour
	})
	// Far shorter than MaxBlock: a record retried until then fails with
	// this ctx's end instead.
	sendCtx, cancel := context.WithTimeout(ctx(t), 5*time.Second)
	defer cancel()
	_, err := p.Send(sendCtx, &Record{Topic: "t", Value: []byte("waited for metadata")})
	require.ErrorIs(t, err, ErrAuthentication)
	require.ErrorIs(t, err, sasl.ErrInvalidCredentials)
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "OAUTHBEARER", ae.Mechanism)
}

// Credentials refused while the idempotent producer asks for its id fail
// the records waiting for it, as a refused certificate does, and the
// producer goes on once they are accepted. SASL's refusal carries a broker
// code that will not heal (SASL_AUTHENTICATION_FAILED), which stopped the
// producer for good, as if the cluster denied it idempotence.
func TestRefusedCredentialsWhileGettingTheProducerIDAreNotFatal(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "pw"}})
	mech := &switchingSCRAM{right: scram.SHA256("u", "pw"), bad: scram.SHA256("u", "stale")}
	p := newProducer(t, c, func(cfg *Config) { cfg.SASL = mech })
	_, err := p.PartitionsFor(ctx(t), "t") // connected, no producer id yet
	require.NoError(t, err)

	mech.wrong.Store(true)
	require.NoError(t, c.DropConnections(0))
	_, err = p.Send(ctx(t), &Record{Topic: "t", Value: []byte("refused")})
	require.ErrorIs(t, err, ErrAuthentication)
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)

	mech.wrong.Store(false)
	eventually(t, "a record acknowledged once the credentials were accepted", func() bool {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("accepted")})
		return err == nil
	})
}

// A token provider that blocks without watching its ctx (an SDK call that
// takes none) does not hold up Close: Close, its ctx already ended,
// abandons the dial waiting for the provider and returns. Before, it
// waited for the provider, since the broker's Close waits for its dial. The
// dial's own RequestTimeout (30s by default) outlasts the test's wait.
func TestCloseReturnsWhileATokenProviderIgnoresItsCtx(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, SCRAM: map[string]string{"u": "p"}})
	fetching := make(chan struct{}, 1)
	release := make(chan struct{})
	provider := func(context.Context) (oauthbearer.Token, error) {
		select {
		case fetching <- struct{}{}:
		default:
		}
		<-release
		return oauthbearer.Token{}, errors.New("released at the test's end")
	}
	p := newProducer(t, c, func(cfg *Config) { cfg.SASL = oauthbearer.New(provider) })
	t.Cleanup(func() { close(release) }) // before the producer's cleanup
	closeWhileStuckIn(t, p, fetching, "the token provider")
}

// closeWhileStuckIn sends a record with p, waits for stuck, what the send
// gets stuck in, to tell it was called, and checks that Close, its ctx
// already ended, returns all the same, failing the record with ErrClosed.
func closeWhileStuckIn(t *testing.T, p *Producer, stuck <-chan struct{}, what string) {
	t.Helper()
	sent := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_, err := p.Send(ctx, &Record{Topic: "t", Value: []byte("v")})
		sent <- err
	}()
	receive(t, stuck, what+" was not called within the wait time")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	closed := make(chan error, 1)
	go func() { closed <- p.Close(ctx) }()
	receive(t, closed, "Close, its ctx ended, waited for "+what)
	require.ErrorIs(t, receive(t, sent, "the record outlived Close"), ErrClosed)
}

// A Dialer that blocks without watching its ctx (an SSH tunnel's Dial,
// which takes none, wrapped as a DialContext) does not hold up Close
// either: Close, its ctx already ended, abandons the dial and returns.
// Before, it waited for the Dialer, since the broker's Close waits for its
// dial and the dial for the Dialer. The dial's ConnectionSetupTimeout is
// made to outlast the test's wait, so that only Close can end it.
func TestCloseReturnsWhileADialerIgnoresItsCtx(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &deafDialer{dialing: make(chan struct{}, 1), release: make(chan struct{})}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Dialer = d
		cfg.ConnectionSetupTimeout = 2 * waitFor
	})
	t.Cleanup(func() { close(d.release) }) // before the producer's cleanup
	closeWhileStuckIn(t, p, d.dialing, "the Dialer")
}

// deafDialer blocks in DialContext without watching its ctx until release
// closes, then fails.
type deafDialer struct {
	dialing chan struct{} // gets a value as a dial starts, if it has room
	release chan struct{}
}

func (d *deafDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	select {
	case d.dialing <- struct{}{}:
	default:
	}
	<-d.release
	return nil, errors.New("released at the test's end")
}

func TestSecurityConfig(t *testing.T) {
	_, err := New(Config{Brokers: []string{"b:9092"}, TLS: &tls.Config{}, Dialer: &tls.Dialer{}})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "TLS", ce.Field)

	// It could never start, and a mechanism that cannot start is retried
	// until DeliveryTimeout.
	_, err = New(Config{Brokers: []string{"b:9092"}, SASL: oauthbearer.New(nil)})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "SASL", ce.Field)
	require.Contains(t, ce.Reason, "no token provider")

	// Its name goes in SaslHandshake: an empty one, which no broker
	// enables, would have every connection refused, an *AuthError.
	_, err = New(Config{Brokers: []string{"b:9092"}, SASL: unnamedMechanism{}})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "SASL", ce.Field)
	require.Contains(t, ce.Reason, "no name")
}

// unnamedMechanism is a SASL mechanism whose Name is empty.
type unnamedMechanism struct{ unstartable }

func (unnamedMechanism) Name() string { return "" }

// A mechanism that is a nil pointer (var m *plain.Mechanism; cfg.SASL = m)
// is refused by New, naming the field. Before, New panicked for SCRAM and
// OAUTHBEARER, whose Name or Validate read it, and took it for PLAIN, whose
// first connection then crashed the process.
func TestNewRefusesANilMechanism(t *testing.T) {
	for name, mech := range map[string]sasl.Mechanism{
		"PLAIN":       (*plain.Mechanism)(nil),
		"SCRAM":       (*scram.Mechanism)(nil),
		"OAUTHBEARER": (*oauthbearer.Mechanism)(nil),
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() {
				_, err = New(Config{Brokers: []string{"b:9092"}, SASL: mech})
			})
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, "SASL", ce.Field)
			require.Contains(t, ce.Reason, "nil")
		})
	}
}

// Neither %v nor %+v nor %#v of a Config shows the password.
func TestConfigPrintsNoSecret(t *testing.T) {
	cfg := Config{Brokers: []string{"b:9092"}, SASL: plain.New("alice", "pw-s3cret")}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, cfg) + fmt.Sprintf(verb, &cfg)
		if strings.Contains(out, "s3cret") {
			t.Errorf("%s of a Config shows the password: %s", verb, out)
		}
	}
}
