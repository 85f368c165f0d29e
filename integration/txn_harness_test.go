package integration

// The harness of the transaction tests (txn_*_test.go). Each test runs once
// per transaction protocol: transactions v1 (AddPartitionsToTxn before a
// partition's first batch, EndTxn v4) and transactions v2 (KIP-890 part 2:
// Produce v12+ adds partitions itself, EndTxn v5 bumps the epoch). Which one
// a producer speaks follows the cluster's finalized transaction.version
// feature (KIP-1022), and both kfake and Kafka 4.x let an administrator move
// it at runtime with UpdateFeatures (Kafka's `kafka-features.sh
// --bootstrap-server B downgrade --feature transaction.version=1` sends the
// same request): the harness sets it before each protocol's run, waits
// until every broker says so in ApiVersions, checks that the producer chose
// the protocol meant, and puts the cluster's level back at the end. A broker
// that supports no transaction.version (Kafka 3.x: the feature came with
// 4.0) speaks transactions v1 alone: the v1 run takes it as it is, and the
// v2 run skips, saying so.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// transactionVersion is the feature whose level picks the protocol.
const transactionVersion = "transaction.version"

// txnProtocol is one transaction protocol, and the feature level that
// makes a cluster offer it.
type txnProtocol struct {
	name  string
	level int16
	v2    bool
}

var txnProtocols = []txnProtocol{
	{name: "transactions v1", level: 1, v2: false},
	{name: "transactions v2", level: 2, v2: true},
}

// forEachTxnProtocol runs f once per protocol, each in a subtest with its
// own seeds (an embedded cluster of its own, or KAFKA_BROKERS with
// transaction.version set for it). The cluster's own level is restored
// when the test ends.
func forEachTxnProtocol(t *testing.T, f func(t *testing.T, seeds []string, proto txnProtocol)) {
	t.Helper()
	for _, proto := range txnProtocols {
		t.Run(proto.name, func(t *testing.T) {
			seeds := brokers(t)
			setTransactionVersion(t, seeds, proto.level)
			f(t, seeds, proto)
		})
	}
}

// embeddedBroker reports whether the tests run against the embedded broker
// (kfake), not KAFKA_BROKERS.
func embeddedBroker() bool { return os.Getenv("KAFKA_BROKERS") == "" }

// setTransactionVersion finalizes transaction.version at level on the
// cluster of seeds and waits until every broker advertises it; the level
// found is set again, and awaited likewise, when the test ends.
func setTransactionVersion(t *testing.T, seeds []string, level int16) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx := testCtx(t)
	before, supported, err := transactionVersionLevels(ctx, cl, nil)
	require.NoError(t, err, "reading %s", transactionVersion)
	if supported < level {
		if supported == 0 && level == 1 {
			// No level to set: without the feature, v1 is the
			// protocol, as at level 1.
			return
		}
		t.Skipf("the broker supports %s up to %d, not %d: it lacks %s (KIP-890 part 2)", transactionVersion, supported, level, txnProtocols[level-1].name)
	}
	if before != level {
		t.Cleanup(func() {
			// The next test reads the level it finds: it must be the
			// restored one on every broker.
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
			if err == nil {
				defer cl.Close()
				err = updateTransactionVersion(ctx, cl, level, before)
			}
			if err == nil {
				err = awaitTransactionVersion(ctx, cl, before)
			}
			if err != nil {
				t.Errorf("setting %s back to %d: %v", transactionVersion, before, err)
			}
		})
	}
	require.NoError(t, updateTransactionVersion(ctx, cl, before, level))
	require.NoError(t, awaitTransactionVersion(ctx, cl, level))
}

// awaitTransactionVersion waits until every broker advertises
// transaction.version at level in ApiVersions: each learns it from the
// metadata log, so that whichever the producer meets agrees.
func awaitTransactionVersion(ctx context.Context, cl *kgo.Client, level int16) error {
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		why := ""
		md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil {
			why = fmt.Sprintf("metadata: %v", err)
		} else {
			for _, b := range md.Brokers {
				got, err := finalizedLevel(ctx, cl, cl.Broker(int(b.NodeID)))
				if err == nil && got != level {
					err = fmt.Errorf("at %d", got)
				}
				if err != nil && why == "" {
					why = fmt.Sprintf("broker %d: %v", b.NodeID, err)
				}
			}
		}
		if why == "" {
			return nil
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return fmt.Errorf("%s %d not advertised by every broker: %s: %w", transactionVersion, level, why, ctx.Err())
		}
	}
}

// updateTransactionVersion asks the cluster to move transaction.version
// from one level to another: an upgrade, or a safe downgrade (Kafka refuses
// a "downgrade" to a higher level).
func updateTransactionVersion(ctx context.Context, cl *kgo.Client, from, level int16) error {
	req := kmsg.NewPtrUpdateFeaturesRequest()
	req.TimeoutMillis = int32(testTimeout / time.Millisecond)
	fu := kmsg.NewUpdateFeaturesRequestFeatureUpdate()
	fu.Feature = transactionVersion
	fu.MaxVersionLevel = level
	fu.UpgradeType = 1 // upgrade
	if level < from {
		fu.UpgradeType = 2 // safe downgrade
		fu.AllowDowngrade = true
	}
	req.FeatureUpdates = append(req.FeatureUpdates, fu)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("UpdateFeatures %s=%d: %w", transactionVersion, level, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("UpdateFeatures %s=%d: %w (%s)", transactionVersion, level, err, deref(resp.ErrorMessage))
	}
	for _, r := range resp.Results {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			return fmt.Errorf("UpdateFeatures %s=%d: %w (%s)", r.Feature, level, err, deref(r.ErrorMessage))
		}
	}
	return nil
}

// finalizedLevel is transaction.version as a broker (any, when b is nil)
// says in ApiVersions; 0 when it lists none.
func finalizedLevel(ctx context.Context, cl *kgo.Client, b *kgo.Broker) (int16, error) {
	finalized, _, err := transactionVersionLevels(ctx, cl, b)
	return finalized, err
}

// transactionVersionLevels is transaction.version as a broker (any, when b
// is nil) says in ApiVersions: the finalized level and the highest it
// supports, each 0 when it lists none.
func transactionVersionLevels(ctx context.Context, cl *kgo.Client, b *kgo.Broker) (finalized, supported int16, err error) {
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "gokafka-tests", "0"
	var resp kmsg.Response
	if b == nil {
		resp, err = cl.Request(ctx, req)
	} else {
		resp, err = b.Request(ctx, req)
	}
	if err != nil {
		return 0, 0, err
	}
	av := resp.(*kmsg.ApiVersionsResponse)
	if err := kerr.ErrorForCode(av.ErrorCode); err != nil {
		return 0, 0, err
	}
	for _, f := range av.FinalizedFeatures {
		if f.Name == transactionVersion {
			finalized = f.MaxVersionLevel
		}
	}
	for _, f := range av.SupportedFeatures {
		if f.Name == transactionVersion {
			supported = f.MaxVersion
		}
	}
	return finalized, supported, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// txnLog keeps what the transaction manager logs, to tell which protocol
// it chose and what it met.
type txnLog struct {
	mu    sync.Mutex
	lines []string
	v2    []bool // transactions_v2 of each "transactions initialized"
}

func (l *txnLog) logger() *slog.Logger { return slog.New(l) }

func (l *txnLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *txnLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *txnLog) WithGroup(string) slog.Handler            { return l }

func (l *txnLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		if r.Message == "transactions initialized" && a.Key == "transactions_v2" {
			l.mu.Lock()
			l.v2 = append(l.v2, a.Value.Bool())
			l.mu.Unlock()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

// protocols is what each InitTransactions chose: true for v2.
func (l *txnLog) protocols() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.v2...)
}

// len is how many lines were logged so far.
func (l *txnLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// since returns the lines logged after the first mark that contain s.
func (l *txnLog) since(mark int, s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines[mark:] {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// last is the log's last n lines, for the message of a long test's failure.
func (l *txnLog) last(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// String is the log, for a failing test's message.
func (l *txnLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// newTxnProducer starts a transactional producer with id and initializes
// its transactions, checking that it speaks proto; it is closed when the
// test ends.
func newTxnProducer(t *testing.T, seeds []string, id string, proto txnProtocol, mod func(*producer.Config)) (*producer.Producer, *txnLog) {
	t.Helper()
	log := &txnLog{}
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		cfg.TransactionalID = id
		cfg.Logger = log.logger()
		fastRetries(cfg)
		if mod != nil {
			mod(cfg)
		}
	})
	require.NoError(t, p.InitTransactions(testCtx(t)), "InitTransactions of %q; log:\n%s", id, log)
	require.Equal(t, []bool{proto.v2}, log.protocols(), "the protocol InitTransactions chose (true: transactions v2)")
	return p, log
}

// txnID is a transactional id unique to the test and the run.
func txnID(t *testing.T, suffix string) string {
	return fmt.Sprintf("%s-%d-%s", strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()), time.Now().UnixNano(), suffix)
}

// readCommitted reads topic back as a consumer reading committed records
// does, requiring exactly want records, within testTimeout.
func readCommitted(t *testing.T, seeds []string, topic string, want int) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, want, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	require.NoError(t, err, "reading back %s (read_committed)", topic)
	require.Len(t, got, want, "records read back from %s (read_committed)", topic)
	return got
}

// readUncommitted reads topic back with read_uncommitted, aborted records
// included, requiring exactly want records.
func readUncommitted(t *testing.T, seeds []string, topic string, want int) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, want)
	require.NoError(t, err, "reading back %s (read_uncommitted)", topic)
	require.Len(t, got, want, "records read back from %s (read_uncommitted)", topic)
	return got
}

// coordinatorEpoch is the producer epoch the transaction coordinator of
// seeds holds for the transactional id (DescribeTransactions): the epoch a
// request the producer never heard back from may have moved on.
func coordinatorEpoch(t *testing.T, seeds []string, id string) int16 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	epoch, err := describeEpoch(ctx, seeds, id)
	require.NoError(t, err)
	return epoch
}

// awaitEpochAbove waits, bounded, until the coordinator's epoch for id
// (coordinatorEpoch) is above epoch, asking every tick. A failed
// DescribeTransactions is asked again at the next tick: require inside the
// condition, which testify runs on a goroutine of its own, would end that
// goroutine at the first failure and leave the wait to time out without
// its cause. If the wait ends, its failure gives the last answer.
func awaitEpochAbove(t *testing.T, seeds []string, id string, epoch int16, tick time.Duration, what string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
		defer cancel()
		got, err := describeEpoch(ctx, seeds, id)
		if assert.NoError(c, err) {
			assert.Greater(c, got, epoch, "the coordinator's epoch for %q", id)
		}
	}, testTimeout, tick, what)
}

// describeEpoch asks the coordinator of seeds for id's producer epoch; its
// error is a value, so that a poll can ask again.
func describeEpoch(ctx context.Context, seeds []string, id string) (int16, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("DescribeTransactions of %q: %w", id, err)
	}
	if len(resp.TransactionStates) != 1 {
		return 0, fmt.Errorf("DescribeTransactions of %q: the answer names %d transactions", id, len(resp.TransactionStates))
	}
	st := resp.TransactionStates[0]
	if err := kerr.ErrorForCode(st.ErrorCode); err != nil {
		return 0, fmt.Errorf("DescribeTransactions of %q: %w", id, err)
	}
	return st.ProducerEpoch, nil
}
