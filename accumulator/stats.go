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
