package accumulator

import (
	"encoding/binary"
	"sync"
)

// entries is what a batch keeps of its records besides their bytes, for
// their outcomes: each record's callback, and what its outcome reports of
// it (its timestamp and the sizes of its key and value).
//
// The facts are varints in one byte slice: about 4 bytes a record where
// three fields would take 16. Entries live on the garbage-collected heap,
// which the collector lets grow to twice what is live, and a full
// BufferMemory of 100-byte records is some 300,000 of them: 12 bytes a
// record saved is about 7 MB of peak memory.
type entries struct {
	cbs     []any
	facts   []byte // per record: timestamp - firstTs, key size, value size
	firstTs int64  // the first record's timestamp
}

// entriesPool recycles entries: a batch of small records would otherwise
// grow its slices a dozen times.
var entriesPool = sync.Pool{New: func() any { return new(entries) }}

// entriesRoom is the room a batch's entries start with.
type entriesRoom struct{ records, facts int }

// newEntries returns empty entries with about room for want: what the
// partition's previous batch took, so that a batch of a steady workload
// never grows its slices. Growing by append would copy them two or three
// times per batch, leave the old arrays to the garbage collector (the
// largest share of the producer's garbage, in a heap profile with 100-byte
// records), and end with up to twice the room the batch needs.
func newEntries(want entriesRoom) *entries {
	e := entriesPool.Get().(*entries)
	if cap(e.cbs) < want.records {
		e.cbs = make([]any, 0, want.records+want.records/8)
	}
	if cap(e.facts) < want.facts {
		e.facts = make([]byte, 0, want.facts+want.facts/8)
	}
	return e
}

// free gives e back to the pool, keeping no callback alive.
func (e *entries) free() {
	clear(e.cbs)
	e.cbs, e.facts = e.cbs[:0], e.facts[:0]
	entriesPool.Put(e)
}

// len is the number of records; 0 for nil entries (a batch whose records
// have had their outcome).
func (e *entries) len() int {
	if e == nil {
		return 0
	}
	return len(e.cbs)
}

// room is what e holds, as the room for a successor.
func (e *entries) room() entriesRoom { return entriesRoom{records: len(e.cbs), facts: len(e.facts)} }

func (es *entries) add(e entry) {
	if len(es.cbs) == 0 {
		es.firstTs = e.timestamp
	}
	es.cbs = append(es.cbs, e.cb)
	es.facts = binary.AppendVarint(es.facts, e.timestamp-es.firstTs)
	es.facts = binary.AppendVarint(es.facts, int64(e.keySize))
	es.facts = binary.AppendVarint(es.facts, int64(e.valueSize))
}

// entry is one record's callback and facts, as Append takes them and a
// cursor gives them back.
type entry struct {
	cb        any
	timestamp int64
	keySize   int32
	valueSize int32
}

// cursor reads entries in order.
type cursor struct {
	e   *entries
	i   int // the next record
	off int // its facts' offset
}

// next returns the next record's entry; ok is false after the last.
func (c *cursor) next() (e entry, ok bool) {
	if c.i >= len(c.e.cbs) {
		return entry{}, false
	}
	e.cb = c.e.cbs[c.i]
	c.i++
	delta := c.varint()
	e.timestamp = c.e.firstTs + delta
	e.keySize = int32(c.varint())
	e.valueSize = int32(c.varint())
	return e, true
}

// varint reads one of the facts, which add wrote: they are well formed.
func (c *cursor) varint() int64 {
	v, n := binary.Varint(c.e.facts[c.off:])
	c.off += n
	return v
}
