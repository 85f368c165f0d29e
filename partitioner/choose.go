package partitioner

import "slices"

// candidates is the set a new partition is drawn from: the available
// partitions, or every partition when none is known to be available (a
// record must go somewhere; it waits in its queue until a leader appears).
// It is a value type so that choosing allocates nothing.
type candidates struct {
	avail []int32
	n     int32
	// all: every partition is a candidate (Available, ascending and
	// without repeats, is then empty or 0 to n-1), which indexOf, asked
	// for every record, reads rather than work out.
	all bool
}

func candidatesOf(t *Topic) candidates {
	return candidates{avail: t.Available, n: t.Partitions, all: len(t.Available) == 0 || len(t.Available) == int(t.Partitions)}
}

func (c candidates) len() int {
	if len(c.avail) > 0 {
		return len(c.avail)
	}
	return int(c.n)
}

func (c candidates) at(i int) int32 {
	if len(c.avail) > 0 {
		return c.avail[i]
	}
	return int32(i)
}

// indexOf returns p's index among the candidates, or -1 when p is not one.
// When every partition is a candidate, the usual case, asked for every
// record, it needs no search, and it inlines.
func (c candidates) indexOf(p int32) int {
	if c.all && uint32(p) < uint32(c.n) {
		return int(p)
	}
	return c.search(p)
}

// search is indexOf's way when only some partitions are candidates, out
// of line so that indexOf inlines.
//
//go:noinline
func (c candidates) search(p int32) int {
	if p < 0 || p >= c.n {
		return -1
	}
	if len(c.avail) == 0 || len(c.avail) == int(c.n) {
		return int(p)
	}
	i, ok := slices.BinarySearch(c.avail, p)
	if !ok {
		return -1
	}
	return i
}

// pick draws the next sticky partition, never cur when another candidate
// exists (switching to the partition just filled would defeat the switch).
// With load (queue sizes indexed by partition) the draw is weighted towards
// short queues, otherwise it is uniform. randN(k) returns a value in [0,k).
func pick(c candidates, cur int32, load []int32, randN func(uint64) uint64) int32 {
	k := c.len()
	skip := -1
	if k > 1 {
		skip = c.indexOf(cur)
	}
	if load != nil {
		return pickWeighted(c, skip, load, randN)
	}
	if skip < 0 {
		return c.at(int(randN(uint64(k))))
	}
	i := int(randN(uint64(k - 1)))
	if i >= skip {
		i++
	}
	return c.at(i)
}

// pickWeighted gives each candidate the weight maxQueue+1-queue, KIP-794's
// inversion of queue sizes: the emptiest queue gets the largest share of new
// records, while even the fullest keeps weight 1 so that a partition is
// never starved outright because of a momentary backlog. With equal queues
// every weight is 1 and the draw is uniform.
func pickWeighted(c candidates, skip int, load []int32, randN func(uint64) uint64) int32 {
	k := c.len()
	var maxQueue int64
	for i := 0; i < k; i++ {
		if i != skip {
			maxQueue = max(maxQueue, queueOf(load, c.at(i)))
		}
	}
	var total uint64
	for i := 0; i < k; i++ {
		if i != skip {
			total += uint64(maxQueue + 1 - queueOf(load, c.at(i)))
		}
	}
	r := randN(total)
	last := -1
	for i := 0; i < k; i++ {
		if i == skip {
			continue
		}
		last = i
		w := uint64(maxQueue + 1 - queueOf(load, c.at(i)))
		if r < w {
			return c.at(i)
		}
		r -= w
	}
	// Unreachable while randN honours its range; stay on a valid candidate
	// rather than trust that.
	return c.at(last)
}

// queueOf reads a partition's reported queue size; negative reports (which
// a correct producer never makes) count as empty.
func queueOf(load []int32, p int32) int64 {
	if int(p) >= len(load) || load[p] < 0 {
		return 0
	}
	return int64(load[p])
}
