package integration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/partitioner"
)

// A broker that answers later than RequestTimeout: the producer gives up on
// the request, closes the connection, reconnects and sends the batches
// again. The slow broker still writes each attempt once its delay ends:
// without idempotence that duplicates them; with it, the late attempt
// carries sequence numbers the broker has already written and is not
// written again. No loss, no duplicate, every key in order.
func TestFaultsResponseAfterRequestTimeout(t *testing.T) {
	const topic, delayed = "slow", 2
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		cfg.RequestTimeout = 500 * time.Millisecond
		cfg.DeliveryTimeout = 30 * time.Second
		// One request at a time per connection: the broker serves a
		// connection's requests one after the other, so a request queued
		// behind a delayed one on a connection the producer then closes
		// would never be handled, and could not be waited for below.
		cfg.MaxInFlight = 1
	})

	// handled counts the produce requests the broker handled, delayed or
	// not; it is installed first, so it sees them all.
	handled := observeProduce(c)
	defer handled.Remove()
	// Far beyond RequestTimeout, so the producer must give up on them.
	f := c.DelayNextProduce(delayed, 3*time.Second)
	recs := recordsFor(topic, 300, keyOwnedBy(1, 30))
	outs := produceAll(t, p, recs)
	waitFault(t, f, "delayed produce requests")
	requireAllAcked(t, outs)
	st := p.Stats()
	assert.GreaterOrEqual(t, st.Retries, int64(delayed), "each timed-out request is retried")

	// The broker writes the delayed requests once their delay ends, after
	// the producer gave up on them: wait for that, so that read-back sees
	// the duplicates they make.
	require.NoError(t, handled.Wait(testCtx(t), int(st.Requests)),
		"the broker handled %d of the %d produce requests sent", handled.Hits(), st.Requests)

	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "a request written after the producer gave up on it carries sequence numbers already written")
	d.requireKeyOrder(t)
}

// A connection closed after the broker read a request and before it handled
// it: nothing was written, the producer reconnects and retries the request
// and those pipelined behind it on the connection, and there must be no
// duplicate, and no key out of order.
func TestFaultsConnectionClosedBeforeWrite(t *testing.T) {
	const topic, closes = "cut", 5
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		smallBatches(cfg)
	})

	f := c.CloseConnOnNextProduce(closes)
	recs := recordsFor(topic, 300, keyOwnedBy(1, 30))
	outs := produceAll(t, p, recs)
	waitFault(t, f, "connections closed on produce")
	requireAllAcked(t, outs)
	assert.GreaterOrEqual(t, p.Stats().Retries, int64(closes), "every cut request is retried")

	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "the broker wrote nothing of the cut requests")
	d.requireKeyOrder(t)
}

// A connection closed halfway through the response of a request the broker
// wrote: the producer cannot know the write happened and retries. Without
// idempotence that writes the records twice; with it the broker recognizes
// the sequence numbers and answers the retry as a duplicate.
func TestFaultsResponseLost(t *testing.T) {
	const topic, drops = "lost-answer", 2
	c := startCluster(t, embedded.Options{Topics: map[string]int32{topic: 3}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		smallBatches(cfg)
	})

	f := c.DropNextProduceResponse(drops)
	recs := recordsFor(topic, 300, keyOwnedBy(1, 30))
	outs := produceAll(t, p, recs)
	waitFault(t, f, "produce responses lost")
	requireAllAcked(t, outs)

	d := checkDelivery(t, seeds, topic, recs, outs)
	d.requireNoDuplicates(t, "the retry of a written request carries sequence numbers already written")
	d.requireKeyOrder(t)
}

// Brokers go down and come back while several goroutines produce: the
// partitions of a stopped broker move to the others, the producer follows
// them, and when the broker returns leadership is shuffled again. A broker
// stopped with requests in flight may have written them without answering:
// without idempotence their retries duplicate them; with it there is no
// loss, no duplicate, and every key stays in order.
func TestFaultsBrokerDownAndBack(t *testing.T) {
	const topic, partitions = "outage", 6
	c := startCluster(t, embedded.Options{Brokers: 3, Topics: map[string]int32{topic: partitions}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		smallBatches(cfg)
	})

	const workers = 4
	recs := recordsFor(topic, 4000, keyOwnedBy(workers, 8))
	outs := phased(t, p, recs, workers, 50, 5, func(phase int) {
		switch phase {
		case 0:
			require.NoError(t, c.StopBroker(1))
		case 1:
			require.NoError(t, c.RestartBroker(1))
		case 2:
			require.NoError(t, c.StopBroker(0))
		case 3:
			require.NoError(t, c.RestartBroker(0))
		}
	})
	requireAllAcked(t, outs)
	for i, o := range outs {
		require.Equal(t, partitioner.KeyPartition(recs[i].Key, partitions), o.md.Partition, "record %d: partition of key %q", i, recs[i].Key)
	}
	d := checkDelivery(t, seeds, topic, recs, outs)
	t.Logf("%d retries", p.Stats().Retries)
	d.requireNoDuplicates(t, "the retry of a request a stopped broker wrote carries sequence numbers already written")
	d.requireKeyOrder(t)
}
