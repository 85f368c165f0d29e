package cluster

import (
	"maps"
	"slices"
	"time"
)

// Want marks topic as awaited, so that every metadata request asks for it
// (and, while it is unknown, the metadata loop polls), until the returned
// function is called. Records waiting for their topic and PartitionsFor
// calls want topics; each call needs its own release.
func (c *Cluster) Want(topic string) (release func()) {
	c.wantMu.Lock()
	c.wanted[topic]++
	c.wantMu.Unlock()
	released := false
	return func() {
		c.wantMu.Lock()
		defer c.wantMu.Unlock()
		if released {
			return
		}
		released = true
		if c.wanted[topic]--; c.wanted[topic] <= 0 {
			delete(c.wanted, topic)
			if c.cfg.MaxIdle > 0 {
				c.released[topic] = c.cfg.Clock.Now()
			}
		}
	}
}

func (c *Cluster) wantedTopics() []string {
	c.wantMu.Lock()
	defer c.wantMu.Unlock()
	return slices.Collect(maps.Keys(c.wanted))
}

// wantedSince returns the topics awaited now or released at or after
// since, and forgets the releases before it.
func (c *Cluster) wantedSince(since time.Time) []string {
	c.wantMu.Lock()
	defer c.wantMu.Unlock()
	out := slices.Collect(maps.Keys(c.wanted))
	for name, at := range c.released {
		switch {
		case at.Before(since):
			delete(c.released, name)
		case c.wanted[name] == 0:
			out = append(out, name)
		}
	}
	return out
}
