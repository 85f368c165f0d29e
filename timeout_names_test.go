package producer

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A record that times out names its partition once, in its
// *PartitionError, and not again in the timeout's text under it. Before,
// its callback read `producer: topic "t" partition 0: delivery timeout: 1
// record for t-0 had no outcome within 10s`, as if of two partitions. Its
// request is never answered; on the fake clock only the metadata loop's
// pacing and then DeliveryTimeout move.
func TestADeliveryTimeoutNamesItsPartitionOnce(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 10*time.Second, NoLinger
		cfg.MetadataMaxAge = time.Hour
	})
	learnTopic(t, p, clk, "t")
	produced := clk.Now()
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Value: []byte("v")}, o.cb(0))
	eventually(t, "the record sent", func() bool { return c.ProduceRequests() > 0 })

	err := timedOutAfter(t, o, clk, produced.Add(10*time.Second).Sub(clk.Now()))
	requireNamesItsPartitionOnce(t, err, "t", 0)
	require.ErrorContains(t, err, `producer: topic "t" partition 0: delivery timeout: 1 record had no outcome within 10s (DeliveryTimeout); sent once`)
}

// requireNamesItsPartitionOnce checks that err, a record's, names topic
// and partition in its *PartitionError, and that the text under it does
// not name the partition again.
func requireNamesItsPartitionOnce(t *testing.T, err error, topic string, partition int32) {
	t.Helper()
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, topic, pe.Topic, "%v", err)
	require.Equal(t, partition, pe.Partition, "%v", err)
	for _, again := range []string{fmt.Sprintf("%s-%d", topic, partition), fmt.Sprintf("partition %d", partition)} {
		require.NotContains(t, pe.Err.Error(), again, "the partition named again under its PartitionError: %v", err)
	}
}
