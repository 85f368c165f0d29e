package integration

// Which Produce version the producer speaks to the broker under test (the
// embedded one, or KAFKA_BROKERS): the highest both sides implement, v13 with
// kfake and with Kafka 4.3, where topics go by id (KIP-516). The expected
// version comes from the broker's own ApiVersions answer, asked by kgo; the
// version sent comes from the sender's debug log; the records are read back
// from the topics they were sent to.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/protocol"
)

// versionLog records the Produce versions the senders log.
type versionLog struct {
	mu       sync.Mutex
	versions []int64
	byID     []bool
}

func (l *versionLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *versionLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *versionLog) WithGroup(string) slog.Handler            { return l }

func (l *versionLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "produce request version" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "version":
			l.versions = append(l.versions, a.Value.Int64())
		case "by_topic_id":
			l.byID = append(l.byID, a.Value.Bool())
		}
		return true
	})
	return nil
}

func (l *versionLog) seen() ([]int64, []bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.versions), slices.Clone(l.byID)
}

// brokerProduceRange is the Produce range the broker lists in ApiVersions.
func brokerProduceRange(t *testing.T, seeds []string) protocol.VersionRange {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	require.NoError(t, err)
	for _, k := range resp.ApiKeys {
		if k.ApiKey == int16(protocol.Produce) {
			return protocol.VersionRange{Min: k.MinVersion, Max: k.MaxVersion}
		}
	}
	t.Fatal("the broker lists no Produce version")
	return protocol.VersionRange{}
}

func TestProduceSpeaksTheHighestCommonVersion(t *testing.T) {
	seeds := brokers(t)
	theirs := brokerProduceRange(t, seeds)
	want := min(theirs.Max, protocol.Supported(protocol.Produce).Max)

	// Two topics, so that a request carries more than one id.
	topics := e2eNewTopics(t, seeds, 2, 3, nil)
	var log versionLog
	p := newProducer(t, seeds, func(cfg *producer.Config) { cfg.Logger = slog.New(&log) })
	const perTopic = 300
	var recs []*producer.Record
	for i := range perTopic {
		for _, topic := range topics {
			recs = append(recs, &producer.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%17), Value: fmt.Appendf(nil, "%s/%d", topic, i)})
		}
	}
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)

	got := e2eReadAllTopics(t, seeds, map[string]int{topics[0]: perTopic, topics[1]: perTopic})
	for i, r := range recs {
		md := outs[i].md
		require.Equal(t, r.Topic, md.Topic, "record %d", i)
		found := false
		for _, rr := range got[r.Topic] {
			if rr.Partition == md.Partition && rr.Offset == md.Offset {
				require.Equal(t, string(r.Value), string(rr.Value), "record %d at %s-%d@%d", i, r.Topic, md.Partition, md.Offset)
				found = true
				break
			}
		}
		require.True(t, found, "record %d is not at %s-%d@%d", i, r.Topic, md.Partition, md.Offset)
	}

	versions, byID := log.seen()
	require.NotEmpty(t, versions, "the senders logged no Produce version")
	for i, v := range versions {
		require.Equal(t, int64(want), v, "a sender spoke Produce v%d; the broker lists v%d-v%d and we v%d-v%d",
			v, theirs.Min, theirs.Max, protocol.Supported(protocol.Produce).Min, protocol.Supported(protocol.Produce).Max)
		require.Equal(t, want >= protocol.ProduceTopicIDVersion, byID[i], "topics by id exactly from v13")
	}
	t.Logf("the broker lists Produce v%d-v%d; the producer sent v%d (topics by id: %v)", theirs.Min, theirs.Max, want, byID[0])
}
