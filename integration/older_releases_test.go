package integration

// The producer against the embedded broker capped at the versions each
// Kafka release from 3.0 to 4.0 lists in ApiVersions (kversion's tables of
// them). Of those releases CI runs a real broker of 3.9 alone (see the
// README's Brokers section), and the rest of the suite meets the embedded
// broker at its newest: nothing else holds the producer to what an older
// broker speaks. Each release gets the idempotent producer (zstd, which
// needs Produce v7) and a transactional one (commit with offsets, abort,
// commit, read back read_committed), and every version the producers sent
// is checked: each request at the highest version both sides speak, with
// ApiVersions first at ours and again at the broker's when it is older,
// and the transaction protocol the release offers (KIP-890's transactions
// v2 from 4.0 only). This checks versions, not an old broker's behaviour,
// which the embedded broker does not imitate.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol"
)

// olderReleases are the releases the producer is run against: produce is
// the highest Produce version each lists, txnV2 whether it offers
// transactions v2 (Produce v12 and EndTxn v5, with transaction.version at
// 2, which the embedded broker finalizes from 4.0).
var olderReleases = []struct {
	name     string
	versions func() *kversion.Versions
	produce  int16
	txnV2    bool
}{
	{"3.0", kversion.V3_0_0, 9, false},
	{"3.1", kversion.V3_1_0, 9, false},
	{"3.2", kversion.V3_2_0, 9, false},
	{"3.3", kversion.V3_3_0, 9, false},
	{"3.4", kversion.V3_4_0, 9, false},
	{"3.5", kversion.V3_5_0, 9, false},
	{"3.6", kversion.V3_6_0, 9, false},
	{"3.7", kversion.V3_7_0, 10, false},
	{"3.8", kversion.V3_8_0, 11, false},
	{"3.9", kversion.V3_9_0, 11, false},
	{"4.0", kversion.V4_0_0, 12, true},
}

func TestOlderReleasesVersionsNegotiated(t *testing.T) {
	if !embeddedBroker() {
		t.Skip("embedded broker only: it is capped at each release's versions")
	}
	for _, rel := range olderReleases {
		t.Run(rel.name, func(t *testing.T) {
			broker := rel.versions()
			listed, _ := broker.LookupMaxKeyVersion(int16(protocol.Produce))
			require.Equal(t, rel.produce, listed, "the table's Produce version of %s", rel.name)
			c := startCluster(t, embedded.Options{Kfake: []kfake.Opt{kfake.MaxVersions(broker)}})
			seeds := c.Addrs()
			topic := newTopic(t, seeds, 3)

			// From here to stop, every request is the producers': the
			// clients of newTopic and readCommitted are not counted.
			sent := recordVersions(c)
			produced := produceOnOlderRelease(t, seeds, topic, rel.txnV2)
			sent.stop()
			readCommitted(t, seeds, topic, produced)

			got := sent.versions()
			t.Logf("sent to %s: %s", rel.name, formatVersions(got))
			require.Equal(t, []int16{rel.produce}, got[protocol.Produce], "Produce versions sent to %s, which lists up to v%d", rel.name, rel.produce)
			want := versionsForRelease(t, broker, rel.txnV2)
			require.Equal(t, formatVersions(want), formatVersions(got), "the versions the producers sent to %s", rel.name)
		})
	}
}

// olderReleaseBound bounds a record's delivery, and twice it the producer
// calls of a release's run: a passing run takes a fraction of a second,
// and a producer that speaks versions a release does not would otherwise
// make each release wait out testTimeout (a minute) before failing.
const olderReleaseBound = 5 * time.Second

// produceOnOlderRelease runs the idempotent producer, then a transactional
// one, closing each, and returns how many records a read_committed
// consumer reads back.
func produceOnOlderRelease(t *testing.T, seeds []string, topic string, txnV2 bool) int {
	ctx, cancel := context.WithTimeout(t.Context(), 2*olderReleaseBound)
	defer cancel()
	bounded := func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.RequestTimeout = olderReleaseBound / 2
		cfg.DeliveryTimeout = olderReleaseBound
	}
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		bounded(cfg)
		cfg.Compression = compression.Zstd
	})
	requireAllAcked(t, produceAll(t, p, recordsFor(topic, 30, nil)))
	require.NoError(t, p.Close(ctx))

	log := &txnLog{}
	tp := newProducer(t, seeds, func(cfg *producer.Config) {
		cfg.TransactionalID = txnID(t, "older-release")
		cfg.Logger = log.logger()
		bounded(cfg)
	})
	require.NoError(t, tp.InitTransactions(ctx), "log:\n%s", log)
	require.Equal(t, []bool{txnV2}, log.protocols(), "the protocol InitTransactions chose (true: transactions v2)")
	transaction := func(first, n int, end func() error) {
		t.Helper()
		require.NoError(t, tp.BeginTransaction())
		var recs []*producer.Record
		for i := range n {
			recs = append(recs, recordFor(topic, first+i, nil))
		}
		requireAllAcked(t, produceAll(t, tp, recs))
		require.NoError(t, end(), "log:\n%s", log)
	}
	transaction(100, 10, func() error {
		offsets := []producer.Offset{{Topic: topic, Partition: 0, Offset: 5, LeaderEpoch: -1}}
		if err := tp.SendOffsetsToTransaction(ctx, offsets, producer.GroupMetadata{ID: txnID(t, "group")}); err != nil {
			return err
		}
		return tp.CommitTransaction(ctx)
	})
	transaction(200, 1, func() error { return tp.AbortTransaction(ctx) })
	transaction(300, 1, func() error { return tp.CommitTransaction(ctx) })
	require.NoError(t, tp.Close(ctx))
	return 30 + 10 + 1
}

// versionsForRelease is what the producers send to a broker listing
// broker: every request at the highest version both sides speak
// (KIP-35), within what the transaction protocol allows.
func versionsForRelease(t *testing.T, broker *kversion.Versions, txnV2 bool) map[protocol.APIKey][]int16 {
	highest := func(api protocol.APIKey, limit int16) []int16 {
		theirs, ok := broker.LookupMaxKeyVersion(int16(api))
		require.True(t, ok, "the release lists no %s", api)
		return []int16{min(theirs, protocol.Negotiable(api).Max, limit)}
	}
	const none = math.MaxInt16
	want := map[protocol.APIKey][]int16{
		protocol.Metadata:        highest(protocol.Metadata, none),
		protocol.Produce:         highest(protocol.Produce, none),
		protocol.FindCoordinator: highest(protocol.FindCoordinator, none),
		protocol.InitProducerId:  highest(protocol.InitProducerId, none),
	}
	// A connection asks at our newest ApiVersions first; a broker that
	// does not speak it answers with its range, and is asked again.
	want[protocol.ApiVersions] = highest(protocol.ApiVersions, none)
	if ours := protocol.Negotiable(protocol.ApiVersions).Max; want[protocol.ApiVersions][0] < ours {
		want[protocol.ApiVersions] = append(want[protocol.ApiVersions], ours)
	}
	if txnV2 {
		// The partitions and the group join the transaction by Produce
		// and TxnOffsetCommit themselves (KIP-890 part 2).
		want[protocol.EndTxn] = []int16{5}
		want[protocol.TxnOffsetCommit] = []int16{5}
		return want
	}
	// AddPartitionsToTxn v4+ is for brokers only (KIP-890 part 1); v5 of
	// EndTxn and TxnOffsetCommit are transactions v2's.
	want[protocol.AddPartitionsToTxn] = highest(protocol.AddPartitionsToTxn, 3)
	want[protocol.AddOffsetsToTxn] = highest(protocol.AddOffsetsToTxn, none)
	want[protocol.EndTxn] = highest(protocol.EndTxn, 4)
	want[protocol.TxnOffsetCommit] = highest(protocol.TxnOffsetCommit, 4)
	return want
}

// sentVersions records the versions of the requests a cluster handles,
// by API, until stop.
type sentVersions struct {
	mu      sync.Mutex
	stopped bool
	byAPI   map[protocol.APIKey][]int16
}

func recordVersions(c *embedded.Cluster) *sentVersions {
	s := &sentVersions{byAPI: make(map[protocol.APIKey][]int16)}
	c.Kfake().Control(func(req kmsg.Request) (kmsg.Response, error, bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		api, v := protocol.APIKey(req.Key()), req.GetVersion()
		if !s.stopped && !slices.Contains(s.byAPI[api], v) {
			s.byAPI[api] = append(s.byAPI[api], v)
		}
		return nil, nil, false // seen only: the cluster answers
	})
	return s
}

func (s *sentVersions) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
}

func (s *sentVersions) versions() map[protocol.APIKey][]int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.byAPI)
}

// formatVersions writes versions by API, in order of API key, each API's
// versions in order: "Produce v9, Metadata v11 v12...".
func formatVersions(byAPI map[protocol.APIKey][]int16) string {
	var b strings.Builder
	for _, api := range slices.Sorted(maps.Keys(byAPI)) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(api.String())
		for _, v := range slices.Sorted(slices.Values(byAPI[api])) {
			fmt.Fprintf(&b, " v%d", v)
		}
	}
	return b.String()
}
