package conn

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/sasl"
)

// Config configures connections. The zero value of each field means its
// default.
type Config struct {
	// ClientID is sent in every request header (Java: client.id). It may be
	// empty.
	ClientID string
	// SoftwareName and SoftwareVersion identify this client to brokers in
	// ApiVersions v3+ (KIP-511). Brokers reject values outside
	// [a-zA-Z0-9.-]. Defaults "gokafka-producer" and "0.1.0".
	SoftwareName, SoftwareVersion string
	// DialTimeout bounds establishing the connection: Dial and, with TLS,
	// the handshake (Java: socket.connection.setup.timeout.ms). Default
	// 10s.
	DialTimeout time.Duration
	// RequestTimeout is how long a request may go without a response (Java:
	// request.timeout.ms). When it passes, the connection is closed and every
	// request on it fails, as in the Java client: a broker that stopped
	// answering one request is not trusted with the others. Default 30s.
	RequestTimeout time.Duration
	// MaxInFlight is how many requests may await a response on one
	// connection (Java: max.in.flight.requests.per.connection); Send blocks
	// beyond it. Default 5.
	MaxInFlight int
	// ReconnectBackoff and ReconnectBackoffMax pace a Broker's reconnection
	// attempts: the wait doubles with each consecutive failure, from
	// ReconnectBackoff up to ReconnectBackoffMax, with ±20% jitter so that
	// many clients do not reconnect in step (Java: reconnect.backoff.ms,
	// reconnect.backoff.max.ms). Defaults 50ms and 1s.
	ReconnectBackoff, ReconnectBackoffMax time.Duration
	// Dial opens the connection; nil means a net.Dialer. A *tls.Dialer
	// works too, but TLS below is better: its errors are classified, and
	// its transport reads and writes with raw system calls on Linux as a
	// plain TCP connection does (rawio_linux.go), where a *tls.Conn Dial
	// returns keeps net's own. One that ignores its ctx is not waited
	// for past DialTimeout or the dial's end: the dial fails then, and a
	// connection Dial returns after that is closed.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLS, when set, wraps every connection in TLS with this configuration
	// (Java: security.protocol=SSL or SASL_SSL). An empty ServerName means
	// the host dialled, for SNI and for verifying the broker's certificate.
	// A certificate that does not verify, or a broker that refuses ours,
	// fails the dial with an *AuthError.
	TLS *tls.Config
	// SASL, when set, authenticates every new connection after the
	// ApiVersions handshake (Java: sasl.mechanism), and again before the
	// session the broker grants expires (KIP-368), at most once a second,
	// as Kafka allows: a shorter session lapses, closing the connection.
	// Rejected credentials fail the dial with an *AuthError; a mechanism
	// that cannot start (its token provider failing) fails it retriably,
	// with ErrDisconnected.
	SASL sasl.Mechanism
	// Logger receives connects and disconnects at Debug, and at Error, with
	// its stack, a panic recovered from a SASL mechanism or a response's
	// decoder. Default: discard.
	Logger *slog.Logger
	// Clock times requests and backoff. Default: the wall clock.
	Clock clock.Clock

	// NodeID is the broker's id, for Events; NewBroker sets it.
	NodeID int32
	// Events tell the producer's hooks of connections opening and closing
	// (events.go).
	Events Events
}

// Defaults for the Config fields.
const (
	DefaultSoftwareName        = "gokafka-producer"
	DefaultSoftwareVersion     = "0.1.0"
	DefaultDialTimeout         = 10 * time.Second
	DefaultRequestTimeout      = 30 * time.Second
	DefaultMaxInFlight         = 5
	DefaultReconnectBackoff    = 50 * time.Millisecond
	DefaultReconnectBackoffMax = time.Second
)

// withDefaults fills every zero field. It is idempotent, so Broker can apply
// it once and Dial again.
func (cfg Config) withDefaults() Config {
	if cfg.SoftwareName == "" {
		cfg.SoftwareName = DefaultSoftwareName
	}
	if cfg.SoftwareVersion == "" {
		cfg.SoftwareVersion = DefaultSoftwareVersion
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ReconnectBackoff <= 0 {
		cfg.ReconnectBackoff = DefaultReconnectBackoff
	}
	if cfg.ReconnectBackoffMax <= 0 {
		cfg.ReconnectBackoffMax = DefaultReconnectBackoffMax
	}
	if cfg.ReconnectBackoffMax < cfg.ReconnectBackoff {
		cfg.ReconnectBackoffMax = cfg.ReconnectBackoff
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{}).DialContext
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return cfg
}
