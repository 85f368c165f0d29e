package secured

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	franzplain "github.com/twmb/franz-go/pkg/sasl/plain"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/testbroker"
	"github.com/gokafka/producer/internal/testcerts"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
)

// kafka is the real secured broker the environment names, as broker.sh
// start --security MODE prints it (see integration/kafka/security.sh).
type kafka struct {
	security       string // ssl, sasl_plaintext or sasl_ssl
	brokers        []string
	ca             []byte           // PEM; nil without TLS
	client         *tls.Certificate // for mutual TLS (ssl)
	expired        string           // a listener whose certificate expired
	user, password string
	reauth         time.Duration // connections.max.reauth.ms; 0 if off
}

// realKafka reads the environment or skips the test.
func realKafka(t *testing.T) *kafka {
	t.Helper()
	k := &kafka{security: os.Getenv("KAFKA_SECURITY"), expired: os.Getenv("KAFKA_EXPIRED_BROKERS")}
	env := os.Getenv("KAFKA_BROKERS")
	if k.security == "" || env == "" {
		t.Skip("KAFKA_SECURITY and KAFKA_BROKERS are not set (broker.sh start --security MODE prints them)")
	}
	k.brokers = testbroker.EnvBrokers()
	require.NotEmpty(t, k.brokers, "KAFKA_BROKERS=%q names no broker", env)
	if k.tls() {
		var err error
		k.ca, err = os.ReadFile(os.Getenv("KAFKA_CA"))
		require.NoError(t, err, "KAFKA_CA")
	}
	if k.security == "ssl" {
		c, err := tls.LoadX509KeyPair(os.Getenv("KAFKA_CLIENT_CERT"), os.Getenv("KAFKA_CLIENT_KEY"))
		require.NoError(t, err, "KAFKA_CLIENT_CERT, KAFKA_CLIENT_KEY")
		k.client = &c
	}
	// The defaults are broker.sh's, documented in security.sh.
	k.user, k.password = os.Getenv("KAFKA_SASL_USER"), os.Getenv("KAFKA_SASL_PASSWORD")
	if k.user == "" {
		k.user = "gokafka"
	}
	if k.password == "" {
		k.password = "gokafka-secret"
	}
	if ms, err := strconv.Atoi(os.Getenv("KAFKA_REAUTH_MS")); err == nil {
		k.reauth = time.Duration(ms) * time.Millisecond
	}
	return k
}

func (k *kafka) tls() bool  { return strings.HasSuffix(k.security, "ssl") }
func (k *kafka) sasl() bool { return strings.HasPrefix(k.security, "sasl_") }

// tlsConfig trusts the broker's CA and presents the client certificate the
// ssl mode requires; nil without TLS.
func (k *kafka) tlsConfig() *tls.Config {
	if !k.tls() {
		return nil
	}
	if k.client != nil {
		return tlsClient(k.ca, *k.client)
	}
	return tlsClient(k.ca)
}

func (k *kafka) config(mech sasl.Mechanism) producer.Config {
	return producer.Config{Brokers: k.brokers, TLS: k.tlsConfig(), SASL: mech}
}

// readOpts let kgo in: TLS as the producer has it, SASL PLAIN.
func (k *kafka) readOpts() []kgo.Opt {
	var opts []kgo.Opt
	if c := k.tlsConfig(); c != nil {
		opts = append(opts, kgo.DialTLSConfig(c))
	}
	if k.sasl() {
		opts = append(opts, kgo.SASL(franzplain.Auth{User: k.user, Pass: k.password}.AsMechanism()))
	}
	return opts
}

// each runs f once per way in: every SASL mechanism, or mutual TLS alone.
func (k *kafka) each(t *testing.T, f func(t *testing.T, mech sasl.Mechanism)) {
	if !k.sasl() {
		t.Run("mTLS", func(t *testing.T) { f(t, nil) })
		return
	}
	mechs := mechanisms(k.user, k.password)
	for _, name := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"} {
		t.Run(name, func(t *testing.T) { f(t, mechs[name]) })
	}
}

func TestKafkaReadBack(t *testing.T) {
	k := realKafka(t)
	k.each(t, func(t *testing.T, mech sasl.Mechanism) {
		topic := newTopic(t, k.brokers, 3, k.readOpts()...)
		produceAndReadBack(t, k.config(mech), topic, 5000, k.readOpts()...)
	})
}

// A run longer than connections.max.reauth.ms re-authenticates each
// connection while it produces, and loses, fails, retries and reorders
// nothing; the producer's debug log never shows the secret.
func TestKafkaReauthentication(t *testing.T) {
	k := realKafka(t)
	if !k.sasl() || k.reauth <= 0 {
		t.Skip("the broker does not ask for re-authentication (KAFKA_REAUTH_MS)")
	}
	k.each(t, func(t *testing.T, mech sasl.Mechanism) {
		topic := newTopic(t, k.brokers, 3, k.readOpts()...)
		log := produceFor(t, k.config(mech), topic, 2*k.reauth+time.Second, k.readOpts()...)
		require.GreaterOrEqual(t, strings.Count(log, "kafka connection re-authenticated"), 2, "re-authentications")
		require.NotContains(t, log, k.password)
	})
}

func TestKafkaWrongPassword(t *testing.T) {
	k := realKafka(t)
	if !k.sasl() {
		t.Skip("no SASL on this broker")
	}
	const wrong = "wrong-password-never-printed"
	wrongs := mechanisms(k.user, wrong)
	// OAUTHBEARER has no password: its wrong credential is a token that
	// expired an hour ago.
	wrongs["OAUTHBEARER"] = oauthbearer.New(unsecuredToken(k.user, -time.Hour))
	for _, name := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"} {
		t.Run(name, func(t *testing.T) {
			err := sendFails(t, k.config(wrongs[name]), "any-topic")
			require.ErrorIs(t, err, kerr.SaslAuthenticationFailed)
			requireRefused(t, err, name, k.brokers[0], wrong)
		})
	}
}

func TestKafkaUnknownCA(t *testing.T) {
	k := realKafka(t)
	if !k.tls() {
		t.Skip("no TLS on this broker")
	}
	other, err := testcerts.NewCA("not the broker's CA", time.Hour)
	require.NoError(t, err)
	cfg := k.config(mechanisms(k.user, k.password)["SCRAM-SHA-512"])
	if !k.sasl() {
		cfg.SASL = nil
	}
	cfg.TLS = tlsClient(other.PEM(), cfg.TLS.Certificates...)
	err = sendFails(t, cfg, "any-topic")
	requireRefused(t, err, "TLS", k.brokers[0], k.password)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
}

func TestKafkaExpiredCertificate(t *testing.T) {
	k := realKafka(t)
	if !k.tls() || k.expired == "" {
		t.Skip("no listener with an expired certificate (KAFKA_EXPIRED_BROKERS)")
	}
	cfg := k.config(nil)
	cfg.Brokers = []string{k.expired}
	err := sendFails(t, cfg, "any-topic")
	requireRefused(t, err, "TLS", k.expired, "")
	var invalid x509.CertificateInvalidError
	require.ErrorAs(t, err, &invalid)
	require.Equal(t, x509.Expired, invalid.Reason)
}

// The broker's certificate names 127.0.0.1 and localhost: verified against
// another name, it is refused.
func TestKafkaWrongHost(t *testing.T) {
	k := realKafka(t)
	if !k.tls() {
		t.Skip("no TLS on this broker")
	}
	cfg := k.config(nil)
	cfg.TLS.ServerName = "kafka.example"
	err := sendFails(t, cfg, "any-topic")
	requireRefused(t, err, "TLS", k.brokers[0], "")
	var host x509.HostnameError
	require.ErrorAs(t, err, &host)
}

// The ssl mode requires a client certificate: without one the broker
// refuses the handshake, and the records fail at once.
func TestKafkaClientCertificateRequired(t *testing.T) {
	k := realKafka(t)
	if k.security != "ssl" {
		t.Skip("the broker does not require client certificates")
	}
	cfg := k.config(nil)
	cfg.TLS = tlsClient(k.ca)
	err := sendFails(t, cfg, "any-topic")
	requireRefused(t, err, "TLS", k.brokers[0], "")
}
