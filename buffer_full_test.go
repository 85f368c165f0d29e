package producer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
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
	// Its error and its metadata name the partition chosen for it.
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.GreaterOrEqual(t, pe.Partition, int32(0), "the partition chosen: %v", err)
	requireSamePartition(t, o.one(t, 2).md, err, pe.Partition, "no memory")
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

// A Produce from a callback that finds no buffer memory free waits as any
// other, and no callback runs meanwhile: the memory is held by the batches
// whose callbacks are queued behind it. A short deadline, as the docs
// advise, ends its wait with ErrBufferFull, and the callbacks behind it
// then run. The fake clock never moves here: no MaxBlock passes.
func TestAProduceFromACallbackWithAShortDeadlineFailsWhenMemoryIsShort(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.BatchSize, cfg.BufferMemory = 1024, 4096 // four batches fill it
		cfg.Linger = NoLinger
	})
	learnTopic(t, p, clk, "t") // moves the clock by the loop's pacing only
	produced := make(chan struct{})
	fromCallback := newOutcomes(1)
	var first sync.Once
	o := newOutcomes(4)
	for i := range 4 {
		cb := o.cb(i)
		p.Produce(ctx(t), &Record{Topic: "t", Partition: int32(i), ExplicitPartition: true, Value: make([]byte, 900)},
			func(md RecordMetadata, err error) {
				// The first callback to run: until it returns, no batch
				// has given its memory back.
				first.Do(func() {
					select { // not receive: FailNow is for the test's goroutine
					case <-produced:
					case <-time.After(waitFor):
						t.Errorf("the four records not produced within %v", waitFor)
					}
					short, cancel := context.WithTimeout(ctx(t), 20*time.Millisecond)
					defer cancel()
					r := &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: make([]byte, 900)}
					p.Produce(short, r, fromCallback.cb(0))
				})
				cb(md, err)
			})
	}
	require.Zero(t, p.Stats().BufferAvailableBytes, "the four batches fill BufferMemory")
	close(produced)
	o.wait(t, "every callback, once the Produce in the first gave up")
	for i := range 4 {
		require.NoError(t, o.one(t, i).err, "record %d", i)
	}
	err := fromCallback.one(t, 0).err
	require.ErrorIs(t, err, ErrBufferFull, "the Produce from the callback")
	require.ErrorIs(t, err, context.DeadlineExceeded, "its wait ended by its deadline")
}
