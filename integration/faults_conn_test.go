package integration

import (
	"fmt"
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
// them, and when the broker returns leadership is shuffled again. Each
// broker is stopped while it holds the answer to a request it has written
// (HoldNextProduceResponse), so each stop certainly leaves a written
// request unanswered: without idempotence its retry duplicates it, which
// the control shows; with it there is no loss, no duplicate, and every key
// stays in order.
func TestFaultsBrokerDownAndBack(t *testing.T) {
	t.Run("idempotent", func(t *testing.T) {
		p, seeds, recs, outs := produceThroughOutages(t, false)
		d := checkDelivery(t, seeds, outageTopic, recs, outs)
		t.Logf("%d retries", p.Stats().Retries)
		d.requireNoDuplicates(t, "the retry of a request a stopped broker wrote carries sequence numbers already written")
		d.requireKeyOrder(t)
	})
	t.Run("control: not idempotent", func(t *testing.T) {
		_, seeds, recs, outs := produceThroughOutages(t, true)
		d := checkDelivery(t, seeds, outageTopic, recs, outs)
		assert.Positive(t, d.duplicates, "each stop left a written request unanswered, and its retry must write it again")
	})
}

const outageTopic, outagePartitions = "outage", 6

// produceThroughOutages runs TestFaultsBrokerDownAndBack's producer through
// its outages and returns what read-back needs, every record acknowledged on
// the partition of its key.
func produceThroughOutages(t *testing.T, disableIdempotence bool) (*producer.Producer, []string, []*producer.Record, []outcome) {
	t.Helper()
	c := startCluster(t, embedded.Options{Brokers: 3, Topics: map[string]int32{outageTopic: outagePartitions}})
	seeds := c.Addrs()
	p := newProducer(t, seeds, func(cfg *producer.Config) {
		fastRetries(cfg)
		smallBatches(cfg)
		cfg.DisableIdempotence = disableIdempotence
	})

	const workers = 4
	recs := recordsFor(outageTopic, 4000, keyOwnedBy(workers, 8))
	// Every phase produces every key, so the leader of a key's partition
	// gets produce requests in the phase after it is chosen as the victim.
	keyed := partitioner.KeyPartition(recs[0].Key, outagePartitions)
	var victim int32
	var stopped <-chan error
	outs := phased(t, p, recs, workers, 50, 5, func(phase int) {
		switch phase {
		case 0, 2:
			victim = c.Leader(outageTopic, keyed)
			stopped = stopOnceAnAnswerIsHeld(t, c, victim)
		case 1, 3:
			require.NoError(t, <-stopped, "stopping broker %d", victim)
			require.NoError(t, c.RestartBroker(victim))
		}
	})
	requireAllAcked(t, outs)
	for i, o := range outs {
		require.Equal(t, partitioner.KeyPartition(recs[i].Key, outagePartitions), o.md.Partition, "record %d: partition of key %q", i, recs[i].Key)
	}
	return p, seeds, recs, outs
}

// stopOnceAnAnswerIsHeld stops broker node, in the background, once it holds
// the answer to a produce request it has written: the stop loses that
// answer. The channel gets the outcome, within testTimeout.
func stopOnceAnAnswerIsHeld(t *testing.T, c *embedded.Cluster, node int32) <-chan error {
	t.Helper()
	f, err := c.HoldNextProduceResponse(node)
	require.NoError(t, err)
	ctx := testCtx(t)
	stopped := make(chan error, 1)
	go func() {
		if err := f.Wait(ctx); err != nil {
			f.Remove()
			stopped <- fmt.Errorf("no produce answer held: %w", err)
			return
		}
		stopped <- c.StopBroker(node)
	}()
	return stopped
}
