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
// A shard keeps its free slots in two stacks. Its goroutine takes from the
// first, which it alone touches; callbacks push the slots they are done
// with onto the second with one compare-and-swap, and when the first runs
// dry, the goroutine takes the whole second at once with one swap. Pushing
// and taking everything have no ABA problem (only the swap removes), so
// no lock is needed, and a pushed slot's fields reach the goroutine
// through the atomics. A slot is made only when both stacks are empty: a
// shard ends up with as many slots as it had records in flight at the
// peak, and once it has them, metering a record allocates nothing.
//
// A sync.Pool of trackers did this job before, but its Put ran on the
// delivery goroutine's processor and its Get on the producing goroutine's,
// so most Gets had to take from another processor's share of the pool.

// slotChunk is how many slots are made at once.
const slotChunk = 256

// slot carries one in-flight record's start and size to its callback.
type slot struct {
	start    int64 // microseconds, a reading of meter.now
	size     int64
	next     *slot // the next free slot, while this one is free
	r        *slots
	callback func(producer.RecordMetadata, error) // sl.done, bound once
}

// slots are a shard's slots, in use or free.
type slots struct {
	m     *meter
	s     *shard
	local *slot // free, the shard's goroutine's alone
	made  int   // slots made so far

	_     [64]byte             // keep freed off the goroutine's cache lines
	freed atomic.Pointer[slot] // free, pushed by callbacks
	_     [64]byte
}

func (r *slots) init(m *meter, s *shard) { r.m, r.s = m, s }

// take fills a free slot with a record's start and size and returns its
// callback. Only the shard's goroutine may call it.
func (r *slots) take(start, size int64) func(producer.RecordMetadata, error) {
	sl := r.local
	if sl == nil {
		if sl = r.freed.Swap(nil); sl == nil {
			sl = r.make()
		}
	}
	r.local, sl.next = sl.next, nil
	sl.start, sl.size = start, size
	return sl.callback
}

// make makes slotChunk slots and returns them as a stack.
func (r *slots) make() *slot {
	chunk := make([]slot, slotChunk)
	r.made += slotChunk
	var top *slot
	for i := range chunk {
		sl := &chunk[i]
		sl.r, sl.next = r, top
		sl.callback = sl.done
		top = sl
	}
	return top
}

// done is a record's callback: it frees the slot, then records the outcome.
func (sl *slot) done(_ producer.RecordMetadata, err error) {
	r, start, size := sl.r, sl.start, sl.size
	for {
		top := r.freed.Load()
		sl.next = top
		if r.freed.CompareAndSwap(top, sl) {
			break
		}
	}
	r.m.finish(r.s, start, size, err)
}
