package producer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
	"github.com/stretchr/testify/require"
)

// The expiry loop arms its timer at the deadline its pass computed, so a
// test's Advance that lands between the pass's reading of the clock and
// the arming (here every time: the fake runs it just before the arming)
// still wakes it. Armed for the time left, read before the Advance, the
// timer counted it again from after it: the records held expired at the
// deadline, but the loop slept until a second MaxBlock had passed, which
// the clock, moved no more, never reached, and Flush waited for their
// callbacks until its ctx ended (as
// TestFlushWaitsForTheCallbacksOfHeldRecordsThatExpireTogether did, once).
func TestTheExpiryLoopWakesAtItsDeadlineThoughTheClockMovedBeforeItsTimer(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clk := clock.NewFake(start)
	// MaxBlock is no other default: the loop's first pass, with nothing
	// held, sleeps until start+MaxBlock, and is the first to arm a timer
	// for then.
	const maxBlock = 7 * time.Second
	reached, produced := make(chan struct{}), make(chan struct{})
	var once sync.Once
	clk.BeforeArm(func(deadline time.Time) {
		if deadline.Equal(start.Add(maxBlock)) {
			once.Do(func() {
				close(reached)
				<-produced
				clk.Advance(maxBlock)
			})
		}
	})
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.RequestTimeout = maxBlock, time.Hour, time.Second
	})
	receive(t, reached, "the expiry loop did not arm its timer")
	const n = 20
	var called atomic.Int64
	for i := range n {
		p.Produce(ctx(t), &Record{Topic: "nowhere", Value: value(0, i)}, func(RecordMetadata, error) { called.Add(1) })
	}
	close(produced) // the loop's pass moves the clock to its deadline, then arms its timer
	require.NoError(t, p.Flush(ctx(t)), "Flush after the held records' MaxBlock passed; timers pending at %v, now %v",
		clk.Deadlines(), clk.Now())
	require.Equal(t, int64(n), called.Load())
}

// A record that waited for its topic brings its DeliveryTimeout, begun at
// Produce, into the batch it joins: when that deadline comes before the
// expiry loop would wake, the append wakes the loop to sleep until it
// instead. Here the loop's last pass, as a record of another topic failed
// at its MaxBlock, found nothing else to count (the record's drain was
// held up in its partitioner) and slept for a whole MaxBlock; the record,
// appended after that pass to a batch that lingers past its deadline,
// fails at its DeliveryTimeout, not at the loop's next wake, half an hour
// later.
func TestAHeldRecordsBatchExpiresAtItsDeliveryTimeoutThoughTheLoopSleptPastIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	entered, released := make(chan struct{}), make(chan struct{})
	enter, release := sync.OnceFunc(func() { close(entered) }), sync.OnceFunc(func() { close(released) })
	part := partitioner.Func(func(_ *partitioner.Topic, key []byte) int32 {
		if string(key) == "waits" {
			enter()
			<-released
		}
		return 0
	})
	clk := clock.NewFake(heldClockStart)
	const maxBlock, deliveryTimeout = time.Hour, 90 * time.Minute
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.Partitioner = clk, part
		cfg.MaxBlock, cfg.DeliveryTimeout = maxBlock, deliveryTimeout
		cfg.Linger = 80 * time.Minute // past the DeliveryTimeout of a record held long before its batch
	})
	t.Cleanup(release) // before the producer's Close, which waits for the drain
	since := clk.Now()
	held, other := newOutcomes(1), newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Key: []byte("waits"), Value: []byte("v")}, held.cb(0))
	p.Produce(ctx(t), &Record{Topic: "nowhere", Value: []byte("v")}, other.cb(0))
	require.NoError(t, c.CreateTopic("late", 1))
	learnTopic(t, p, clk, "late")
	receive(t, entered, "the drain did not reach the record")

	clk.Advance(since.Add(maxBlock + pastDeadline).Sub(clk.Now()))
	other.wait(t, "the record of the topic that never came, at its MaxBlock")
	require.ErrorIs(t, other.one(t, 0).err, ErrUnknownTopic)
	release()
	eventually(t, "the held record appended", func() bool { return p.held.count.Load() == 0 })
	require.False(t, held.done(), "the record has an outcome before its DeliveryTimeout")

	clk.Advance(since.Add(deliveryTimeout + pastDeadline).Sub(clk.Now()))
	held.wait(t, "the held record at its DeliveryTimeout")
	require.ErrorIs(t, held.one(t, 0).err, ErrDeliveryTimeout)
}
