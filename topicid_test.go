package producer

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/protocol/wire"
)

// seenIDs is a produce hook recording the topic id of every topic of every
// request: non-zero only in requests that named topics by id (Produce v13+).
type seenIDs struct {
	mu  sync.Mutex
	ids []wire.UUID
}

func (s *seenIDs) hook(_ int32, req *protocol.ProduceRequest) fakebroker.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range req.Topics {
		s.ids = append(s.ids, t.TopicID)
	}
	return fakebroker.Action{}
}

func (s *seenIDs) all() []wire.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wire.UUID(nil), s.ids...)
}

// With a broker that speaks Produce v13 and Metadata v10+, requests name
// topics by the id the metadata gave (KIP-516), and records land in that
// topic.
func TestProduceNamesTopicsByID(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	var seen seenIDs
	c.OnProduce(seen.hook)
	p := newProducer(t, c, nil)
	o := produceN(t, p, 20)
	requireDelivered(t, c, o, 20)

	md := p.cluster.Snapshot().Topic("t")
	require.NotNil(t, md)
	require.NotZero(t, md.ID)
	ids := seen.all()
	require.NotEmpty(t, ids)
	for i, id := range ids {
		require.Equal(t, md.ID, id, "request topic %d: by the metadata's id", i)
	}
}

// Metadata before v10 has no topic ids: requests name topics (Produce
// v12), rather than fail or wait for an id that will never come.
func TestProduceWithoutTopicIDsNamesTopics(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true,
		Versions: map[protocol.APIKey]protocol.VersionRange{protocol.Metadata: {Min: 1, Max: 9}}})
	var seen seenIDs
	c.OnProduce(seen.hook)
	p := newProducer(t, c, nil)
	o := produceN(t, p, 20)
	requireDelivered(t, c, o, 20)
	ids := seen.all()
	require.NotEmpty(t, ids)
	for i, id := range ids {
		require.Zero(t, id, "request topic %d: by name", i)
	}
}

// UNKNOWN_TOPIC_ID is retried like an unknown topic, after a metadata
// refresh; nothing is lost, duplicated or reordered.
func TestUnknownTopicIDIsRetried(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}, KeepRecords: true})
	p := newProducer(t, c, func(cfg *Config) { cfg.MaxInFlight = 1 })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	before := c.MetadataRequests()

	c.OnProduce(failFirst(2, fakebroker.FailAll(kerr.UnknownTopicID, "")))
	o := produceN(t, p, 20)
	requireDelivered(t, c, o, 20)
	require.GreaterOrEqual(t, p.Stats().Retries, int64(2))
	require.Greater(t, c.MetadataRequests(), before, "UNKNOWN_TOPIC_ID asks for a metadata refresh")
}
