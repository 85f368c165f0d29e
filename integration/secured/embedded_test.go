package secured

import (
	"crypto/tls"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	franzplain "github.com/twmb/franz-go/pkg/sasl/plain"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/testcerts"
	"github.com/gokafka/producer/protocol/kerr"
)

const (
	embeddedUser     = "alice"
	embeddedPassword = "alice-embedded-pw"
)

// embeddedSecured is kfake over TLS with SASL users for PLAIN and both
// SCRAMs, a re-authentication interval of reauth, and the client side:
// the TLS configuration and the read-back client's options.
type embeddedSecured struct {
	cluster  *embedded.Cluster
	tls      *tls.Config
	readOpts []kgo.Opt
}

func startEmbeddedSecured(t *testing.T, reauth time.Duration) *embeddedSecured {
	t.Helper()
	ca, err := testcerts.NewCA("embedded CA", time.Hour)
	require.NoError(t, err)
	cert, err := ca.Issue(testcerts.Valid("kfake", time.Hour, "127.0.0.1"))
	require.NoError(t, err)
	opts := []kfake.Opt{
		kfake.EnableSASL(),
		kfake.Superuser("PLAIN", embeddedUser, embeddedPassword),
		kfake.Superuser("SCRAM-SHA-256", embeddedUser, embeddedPassword),
		kfake.Superuser("SCRAM-SHA-512", embeddedUser, embeddedPassword),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
	}
	if reauth > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"connections.max.reauth.ms": strconv.FormatInt(reauth.Milliseconds(), 10)}))
	}
	c, err := embedded.Start(embedded.Options{Kfake: opts})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	clientTLS := tlsClient(ca.PEM())
	s := &embeddedSecured{cluster: c, tls: clientTLS, readOpts: []kgo.Opt{
		kgo.DialTLSConfig(clientTLS.Clone()),
		kgo.SASL(franzplain.Auth{User: embeddedUser, Pass: embeddedPassword}.AsMechanism()),
	}}
	c.AnswerWrongPlainPasswords(embeddedPassword)
	return s
}

func (s *embeddedSecured) config(mech string, password string) producer.Config {
	return producer.Config{
		Brokers:             s.cluster.Addrs(),
		TLS:                 s.tls,
		SASL:                mechanisms(embeddedUser, password)[mech],
		ReconnectBackoffMax: 200 * time.Millisecond,
	}
}

// Every mechanism kfake knows, over TLS: the records are read back exactly
// by a client we did not write.
func TestEmbeddedMechanismsOverTLS(t *testing.T) {
	s := startEmbeddedSecured(t, 0)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			topic := newTopic(t, s.cluster.Addrs(), 3, s.readOpts...)
			produceAndReadBack(t, s.config(mech, embeddedPassword), topic, 5000, s.readOpts...)
		})
	}
}

// With connections.max.reauth.ms at 2s, a 7s run re-authenticates every
// connection several times while producing; nothing fails, is retried,
// lost or reordered. (At 1s a session leaves no room for Kafka's one
// re-authentication a second: the producer lets it lapse and dials again,
// and the count of re-authentications became a matter of timing.)
func TestEmbeddedReauthentication(t *testing.T) {
	s := startEmbeddedSecured(t, 2*time.Second)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			topic := newTopic(t, s.cluster.Addrs(), 3, s.readOpts...)
			log := produceFor(t, s.config(mech, embeddedPassword), topic, 7*time.Second, s.readOpts...)
			require.GreaterOrEqual(t, strings.Count(log, "kafka connection re-authenticated"), 3, "re-authentications")
			require.NotContains(t, log, embeddedPassword)
		})
	}
}

func TestEmbeddedWrongPassword(t *testing.T) {
	s := startEmbeddedSecured(t, 0)
	topic := newTopic(t, s.cluster.Addrs(), 1, s.readOpts...)
	err := sendFails(t, s.config("PLAIN", "not-the-password"), topic)
	require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
	requireRefused(t, err, "PLAIN", s.cluster.Addrs()[0], "not-the-password")
}

func TestEmbeddedUnknownCA(t *testing.T) {
	s := startEmbeddedSecured(t, 0)
	other, err := testcerts.NewCA("another CA", time.Hour)
	require.NoError(t, err)
	cfg := s.config("PLAIN", embeddedPassword)
	cfg.TLS = tlsClient(other.PEM())
	err = sendFails(t, cfg, "any")
	requireRefused(t, err, "TLS", s.cluster.Addrs()[0], "")
	require.Contains(t, err.Error(), "unknown authority")
}
