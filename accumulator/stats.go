package accumulator

import "sync/atomic"

// Stats counts delivered batches, for tools such as kprod. A batch that
// expired in flight adds its sizes once its request is answered.
type Stats struct {
	Batches           int64 // batches delivered, acknowledged or failed
	Records           int64 // records in those batches
	UncompressedBytes int64 // their size before compression
	EncodedBytes      int64 // their size as sent
}

type counters struct {
	batches, records, uncompressed, encoded atomic.Int64
}

// count counts a delivered batch and its records. Its sizes are counted
// apart, by countSizes, since a batch that expired in flight may have been
// delivered while its sender was still writing them (Drain closes a batch
// outside every lock).
func (c *counters) count(b *Batch) {
	c.batches.Add(1)
	c.records.Add(int64(b.entries.len()))
}

// countSizes counts a delivered batch's sizes once no sender touches them:
// it was never in flight, or its last request has been answered.
func (c *counters) countSizes(b *Batch) {
	c.uncompressed.Add(int64(b.uncompressed))
	c.encoded.Add(int64(len(b.encoded)))
}

// Stats returns the counters so far.
func (a *Accumulator) Stats() Stats {
	return Stats{
		Batches:           a.stats.batches.Load(),
		Records:           a.stats.records.Load(),
		UncompressedBytes: a.stats.uncompressed.Load(),
		EncodedBytes:      a.stats.encoded.Load(),
	}
}

// Load fills sizes[i] with how many batches of partition i of topic await
// their records' outcome: waiting to be sent, in flight, or sent back for
// a retry. A batch kept once its records have their outcome (it expired,
// say), for its sequence numbers or its request in flight, holds nothing
// back and does not count. A partition with none, or beyond the
// accumulator's knowledge of the topic, gets 0. It reads each partition's
// counts under its lock and walks no batch list, so that it stays cheap
// with thousands of batches buffered: a sticky partitioner asks for it as
// batches start.
func (a *Accumulator) Load(topic string, sizes []int32) {
	clear(sizes)
	tps := a.topicNamed(topic)
	if tps == nil {
		return
	}
	for i, p := range *tps.partitions.Load() {
		if i >= len(sizes) {
			break
		}
		if p == nil {
			continue
		}
		p.mu.Lock()
		sizes[i] = int32(len(p.batches) - p.settled)
		p.mu.Unlock()
	}
}
