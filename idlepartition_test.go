package producer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol/kerr"
)

// Partition 0 idles past accumulator.PipelineIdle while partition 1 of its
// topic keeps sending, so the topic's metadata is never forgotten (which
// would make every partition send one request first: Recreated), and the
// broker forgets the producer meanwhile (its state expired). The burst
// that follows on partition 0 sends one request first, as the partition's
// first burst did: the broker refuses it before any append (a retriable
// NOT_ENOUGH_REPLICAS), and its retry is written before the batches behind
// it. Partition 0 pipelined its burst before, the broker wrote the batches
// behind the refused one ahead of it, and the refused one failed, certainly
// not written, where a retry would have delivered it.
func TestAPartitionIdleInABusyTopicSendsOneRequestFirstAgain(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	clk := clock.NewFake(heldClockStart)
	written := &requestsWritten{}
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize = 1024
		cfg.Linger = NoLinger
		cfg.Hooks = []Hook{written}
	})
	learnTopic(t, p, clk, "t")
	first := []byte("before the partition went idle")
	_, err := p.Send(ctx(t), &Record{Topic: "t", Value: first, Partition: 0, ExplicitPartition: true})
	require.NoError(t, err)
	idleSince := clk.Now()
	for clk.Now().Sub(idleSince) <= accumulator.PipelineIdle {
		// In steps well within MetadataMaxIdle, the topic in use at each.
		clk.Advance(10 * time.Second)
		_, err := p.Send(ctx(t), &Record{Topic: "t", Value: []byte("busy"), Partition: 1, ExplicitPartition: true})
		require.NoError(t, err)
	}
	c.ForgetProducer(c.Records("t", 0)[0].ProducerID)

	o, values, other := burstBehindAHeldRequest(t, c, p, written, kerr.NotEnoughReplicas,
		"after it idled longer than accumulator.PipelineIdle")
	eventually(t, "every record's outcome", func() bool {
		releasePacing(clk) // the retry's backoff
		return o.done() && other.done()
	})
	want := [][]byte{first}
	for i := range values {
		require.NoError(t, o.one(t, i).err, "record %d", i)
		want = append(want, values[i])
	}
	requireExactlyOnceInOrder(t, c, "t", 0, want)
	require.NoError(t, other.one(t, 0).err)
}
