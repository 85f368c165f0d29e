package accumulator

import "sync/atomic"

// led is one broker's partitions, as a sender passes them to Ready and
// Drain, resolved to the accumulator's: parts[i] is tps[i]'s, or nil while
// no record has gone to it. A sender passes the same list until the
// metadata changes (a snapshot's lists are never written again), so the
// partitions are looked up by name once per snapshot, not at every pass,
// and again only for those missing when partitions were added since.
type led struct {
	tps   []TopicPartition // the list resolved, known by its first element's address
	added uint64           // Accumulator.added when resolved
	parts []*partition
}

// ledBy holds the latest led of each broker. The map is copied on write,
// when a broker is first seen; each broker's led is replaced whole, so a
// sender still walking the one before is never disturbed.
type ledBy struct {
	nodes atomic.Pointer[map[int32]*atomic.Pointer[led]]
}

// ledPartitions returns tps's partitions, tps being the partitions node leads.
func (a *Accumulator) ledPartitions(node int32, tps []TopicPartition) []*partition {
	slot := a.ledSlot(node)
	// Read before the lookups: a partition added during them is looked up
	// again at the next call.
	added := a.added.Load()
	old := slot.Load()
	if old != nil && sameList(old.tps, tps) {
		if old.added == added {
			return old.parts
		}
	} else {
		old = nil
	}
	parts := make([]*partition, len(tps))
	if old != nil {
		copy(parts, old.parts)
	}
	for i, tp := range tps {
		if parts[i] == nil {
			parts[i] = a.lookup(tp)
		}
	}
	slot.Store(&led{tps: tps, added: added, parts: parts})
	return parts
}

// ledSlot returns where node's led is kept, adding it on first use.
func (a *Accumulator) ledSlot(node int32) *atomic.Pointer[led] {
	if m := a.led.nodes.Load(); m != nil {
		if slot := (*m)[node]; slot != nil {
			return slot
		}
	}
	a.topicsMu.Lock()
	defer a.topicsMu.Unlock()
	var m map[int32]*atomic.Pointer[led]
	if cur := a.led.nodes.Load(); cur != nil {
		if slot := (*cur)[node]; slot != nil {
			return slot
		}
		m = make(map[int32]*atomic.Pointer[led], len(*cur)+1)
		for k, v := range *cur {
			m[k] = v
		}
	} else {
		m = make(map[int32]*atomic.Pointer[led], 1)
	}
	slot := new(atomic.Pointer[led])
	m[node] = slot
	a.led.nodes.Store(&m)
	return slot
}

// sameList reports whether x and y are one list: the same length and
// backing array.
func sameList(x, y []TopicPartition) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}
