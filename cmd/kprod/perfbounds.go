package main

import (
	"fmt"
	"math"

	"github.com/gokafka/producer/cmd/kprod/internal/payload"
	"github.com/gokafka/producer/record"
)

// Bounds of what perf makes up front, so that a flag too large for memory
// is a usage error, not the runtime's fatal "out of memory" (exit status 2,
// a goroutine dump).
const (
	// maxConcurrency bounds --concurrency: a goroutine that produces takes
	// some 20 KiB (its stack, its meter shard and slots); 10,000 took
	// 220 MB more than one in a run of 200,000 records.
	maxConcurrency = 10_000
	// maxKeyPoolBytes bounds the memory of the --key-pool keys.
	maxKeyPoolBytes = 1 << 30
)

// checkRecordsFit refuses a --key-size or --record-size that makes every
// record larger than the producer takes, the largest request or all of
// the buffer memory, whichever is smaller (or that limit itself when it
// cannot hold even an empty record), which it would refuse one by one:
// the generator allocates about three times the value size up front, and
// --record-size 2000000000 ran out of memory before the first record.
// It runs once the settings in effect are resolved (flag, -X or
// --producer-config). A record that fits but for its framing, a few bytes,
// is left to the producer, which refuses it as RECORD_TOO_LARGE.
func (o *perfOptions) checkRecordsFit() error {
	cfg := o.cfg.WithDefaults()
	limit, what := cfg.MaxRequestSize, "a request of at most"
	limitBy := o.sources.name("MaxRequestSize")
	if int64(cfg.BufferMemory) < int64(limit) {
		limit, what = int(cfg.BufferMemory), "the buffer memory of"
		limitBy = o.sources.name("BufferMemory")
	}
	what = fmt.Sprintf("%s %d %s", what, limit, countedNoun(int64(limit), "byte"))
	room := limit - record.BatchHeaderSize // what a batch of one record has for it
	if room < 0 {
		// No record fits, whatever its key and value: the limit is to
		// blame, not --key-size, which may not have been given.
		return usagef("%s: %s cannot hold a batch's %d-byte header, so no record fits",
			limitBy, what, record.BatchHeaderSize)
	}
	if o.keySize > room {
		return usagef("--key-size: a key of %d %s cannot fit in %s (%s)",
			o.keySize, countedNoun(int64(o.keySize), "byte"), what, limitBy)
	}
	if o.gen.Kind != payload.Lines && o.recordSize > room-o.keySize {
		return usagef("--record-size: a value of %d %s and a key of %d cannot fit in %s (%s)",
			o.recordSize, countedNoun(int64(o.recordSize), "byte"), o.keySize, what, limitBy)
	}
	return nil
}

// checkKeyPoolFits refuses a --key-pool whose keys, all made up front,
// would take more than maxKeyPoolBytes: --key-pool 1000000000 --key-size
// 16 ran out of memory before the first record. It runs after
// checkRecordsFit, which blames a key too large for any pool.
func (o *perfOptions) checkKeyPoolFits() error {
	if n := o.gen.KeyPoolBytes(); n > maxKeyPoolBytes {
		size := fmt.Sprintf("%d MiB", n>>20)
		if n == math.MaxInt64 { // KeyPoolBytes saturated: no count is true
			size = "over 8 EiB"
		}
		return usagef("--key-pool: %d keys of --key-size %d take %s, more than the %d MiB kprod makes up front (--key-pool 0 makes a fresh key for each record)",
			o.keyPool, o.keySize, size, maxKeyPoolBytes>>20)
	}
	return nil
}
