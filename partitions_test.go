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

// PartitionsFor's MaxBlock counts from the call, so a clock that moves
// between the call's start and the arming of its timer (here every time:
// the fake moves it by MaxBlock just before the arming, as a test's
// Advance may while the calling goroutine is descheduled) still ends the
// wait at MaxBlock. Armed for MaxBlock from the arming, the timer waited
// a second MaxBlock, which the clock, moved no more, never reached: the
// call waited for its ctx.
func TestPartitionsForEndsAtMaxBlockThoughTheClockMovedBeforeItsTimer(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clk := clock.NewFake(start)
	// No other timer lasts MaxBlock: with no record produced, the expiry
	// loop sleeps DeliveryTimeout (its default) at most.
	const maxBlock = 7 * time.Hour
	var once sync.Once
	clk.BeforeArm(func(deadline time.Time) {
		if deadline.Equal(start.Add(maxBlock)) {
			once.Do(func() { clk.Advance(maxBlock) })
		}
	})
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock = maxBlock
	})
	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(context.Background(), "never")
		failed <- err
	}()
	err := receive(t, failed, "PartitionsFor at MaxBlock from its call")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "no metadata within MaxBlock")
}
