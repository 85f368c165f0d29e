package cluster

import (
	"maps"
	"slices"
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
		}
	}
}

func (c *Cluster) wantedTopics() []string {
	c.wantMu.Lock()
	defer c.wantMu.Unlock()
	return slices.Collect(maps.Keys(c.wanted))
}
