package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A Produce whose ctx ends while it waits for buffer memory, or is done
// already (as MaxBlock's doc suggests, for the Java client's
// max.block.ms=0), fails with ErrBufferFull as well as the ctx's error: a
// caller that checks for ErrBufferFull to slow down saw only
// context.Canceled.
func TestAProduceWhoseCtxEndsWaitingForMemoryFailsWithErrBufferFull(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BufferMemory, cfg.BatchSize = 32<<10, 16<<10
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = time.Hour, 2*time.Hour, time.Hour
	})
	t.Cleanup(func() { closing, cancel := context.WithCancel(context.Background()); cancel(); _ = p.Close(closing) })
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	o := newOutcomes(4)
	value := make([]byte, 15000) // a batch of its own
	for i := range 2 {
		p.Produce(ctx(t), &Record{Topic: "t", Partition: int32(i), ExplicitPartition: true, Value: value}, o.cb(i))
	}
	require.Zero(t, p.Stats().BufferAvailableBytes, "the batches fill BufferMemory")

	done, cancel := context.WithCancel(context.Background())
	cancel()
	p.Produce(done, &Record{Topic: "t", Value: value}, o.cb(2))
	err = o.one(t, 2).err
	require.ErrorIs(t, err, ErrBufferFull, "a ctx already done")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "BUFFER_FULL", ErrorName(err))
	require.Contains(t, err.Error(), "16384 bytes not free before the ctx ended (context canceled)")

	waiting, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		p.Produce(waiting, &Record{Topic: "t", Value: value}, o.cb(3))
	}()
	eventually(t, "the Produce waiting for memory", func() bool { return p.Stats().BufferWaiters == 1 })
	cancel()
	receive(t, returned, "the Produce whose ctx ended")
	err = o.one(t, 3).err
	require.ErrorIs(t, err, ErrBufferFull, "a ctx that ended while it waited")
	require.ErrorIs(t, err, context.Canceled)
}

// So does a Produce holding a record for a topic without metadata whose
// ctx ends while it waits for the held records' share of BufferMemory.
func TestAProduceWhoseCtxEndsWaitingForTheHeldRecordsShareFailsWithErrBufferFull(t *testing.T) {
	f := shareFull(t)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	f.p.Produce(done, &Record{Topic: "missing", Value: f.large}, f.o.cb(3))
	err := f.o.one(t, 3).err
	require.ErrorIs(t, err, ErrBufferFull)
	require.ErrorIs(t, err, context.Canceled)
}
