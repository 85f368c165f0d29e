package producer

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// A Produce waiting for a batch's memory when Close, called from a
// callback, gives up on it fails as "producer closed", in the user's
// words, as every record Close fails does: it read "producer closed:
// bufferpool: closed", naming a package inside the producer.
func TestAProduceWaitingForMemoryWhenACallbackClosesSaysTheProducerClosed(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.BufferMemory, cfg.BatchSize = 32<<10, 16<<10
		cfg.MaxBlock, cfg.Linger = time.Hour, NoLinger
	})
	_, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	value := make([]byte, 15000) // a batch of its own
	entered, closeNow := make(chan struct{}), make(chan struct{})
	closed := make(chan error, 1)
	// The callback keeps its batch's memory, and the one behind it the
	// other's: the pool is full until it returns.
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: value}, func(RecordMetadata, error) {
		close(entered)
		<-closeNow
		closed <- p.Close(context.Background())
	})
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: value}, o.cb(0))
	receive(t, entered, "the first record's callback")
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		p.Produce(context.Background(), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: value}, o.cb(1))
	}()
	eventually(t, "a Produce waiting for memory", func() bool { return p.Stats().BufferWaiters == 1 })
	close(closeNow)
	require.NoError(t, receive(t, closed, "Close from the callback"))
	receive(t, waited, "the Produce waiting for memory")
	o.wait(t, "the records")
	err = o.one(t, 1).err
	require.ErrorIs(t, err, ErrClosed)
	require.EqualError(t, err, `producer: topic "t" partition 0: producer closed: while the record waited for buffer memory`)
}
