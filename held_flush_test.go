package producer

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// Flush waits for the callbacks of the records held before it began, not
// for those of records held after: with a steady stream of records to a
// missing topic, each failing at its MaxBlock, some failure is always
// waiting for its callback, and a Flush that waited for every one returned
// only when its ctx ended. Here the record held after Flush began fails
// with the one before it, and its callback holds the delivery goroutine
// until the test ends.
func TestFlushDoesNotWaitForTheCallbacksOfRecordsHeldAfterItBegan(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout = 10*time.Second, time.Hour
	})
	before := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("before")}, before.cb(0))

	fctx := newWaitedOn(ctx(t))
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(fctx) }()
	receive(t, fctx.asked, "Flush never waited for the record held before it")

	release, entered := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the producer's Close, which waits for the callback
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("after")}, func(RecordMetadata, error) {
		close(entered)
		<-release
	})
	clk.Advance(10 * time.Second) // both fail, in one pass of the expiry loop
	before.wait(t, "the record held before Flush")
	require.ErrorIs(t, before.one(t, 0).err, ErrUnknownTopic)
	receive(t, entered, "the callback of the record held after Flush began")
	require.NoError(t, receive(t, flushed, "Flush waited for the callback of a record held after it began"))
}

// waitedOn is a context that tells, by closing asked, when its Done is
// first called: a Flush calls it once it has marked the records it waits
// for and found one to wait for.
type waitedOn struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func newWaitedOn(ctx context.Context) *waitedOn {
	return &waitedOn{Context: ctx, asked: make(chan struct{})}
}

func (c *waitedOn) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}
