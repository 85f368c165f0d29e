package accumulator

import "sync/atomic"

// Stats counts delivered batches, for tools such as kprod.
type Stats struct {
	Batches           int64 // batches delivered, acknowledged or failed
	Records           int64 // records in those batches
	UncompressedBytes int64 // their size before compression
	EncodedBytes      int64 // their size as sent
}

type counters struct {
	batches, records, uncompressed, encoded atomic.Int64
}

func (c *counters) count(b *Batch) {
	c.batches.Add(1)
	c.records.Add(int64(b.entries.len()))
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

// Load fills sizes[i] with how many batches partition i of topic holds:
// waiting to be sent, in flight, or answered but kept to settle a
// sequence. A partition with none, or beyond the accumulator's knowledge
// of the topic, gets 0. It reads each partition's count under its lock
// and walks no batch list, so that it stays cheap with thousands of
// batches buffered: a sticky partitioner asks for it as batches start.
func (a *Accumulator) Load(topic string, sizes []int32) {
	clear(sizes)
	tps := (*a.topics.Load())[topic]
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
		sizes[i] = int32(len(p.batches))
		p.mu.Unlock()
	}
}
