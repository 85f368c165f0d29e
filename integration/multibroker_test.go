package integration

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/partitioner"
)

// Partition leadership moves between three brokers while several goroutines
// produce. A request to a former leader is refused with
// NOT_LEADER_OR_FOLLOWER before anything is written, so the producer must
// follow the leaders (KIP-951 hints, metadata refreshes) without losing or
// duplicating a record, every keyed record must land on its murmur2
// partition, and the records of a key keep their order: with MaxInFlight 1
// because one request at a time cannot be overtaken, with 5 because an
// idempotent producer keeps each partition's batches in sequence order.
func TestMultiBrokerLeaderMoves(t *testing.T) {
	const topic, partitions, brokers, workers = "moving", 6, 3, 4
	for _, tc := range []struct {
		name        string
		maxInFlight int
		keyless     func(i int) bool
	}{
		{"keyed, MaxInFlight 1, order per key", 1, func(int) bool { return false }},
		{"keyed and keyless, MaxInFlight 5", 5, func(i int) bool { return i%2 == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, embedded.Options{Brokers: brokers, Topics: map[string]int32{topic: partitions}})
			seeds := c.Addrs()
			p := newProducer(t, seeds, func(cfg *producer.Config) {
				fastRetries(cfg)
				smallBatches(cfg)
				cfg.MaxInFlight = tc.maxInFlight
			})

			recs := recordsFor(topic, 6000, keyOwnedBy(workers, 8))
			for i, r := range recs {
				if tc.keyless(i) {
					r.Key = nil
				}
			}
			moves := 0
			outs := phased(t, p, recs, workers, 64, 9, func(phase int) {
				if phase%2 == 1 {
					c.ShuffleLeaders()
					return
				}
				// Every partition to another broker: the next request for
				// each goes to a former leader.
				for part := range int32(partitions) {
					from := c.Leader(topic, part)
					require.GreaterOrEqual(t, from, int32(0), "partition %d has no leader", part)
					require.NoError(t, c.MoveLeader(topic, part, (from+1)%brokers))
					moves++
				}
			})
			requireAllAcked(t, outs)
			st := p.Stats()
			assert.Positive(t, st.Retries, "%d leader moves, yet no batch was refused by a former leader", moves)
			t.Logf("%d partition moves and 4 shuffles; %d requests, %d retries", moves, st.Requests, st.Retries)

			for i, o := range outs {
				if recs[i].Key != nil {
					require.Equal(t, partitioner.KeyPartition(recs[i].Key, partitions), o.md.Partition, "record %d: partition of key %q", i, recs[i].Key)
				}
			}
			d := checkDelivery(t, seeds, topic, recs, outs)
			d.requireNoDuplicates(t, "a former leader refuses a request before writing it")
			d.requireKeyOrder(t)
		})
	}
}

// A leader move is followed through the KIP-951 hint in the
// NOT_LEADER_OR_FOLLOWER answer alone. Metadata keeps naming the former
// leader (every Metadata request is answered as it was before the move), so
// only the hint can bring the batch to the new leader, and it must do so at
// the first retry.
func TestMultiBrokerLeaderHint(t *testing.T) {
	const topic = "hinted"
	c := startCluster(t, embedded.Options{Brokers: 3, Topics: map[string]int32{topic: 1}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		// Without the hint the batch would bounce off the former leader
		// until this ends it.
		cfg.DeliveryTimeout = 5 * time.Second
		cfg.RequestTimeout = 4 * time.Second
	})
	ctx := testCtx(t)
	recs := recordsFor(topic, 2, nil)
	outs := make([]outcome, len(recs))

	md, err := p.Send(ctx, recs[0]) // learns the topic and its leader
	require.NoError(t, err)
	outs[0] = outcome{md: md, calls: 1}

	stale := staleMetadata(t, c, topic)
	from := c.Leader(topic, 0)
	to := (from + 1) % 3
	require.NoError(t, c.MoveLeader(topic, 0, to))
	md, err = p.Send(ctx, recs[1])
	require.NoError(t, err, "only the hint names the new leader")
	outs[1] = outcome{md: md, calls: 1}
	t.Logf("%d metadata requests answered with the leader before the move", stale())

	assert.Equal(t, int64(1), p.Stats().Retries, "the batch is refused once by the former leader, then sent to the new one")
	assert.Equal(t, to, c.Leader(topic, 0))
	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "a former leader refuses a request before writing it")
}

// staleMetadata makes the cluster answer every Metadata request with the
// answer it gives now for topic, until the returned function is called; that
// function reports how many requests got the stale answer.
func staleMetadata(t *testing.T, c *embedded.Cluster, topic string) (stop func() int) {
	t.Helper()
	return fixedMetadata(t, c, topic, nil)
}

// fixedMetadata is staleMetadata with the answer changed by edit first
// (when not nil).
func fixedMetadata(t *testing.T, c *embedded.Cluster, topic string, edit func(*kmsg.MetadataResponse)) (stop func() int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	require.NoError(t, err)
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	now, err := req.RequestWith(testCtx(t), cl)
	require.NoError(t, err)
	if edit != nil {
		edit(now)
	}

	var active atomic.Bool
	var answered atomic.Int64
	active.Store(true)
	c.Kfake().ControlKey(int16(kmsg.Metadata), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if !active.Load() {
			c.Kfake().DropControl()
			return nil, nil, false
		}
		c.Kfake().KeepControl()
		answered.Add(1)
		resp := *now // the slices are shared, and only read
		resp.Version = r.GetVersion()
		return &resp, nil, true
	})
	stopped := false
	stop = func() int {
		if !stopped {
			stopped = true
			active.Store(false)
		}
		return int(answered.Load())
	}
	t.Cleanup(func() { stop() })
	return stop
}
