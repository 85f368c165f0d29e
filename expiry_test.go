package producer

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
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
