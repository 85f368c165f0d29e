package accumulator

import "sync/atomic"

// Stats counts completed batches, for tools such as kprod.
type Stats struct {
	Batches           int64 // batches completed, acknowledged or failed
	Records           int64 // records in those batches
	UncompressedBytes int64 // their size before compression
	EncodedBytes      int64 // their size as sent
}

type counters struct {
	batches, records, uncompressed, encoded atomic.Int64
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
