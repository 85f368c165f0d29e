package producer

import (
	"runtime/debug"
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

// topicsForgotten drops what the producer keeps per topic only as a hint
// for the topics its metadata forgot as idle (Config.MetadataMaxIdle):
// the time of the last load report, and the partitioner's state, if it
// would drop it (partitioner.Forgetter). Kept, they grew by the topic for
// the producer's life, however briefly each was used. A record for such a
// topic later makes them afresh, as for a new topic; an append racing the
// forget may make one again at once, which the topic's next forget drops.
//
// The accumulator's partitions of the topic stay: with idempotence they
// carry the producer's sequence numbers for them, which the broker still
// holds for the topic it still has, and a restart at sequence 0 under the
// same epoch would be refused (OUT_OF_ORDER_SEQUENCE_NUMBER). The Java
// client, too, keeps a partition's sequence until the epoch changes.
func (p *Producer) topicsForgotten(names []string) {
	for _, name := range names {
		p.loadReports.Delete(name)
	}
	if p.forgets != nil {
		for _, name := range names {
			p.forgetInPartitioner(name)
		}
	}
}

// forgetInPartitioner tells the partitioner that topic is forgotten. Its
// panic, on the metadata loop's goroutine, where no caller could recover
// it, is logged with its stack, and the loop goes on.
func (p *Producer) forgetInPartitioner(topic string) {
	defer func() {
		if v := recover(); v != nil {
			p.cfg.Logger.Error("the partitioner panicked on a topic the metadata forgot; its state for the topic may stay",
				"method", "Forget", "topic", topic, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	p.forgets.Forget(topic)
}
