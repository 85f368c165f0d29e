package accumulator

import "sync"

// queue is one partition's batches waiting to be sent, oldest first. Only
// the last batch may be open for appends. Batches being sent are not here:
// Drain removes them and Reenqueue puts a retried one back at the front.
//
// Lock order: queue.mu, then Accumulator.incMu. The buffer pool is never
// called with queue.mu held, because Allocate may block.
type queue struct {
	tp       TopicPartition
	mu       sync.Mutex
	batches  []*Batch
	inFlight int // batches of this partition drained and not yet completed or re-enqueued
}

// open returns the batch accepting appends, or nil.
func (q *queue) open() *Batch {
	if n := len(q.batches); n > 0 && !q.batches[n-1].sealed {
		return q.batches[n-1]
	}
	return nil
}

func (q *queue) popFront() *Batch {
	b := q.batches[0]
	q.batches[0] = nil
	q.batches = q.batches[1:]
	return b
}

func (q *queue) pushFront(bs ...*Batch) {
	q.batches = append(bs[:len(bs):len(bs)], q.batches...)
}

// remove takes b out of the queue; it reports whether b was there.
func (q *queue) remove(b *Batch) bool {
	for i, o := range q.batches {
		if o == b {
			copy(q.batches[i:], q.batches[i+1:])
			q.batches[len(q.batches)-1] = nil
			q.batches = q.batches[:len(q.batches)-1]
			return true
		}
	}
	return false
}
