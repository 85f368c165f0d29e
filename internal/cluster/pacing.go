package cluster

import (
	"time"

	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/metadata"
)

// pacing spaces the refreshes asked for (RequestRefresh) by how much the
// last ones told: a refresh that failed, or whose answer changed nothing,
// doubles the least gap before the next one asked for, from RetryBackoff
// up to RetryBackoffMax, and one that changed something brings it back to
// RetryBackoff. Asked for over and over by a broker nobody reaches, or a
// partition whose leader the answers keep not naming, the refreshes then
// back off as the Java client's do (Metadata.timeToAllowUpdate: the backoff
// over failed attempts and over equivalent answers, KIP-580), where a
// fixed RetryBackoff made one every 100 ms for as long as it lasted. The
// first gap is RetryBackoff unspread, so that the reaction to a leader
// that moved stays what it was.
type pacing struct {
	backoff backoff.Exponential // RetryBackoff..RetryBackoffMax
	maxAge  time.Duration       // MetadataMaxAge

	fruitless int           // refreshes in a row that failed or changed nothing
	last      time.Time     // when the last refresh started
	gap       time.Duration // the least time from its start to the next one asked for
}

// start notes a refresh beginning at now. After a quiet spell, nothing
// asked for over twice the gap the last refresh set, or a refresh due to
// MetadataMaxAge (which also resets the Java client's count of equivalent
// answers), the refreshes that told nothing before it no longer count: a
// leader that moves an hour after an outage is looked for at RetryBackoff
// again.
func (p *pacing) start(now time.Time) {
	if since := now.Sub(p.last); since >= p.maxAge || since-p.gap >= p.gap {
		p.fruitless = 0
	}
	p.last = now
}

// done notes whether the refresh told something new, and returns the least
// gap from its start to the next refresh asked for.
func (p *pacing) done(news bool) time.Duration {
	if news {
		p.fruitless = 0
	} else {
		p.fruitless++
	}
	p.gap = p.backoff.Base
	if p.fruitless > 1 {
		p.gap = p.backoff.Delay(p.fruitless)
	}
	return p.gap
}

// news reports whether an Apply told the producer something it acts on: a
// leader, a broker, a topic's partitions, or a topic it knew called
// unknown. An answer like the last one is no news, nor is a topic still
// unknown: Changes lists every topic an answer calls unknown, each time.
// before is the snapshot Apply replaced.
func news(ch metadata.Changes, before *metadata.Snapshot) bool {
	for _, name := range ch.UnknownTopics {
		if t := before.Peek(name); t != nil && len(t.Partitions) > 0 {
			return true
		}
	}
	ch.UnknownTopics = nil
	return !ch.Empty()
}
