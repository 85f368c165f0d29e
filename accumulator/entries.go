package accumulator

import (
	"encoding/binary"
	"sync"
)

// entries is what a batch keeps of its records besides their bytes, for
// their outcomes: each record's callback, and what its outcome reports of
// it (its timestamp and the sizes of its key and value).
//
// The facts are varints in one byte slice: 3 bytes a record for records
// under 127 bytes in a batch of under 64 ms, where three fields would take
// 16. Entries live on the garbage-collected heap, which the collector lets
// grow to twice what is live, and a full BufferMemory of 100-byte records
// is some 300,000 of them: 12 bytes a record saved is about 7 MB of peak
// memory.
type entries struct {
	cbs     []any
	facts   []byte // per record, unsigned: zigzag(timestamp - firstTs), key size + 1, value size + 1 (nil is 0)
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
	ts, key, value := zigzag(e.timestamp-es.firstTs), uint64(int64(e.keySize)+1), uint64(int64(e.valueSize)+1)
	if ts|key|value < 0x80 {
		// A byte each, as most records' facts take: one append, and one
		// check in next.
		es.facts = append(es.facts, byte(ts), byte(key), byte(value))
		return
	}
	es.facts = binary.AppendUvarint(es.facts, ts)
	es.facts = binary.AppendUvarint(es.facts, key)
	es.facts = binary.AppendUvarint(es.facts, value)
}

// zigzag maps small negative and positive numbers to small unsigned ones,
// as varints of signed numbers do.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

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
	var ts, key, value uint64
	ts, key, value, c.off = c.e.factsAt(c.off)
	return c.e.entry(e.cb, ts, key, value), true
}

// factsAt returns the facts of the record at off in es.facts, as add
// wrote them, and the next record's offset. It is too large to inline:
// deliver, which reads every record's facts, reads the usual case, a byte
// a fact, itself.
func (es *entries) factsAt(off int) (ts, key, value uint64, next int) {
	// Every record's facts take 3 bytes at least, a byte a varint; one
	// below 0x80 is a whole varint.
	if f := es.facts[off : off+3]; f[0]|f[1]|f[2] < 0x80 {
		return uint64(f[0]), uint64(f[1]), uint64(f[2]), off + 3
	}
	return es.varintsAt(off)
}

// varintsAt is factsAt's way for facts that are not a byte each.
func (es *entries) varintsAt(off int) (ts, key, value uint64, next int) {
	ts, off = uvarintAt(es.facts, off)
	key, off = uvarintAt(es.facts, off)
	value, off = uvarintAt(es.facts, off)
	return ts, key, value, off
}

// entry is the record's entry from its callback and its facts.
func (es *entries) entry(cb any, ts, key, value uint64) entry {
	return entry{cb: cb, timestamp: es.firstTs + unzigzag(ts), keySize: int32(int64(key) - 1), valueSize: int32(int64(value) - 1)}
}

// uvarintAt reads the fact at f[off], which add wrote: it is well formed.
// It returns the fact and the next one's offset.
func uvarintAt(f []byte, off int) (uint64, int) {
	v, n := binary.Uvarint(f[off:])
	return v, off + n
}
