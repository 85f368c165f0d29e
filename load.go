package producer

import (
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/metadata"
)

// loadReportGap is the least time between two load reports for one topic.
// A report walks the topic's partitions, so reports are held to a rate that
// costs little even with thousands of partitions, while still coming about
// once per batch at a million 100-byte records a second.
const loadReportGap = time.Millisecond

// reportLoad tells a partitioner that steers by load (KIP-794's adaptive
// partitioning) how many batches each partition of t holds
// (accumulator.Load). It runs when an append started a batch or filled
// one: the sticky partitioner switches partition when a batch is full and
// reads the report then, so it sees queues as they are, not as they were a
// while ago. (The Java client refreshes the same figures on every pass of
// its sender.)
//
// Reports that came only once a second left a short burst with uniform
// draws, and queues that drifted apart by chance: toward the end of a run
// the emptied partitions had nothing left to send, and each request carried
// the batches of two or three partitions instead of all of them.
func (p *Producer) reportLoad(t *metadata.Topic) {
	now := p.cfg.clock.Now().UnixNano()
	v, ok := p.loadReports.Load(t.Name)
	if !ok {
		v, _ = p.loadReports.LoadOrStore(t.Name, new(atomic.Int64))
	}
	last := v.(*atomic.Int64)
	prev := last.Load()
	// A wall clock set back counts as time passed: the report goes.
	if since := now - prev; prev != 0 && since >= 0 && since < int64(loadReportGap) {
		return // reported a moment ago
	}
	if !last.CompareAndSwap(prev, now) {
		return // another goroutine reports it
	}
	sizes := make([]int32, len(t.Partitions))
	p.acc.Load(t.Name, sizes)
	p.loads.SetLoad(t.Name, sizes)
}
