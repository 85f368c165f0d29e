package cluster

import (
	"maps"
	"slices"
	"time"

	"github.com/gokafka/producer/metadata"
)

// Want marks topic as awaited, so that every metadata request asks for it
// (and, while it is unknown, the metadata loop polls), until the returned
// function is called. Records waiting for their topic and PartitionsFor
// calls want topics; each call needs its own release.
func (c *Cluster) Want(topic string) (release func()) {
	return want(c, c.wanted, topic, func() {
		if c.cfg.MaxIdle > 0 {
			c.released[topic] = c.cfg.Clock.Now()
		}
	})
}

// WantPartition marks partition of topic as awaited: while the metadata
// lacks it, the metadata loop polls, until the returned function is
// called. Records naming a partition their topic does not have yet want
// it, their topic wanted too (Want); each call needs its own release.
func (c *Cluster) WantPartition(topic string, partition int32) (release func()) {
	return want(c, c.wantedPartitions, metadata.TopicPartition{Topic: topic, Partition: partition}, nil)
}

// want counts one more waiter for key in wanted, a map of c's guarded by
// c.wantMu, and returns its release, which, for the last waiter, deletes
// key and calls gone (if not nil) under c.wantMu. A release called again
// does nothing.
func want[K comparable](c *Cluster, wanted map[K]int, key K, gone func()) (release func()) {
	c.wantMu.Lock()
	wanted[key]++
	c.wantMu.Unlock()
	released := false
	return func() {
		c.wantMu.Lock()
		defer c.wantMu.Unlock()
		if released {
			return
		}
		released = true
		if wanted[key]--; wanted[key] <= 0 {
			delete(wanted, key)
			if gone != nil {
				gone()
			}
		}
	}
}

// partitionsWanted returns the partitions awaited (WantPartition).
func (c *Cluster) partitionsWanted() []metadata.TopicPartition {
	c.wantMu.Lock()
	defer c.wantMu.Unlock()
	return slices.Collect(maps.Keys(c.wantedPartitions))
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
