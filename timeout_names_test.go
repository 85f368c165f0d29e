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

// A record naming a partition its topic lacks, whose DeliveryTimeout,
// shorter than its MaxBlock, ends while it waits for that partition, fails
// naming the partition in its *PartitionError, as it does at its MaxBlock,
// in the same words, under the timeout. Before, the PartitionError named
// none, and the text under it did: `producer: topic "events": delivery
// timeout: not appended within DeliveryTimeout (30m0s): invalid record:
// partition 5 does not exist, the topic has 1`.
func TestAHeldRecordsDeliveryTimeoutNamesThePartitionItWaitedFor(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"events": 1}})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 30*time.Minute, NoLinger
		cfg.RequestTimeout = time.Minute
	})
	learnTopic(t, p, clk, "events")
	produced := clk.Now()
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "events", Partition: 5, ExplicitPartition: true}, o.cb(0))
	clk.Advance(produced.Add(30*time.Minute + pastDeadline).Sub(clk.Now()))
	o.wait(t, "the record for partition 5, of a topic of one")

	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	require.ErrorIs(t, err, ErrInvalidRecord)
	requireNamesItsPartitionOnce(t, err, "events", 5)
	require.EqualError(t, err, `producer: topic "events" partition 5: delivery timeout: `+
		`not appended within DeliveryTimeout (30m0s): invalid record: no such partition (the topic has 1)`)
}

// A held record naming a partition its topic has, whose DeliveryTimeout
// ends while it waits behind a record of its partition that waits for a
// batch's memory, fails naming that partition in its *PartitionError, as
// ErrDeliveryTimeout's doc says. Before, its PartitionError named none:
// `producer: topic "late": delivery timeout: not appended within
// DeliveryTimeout (10s)`. Both records' deadlines pass in one step of the
// fake clock: the first's wait for memory ends, and the second's turn
// comes past its own.
func TestAHeldRecordTimedOutBehindAnotherNamesItsPartition(t *testing.T) {
	c, p, clk := shortOfMemoryProducer(t)
	o := newOutcomes(2)
	t0 := clk.Now()
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 0, ExplicitPartition: true, Value: []byte("first")}, o.cb(0))
	clk.Advance(time.Second)
	p.Produce(ctx(t), &Record{Topic: "late", Partition: 0, ExplicitPartition: true, Value: []byte("behind")}, o.cb(1))
	clk.Advance(4 * time.Second)
	fillBufferMemory(t, c, p)
	require.NoError(t, c.CreateTopic("late", 1))
	awaitDrain(t, p, clk, "late")
	eventually(t, "the first held record waiting for memory", func() bool { return p.pool.Waiters() == 1 })

	clk.Advance(t0.Add(time.Second + shortOfMemoryDeliveryTimeout + pastDeadline).Sub(clk.Now()))
	o.wait(t, "both held records at their DeliveryTimeout")
	c.OnProduce(nil) // the batches that fill the memory settle, for Close
	clk.Advance(shortOfMemoryDeliveryTimeout)
	err := o.one(t, 1).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	requireNamesItsPartitionOnce(t, err, "late", 0)
	require.EqualError(t, err, `producer: topic "late" partition 0: delivery timeout: `+
		`not appended within DeliveryTimeout (10s)`)
}
