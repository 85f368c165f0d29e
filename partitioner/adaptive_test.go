package partitioner

import (
	"math"
	"testing"
)

// fixedRand returns r for every draw and records the range asked for.
type fixedRand struct {
	r     uint64
	asked []uint64
}

func (f *fixedRand) randN(n uint64) uint64 {
	f.asked = append(f.asked, n)
	return f.r
}

// Queue sizes 0, 3, 1 invert to weights 4, 1, 3 (max+1-size): draws 0-3
// pick partition 0, draw 4 partition 1, draws 5-7 partition 2.
func TestPickWeightedMapsDrawsToPartitions(t *testing.T) {
	c := candidates{n: 3}
	load := []int32{0, 3, 1}
	for r, want := range []int32{0, 0, 0, 0, 1, 2, 2, 2} {
		f := &fixedRand{r: uint64(r)}
		equal(t, pick(c, -1, load, f.randN), want, "draw %d", r)
		equalSlices(t, f.asked, []uint64{8}, "total weight")
	}
}

// The current partition is left out of the weights as well as the choice:
// from partition 0, queues 3 and 1 weigh 1 and 3.
func TestPickWeightedSkipsCurrent(t *testing.T) {
	c := candidates{n: 3}
	load := []int32{0, 3, 1}
	for r, want := range []int32{1, 2, 2, 2} {
		f := &fixedRand{r: uint64(r)}
		equal(t, pick(c, 0, load, f.randN), want, "draw %d", r)
		equalSlices(t, f.asked, []uint64{4}, "total weight")
	}
}

// Unavailable partitions get no weight even when their queue is empty.
func TestPickWeightedOnlyAvailable(t *testing.T) {
	c := candidates{n: 4, avail: []int32{1, 3}}
	load := []int32{0, 5, 0, 5}
	for r := uint64(0); r < 2; r++ {
		f := &fixedRand{r: r}
		if p := pick(c, -1, load, f.randN); p != 1 && p != 3 {
			t.Errorf("draw %d chose unavailable partition %d", r, p)
		}
		equalSlices(t, f.asked, []uint64{2}, "equal queues weigh 1 each")
	}
}

func TestAdaptiveFavoursLessLoadedPartitions(t *testing.T) {
	const switches = 20000
	shareOf := func(load []int32) []float64 {
		s := newTestSticky(10, 42)
		topic := &Topic{Name: "t", Partitions: 4, Available: all(4)}
		s.SetLoad("t", load)
		counts := make([]float64, 4)
		for i := 0; i < switches; i++ {
			counts[fill(s, topic)]++
		}
		for i := range counts {
			counts[i] /= switches
		}
		return counts
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.03 }

	uniform := shareOf(nil)
	for p, share := range uniform {
		if !near(share, 0.25) {
			t.Errorf("without load partition %d got share %.3f, want about 0.25 (%v)", p, share, uniform)
		}
	}
	// Partition 1's queue is empty, the others hold 50 batches: it wins
	// almost every switch it is allowed to (it cannot follow itself), so it
	// approaches half of all switches.
	adaptive := shareOf([]int32{50, 0, 50, 50})
	if adaptive[1] < 0.45 {
		t.Errorf("idle partition got share %.3f, want above 0.45 (%v)", adaptive[1], adaptive)
	}
	for _, p := range []int{0, 2, 3} {
		if !near(adaptive[p], (1-adaptive[1])/3) {
			t.Errorf("loaded partitions should share the rest evenly: %v", adaptive)
		}
	}
}

func TestSetLoadIgnoredWhenPartitionCountDiffers(t *testing.T) {
	f := &fixedRand{}
	s := newSticky(10, f.randN)
	s.SetLoad("t", []int32{9, 0, 9}) // from before a fourth partition was added
	s.Partition(&Topic{Name: "t", Partitions: 4}, nil)
	equalSlices(t, f.asked, []uint64{4}, "a stale report must give a uniform draw over 4")
}

func TestSetLoadNilRestoresUniform(t *testing.T) {
	f := &fixedRand{}
	s := newSticky(10, f.randN)
	topic := &Topic{Name: "t", Partitions: 3}
	s.SetLoad("t", []int32{0, 3, 1})
	fill(s, topic)
	equalSlices(t, f.asked, []uint64{8}, "weighted first draw")
	s.SetLoad("t", nil)
	f.asked = nil
	fill(s, topic)
	equalSlices(t, f.asked, []uint64{2}, "uniform draw among the two other partitions")
}

func TestSetLoadCopiesCallerSlice(t *testing.T) {
	f := &fixedRand{}
	s := newSticky(10, f.randN)
	load := []int32{0, 3, 1}
	s.SetLoad("t", load)
	load[0], load[1], load[2] = 7, 7, 7 // the producer reuses its buffer
	s.Partition(&Topic{Name: "t", Partitions: 3}, nil)
	equalSlices(t, f.asked, []uint64{8}, "weights must come from the reported sizes")
}

func TestOptionalInterfaces(t *testing.T) {
	for _, p := range []Partitioner{Default(10), UniformSticky(10)} {
		if _, ok := p.(LoadReporter); !ok {
			t.Errorf("%T must implement LoadReporter", p)
		}
		if _, ok := p.(Observer); !ok {
			t.Errorf("%T must implement Observer", p)
		}
	}
	if _, ok := RoundRobin().(Observer); ok {
		t.Errorf("round robin needs no append reports")
	}
}
