package producer

import (
	"testing"
	"time"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// heldClockStart is where the fake clocks of these tests start.
var heldClockStart = time.Unix(1_700_000_000, 0)

// awaitDrain moves clk, in steps, until a goroutine appends topic's held
// records, and no further: the drain's waits are timed on a clock that then
// stands still, at most one step past the time they read.
func awaitDrain(t *testing.T, p *Producer, clk *clock.Fake, topic string) {
	t.Helper()
	eventually(t, "the drain of "+topic+"'s held records", func() bool {
		p.held.mu.Lock()
		wt := p.held.topics[topic]
		draining := wt != nil && wt.draining
		p.held.mu.Unlock()
		if !draining {
			releasePacing(clk)
		}
		return draining
	})
}

// setAside is how many records of topic p's drain has set aside.
func setAside(p *Producer, topic string) int {
	p.held.mu.Lock()
	defer p.held.mu.Unlock()
	if wt := p.held.topics[topic]; wt != nil {
		return len(wt.aside)
	}
	return 0
}

// heldProducer is a producer for c on a fake clock, whose held records
// wait for an hour (MaxBlock) and go as soon as they are appended.
func heldProducer(t *testing.T, c *fakebroker.Cluster) (*Producer, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock, cfg.DeliveryTimeout, cfg.Linger = time.Hour, 2*time.Hour, NoLinger
	})
	return p, clk
}
