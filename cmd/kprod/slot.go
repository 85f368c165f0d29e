package main

import (
	"sync/atomic"

	producer "github.com/gokafka/producer"
)

// A record's callback must know when the record was produced, and the
// library gives it only the record's timestamp, in milliseconds: too coarse
// for latencies of a few milliseconds. So each in-flight record holds a
// slot, which carries its start to its callback, and whose callback is
// bound once, when the slot is made.
//
// A shard's slots form a ring that only its goroutine takes from. A slot is
// busy from take to its callback: take counts it taken, with a plain write
// that reaches the callback through the library's hand-over of the record;
// the callback reads the slot, then counts it freed, with an atomic store
// that orders its reads before the next take's writes: one atomic store per
// record. Records complete about in the order they were produced, so the
// slot after the last one taken is almost always free; when a few in a row
// are not (the ring is smaller than the records in flight, or a slow
// partition holds them), the ring grows, and keeps its size: once it holds
// as many slots as records are in flight, taking one allocates nothing.
// Runs of 1,000,000 to 3,000,000 records that fill the default buffer end
// with 1.3 to 1.9 times as many slots as they had records in flight at the
// peak.
//
// A free list (callbacks push, the goroutine takes the whole list at once)
// would need no more slots than records in flight, but it hands the slots
// back in the order the callbacks ran, scattered in memory when keys spread
// consecutive records over partitions: kprod perf with 16-byte keys cost
// 1.20x the bare library with it, 1.05x with the ring.
//
// A sync.Pool of trackers did this job before, but its Put ran on the
// delivery goroutine's processor and its Get on the producing goroutine's,
// so most Gets had to take from another processor's share of the pool.

const (
	// slotChunk is how many slots the ring grows by at least; it grows by
	// a quarter of its size when that is more, so growing copies O(1)
	// pointers per slot.
	slotChunk = 256
	// slotProbe is how many busy slots take skips before it grows the ring.
	slotProbe = 4
)

// slot carries one in-flight record's start and size to its callback.
type slot struct {
	taken    uint32        // written by take only
	freed    atomic.Uint32 // its callback's copy of taken
	start    int64         // microseconds, a reading of meter.now
	size     int64
	m        *meter
	s        *shard
	callback func(producer.RecordMetadata, error) // sl.done, bound once
}

// slots is a shard's ring of slots.
type slots struct {
	m    *meter
	s    *shard
	ring []*slot
	next int // the ring's index of the next slot to try
}

func (r *slots) init(m *meter, s *shard) { r.m, r.s = m, s }

// take marks a free slot busy with a record's start and size, and returns
// its callback.
func (r *slots) take(start, size int64) func(producer.RecordMetadata, error) {
	sl := r.free()
	sl.start, sl.size = start, size
	sl.taken++
	return sl.callback
}

// free returns a slot that is not busy: the next in the ring, or one of the
// few after it, or a new one.
func (r *slots) free() *slot {
	for range min(slotProbe, len(r.ring)) {
		sl := r.ring[r.next]
		if r.next++; r.next == len(r.ring) {
			r.next = 0
		}
		if sl.freed.Load() == sl.taken {
			return sl
		}
	}
	return r.grow()
}

// grow adds a chunk of slots to the ring after the last one tried, so that
// they are the next ones tried, and returns the first of them.
func (r *slots) grow() *slot {
	n := max(slotChunk, len(r.ring)/4)
	chunk := make([]slot, n)
	added := make([]*slot, n)
	for i := range chunk {
		sl := &chunk[i]
		sl.m, sl.s = r.m, r.s
		sl.callback = sl.done
		added[i] = sl
	}
	ring := make([]*slot, 0, len(r.ring)+n)
	ring = append(ring, r.ring[:r.next]...)
	ring = append(ring, added...)
	r.ring = append(ring, r.ring[r.next:]...)
	r.next++ // past the slot returned
	if r.next == len(r.ring) {
		r.next = 0
	}
	return added[0]
}

// done is a record's callback: it records the outcome and frees the slot.
func (sl *slot) done(_ producer.RecordMetadata, err error) {
	start, size := sl.start, sl.size
	sl.freed.Store(sl.taken)
	sl.m.finish(sl.s, start, size, err)
}
