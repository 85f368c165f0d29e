package secured

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
	"github.com/gokafka/producer/integration/testbroker"
	"github.com/gokafka/producer/sasl"
	"github.com/gokafka/producer/sasl/oauthbearer"
	"github.com/gokafka/producer/sasl/plain"
	"github.com/gokafka/producer/sasl/scram"
)

// testTimeout bounds each wait; failFast bounds how long a refused
// connection may take to fail a record: at once, not at MaxBlock (a
// minute), with room for a loaded machine and broker.
const (
	testTimeout = 60 * time.Second
	failFast    = 20 * time.Second
)

// mechanisms are the SASL mechanisms the secured brokers enable, each with
// the given credentials. OAUTHBEARER gets an unsigned JWT for user, which
// an unsecured-token validator accepts.
func mechanisms(user, password string) map[string]sasl.Mechanism {
	return map[string]sasl.Mechanism{
		"PLAIN":         plain.New(user, password),
		"SCRAM-SHA-256": scram.SHA256(user, password),
		"SCRAM-SHA-512": scram.SHA512(user, password),
		"OAUTHBEARER":   oauthbearer.New(unsecuredToken(user, time.Hour)),
	}
}

// unsecuredToken provides unsigned JWTs ({"alg":"none"}) for sub, valid
// for lifetime from when they are asked for: a fresh one per
// authentication, as a real provider would.
func unsecuredToken(sub string, lifetime time.Duration) oauthbearer.TokenProvider {
	return func(context.Context) (oauthbearer.Token, error) {
		enc := base64.RawURLEncoding
		now := time.Now()
		claims, err := json.Marshal(map[string]any{"sub": sub, "iat": now.Unix(), "exp": now.Add(lifetime).Unix()})
		if err != nil {
			return oauthbearer.Token{}, err
		}
		return oauthbearer.Token{Value: enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(claims) + "."}, nil
	}
}

// logCapture is a Debug-level logger whose every line is kept, to count
// events and to check that no secret is ever logged.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// newTopic creates a topic of partitions on the cluster reached with opts
// and waits until every partition has a leader.
func newTopic(t *testing.T, brokers []string, partitions int32, opts ...kgo.Opt) string {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	name := fmt.Sprintf("%s-%d", strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()), time.Now().UnixNano())
	require.NoError(t, testbroker.CreateTopic(ctx, cl, name, partitions), "within %v", testTimeout)
	return name
}

// produceAndReadBack sends n keyed records through cfg, then reads them
// back with readOpts and requires exactly those records, in order within
// each partition, with no batch retried.
func produceAndReadBack(t *testing.T, cfg producer.Config, topic string, n int, readOpts ...kgo.Opt) {
	t.Helper()
	run(t, cfg, topic, func(sent int, _ time.Time) bool { return sent < n }, 0, readOpts...)
}

// checkReadBack reads topic and requires values v000000..v(n-1), each once,
// increasing within each partition.
func checkReadBack(t *testing.T, brokers []string, topic string, n int, readOpts ...kgo.Opt) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	recs, err := readback.ReadAll(ctx, brokers, topic, n, readOpts...)
	require.NoError(t, err)
	require.Len(t, recs, n, "records read back")
	seen := make([]bool, n)
	last := map[int32]int{}
	for _, r := range recs {
		var i int
		_, err := fmt.Sscanf(string(r.Value), "v%06d", &i)
		require.NoError(t, err, "value %q", r.Value)
		require.False(t, seen[i], "record %d read twice", i)
		seen[i] = true
		if prev, ok := last[r.Partition]; ok {
			require.Greater(t, i, prev, "partition %d: record %d after %d", r.Partition, i, prev)
		}
		last[r.Partition] = i
	}
}

// sendFails sends one record through cfg and returns its error, requiring
// that it came within failFast.
func sendFails(t *testing.T, cfg producer.Config, topic string) error {
	t.Helper()
	p, err := producer.New(cfg)
	require.NoError(t, err)
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	start := time.Now()
	_, err = p.Send(ctx, &producer.Record{Topic: topic, Value: []byte("v")})
	took := time.Since(start)
	require.Error(t, err, "a record went through")
	require.Less(t, took, failFast, "the failure took %v: %v", took, err)
	t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
	return err
}

// requireRefused checks that err says, in one line, which mechanism the
// broker at addr refused, and nothing about the secret.
func requireRefused(t *testing.T, err error, mechanism, addr, secret string) {
	t.Helper()
	require.ErrorIs(t, err, producer.ErrAuthentication)
	var ae *producer.AuthError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, mechanism, ae.Mechanism)
	msg := err.Error()
	require.Contains(t, msg, mechanism)
	require.Contains(t, msg, addr)
	require.NotContains(t, msg, "\n")
	if secret != "" {
		require.NotContains(t, msg, secret)
	}
}

// tlsClient is a TLS configuration trusting ca.
func tlsClient(ca []byte, certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: pool(ca), Certificates: certs, MinVersion: tls.VersionTLS12}
}

func pool(caPEM []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(caPEM)
	return p
}

// produceFor produces keyed records at about 2,000 a second for d, with
// the same checks as produceAndReadBack, and returns the producer's log.
// Run longer than the broker's re-authentication interval, it shows that
// re-authenticating a busy connection loses, fails, retries and reorders
// nothing.
func produceFor(t *testing.T, cfg producer.Config, topic string, d time.Duration, readOpts ...kgo.Opt) string {
	t.Helper()
	end := time.Now().Add(d)
	return run(t, cfg, topic, func(int, time.Time) bool { return time.Now().Before(end) }, 50*time.Millisecond, readOpts...)
}

// run produces keyed records numbered from 0 in rounds of 100, a round
// every pace (0: no wait), while more says so; then it requires every
// record acknowledged, none retried, and all read back exactly, in order
// within each partition. It returns the producer's debug log.
//
// One record per partition goes first, each awaited and to its partition
// by ExplicitPartition: a new topic's leaders may still be settling
// (NOT_LEADER_OR_FOLLOWER, retried, which without idempotence may reorder),
// and that is not what this checks.
func run(t *testing.T, cfg producer.Config, topic string, more func(sent int, start time.Time) bool, pace time.Duration, readOpts ...kgo.Opt) string {
	t.Helper()
	var log logCapture
	cfg.Logger = log.logger()
	p, err := producer.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 2*testTimeout)
	defer cancel()
	partitions, err := p.PartitionsFor(ctx, topic)
	require.NoError(t, err)
	n := 0
	for ; n < partitions; n++ {
		md, err := p.Send(ctx, &producer.Record{Topic: topic, Partition: int32(n), ExplicitPartition: true, Value: fmt.Appendf(nil, "v%06d", n)})
		require.NoError(t, err, "the first record of partition %d", n)
		require.Equal(t, int32(n), md.Partition, "the first record of partition %d went to partition %d", n, md.Partition)
	}
	retriesBefore := p.Stats().Retries

	var failed atomic.Int64
	var firstErr atomic.Value
	var tick <-chan time.Time
	if pace > 0 {
		ticker := time.NewTicker(pace)
		defer ticker.Stop()
		tick = ticker.C
	}
	start := time.Now()
	for more(n, start) {
		for range 100 {
			p.Produce(ctx, &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", n%7), Value: fmt.Appendf(nil, "v%06d", n)},
				func(_ producer.RecordMetadata, err error) {
					if err != nil && failed.Add(1) == 1 {
						firstErr.Store(err)
					}
				})
			n++
		}
		if tick != nil {
			<-tick
		}
	}
	require.NoError(t, p.Flush(ctx))
	stats := p.Stats()
	require.NoError(t, p.Close(ctx))
	require.Zero(t, failed.Load(), "of %d records, some failed, the first with: %v", n, firstErr.Load())
	require.Equal(t, retriesBefore, stats.Retries, "batches were retried; the log says:\n%s",
		grepLines(log.String(), "retry", "failed", "closed", "lost", "authenticat"))
	checkReadBack(t, cfg.Brokers, topic, n, readOpts...)
	t.Logf("%d records over %v, %d re-authentications", n, time.Since(start).Round(time.Millisecond),
		strings.Count(log.String(), "kafka connection re-authenticated"))
	return log.String()
}

// grepLines are the lines of s that hold any of words.
func grepLines(s string, words ...string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		for _, w := range words {
			if strings.Contains(line, w) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
