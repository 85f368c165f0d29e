package partitioner

import (
	"sync"
	"testing"
)

func TestRoundRobinCyclesAllPartitions(t *testing.T) {
	rr := RoundRobin()
	topic := &Topic{Name: "t", Partitions: 4}
	var got []int32
	for i := 0; i < 9; i++ {
		got = append(got, rr.Partition(topic, []byte("key is ignored")))
	}
	equalSlices(t, got, []int32{0, 1, 2, 3, 0, 1, 2, 3, 0}, "order")
}

func TestRoundRobinCyclesAvailablePartitions(t *testing.T) {
	rr := RoundRobin()
	topic := &Topic{Name: "t", Partitions: 6, Available: []int32{1, 4, 5}}
	var got []int32
	for i := 0; i < 7; i++ {
		got = append(got, rr.Partition(topic, nil))
	}
	equalSlices(t, got, []int32{1, 4, 5, 1, 4, 5, 1}, "order")
}

func TestRoundRobinTopicsAreIndependent(t *testing.T) {
	rr := RoundRobin()
	a := &Topic{Name: "a", Partitions: 3}
	b := &Topic{Name: "b", Partitions: 3}
	got := []int32{rr.Partition(a, nil), rr.Partition(a, nil), rr.Partition(b, nil), rr.Partition(a, nil)}
	equalSlices(t, got, []int32{0, 1, 0, 2}, "a, a, b, a")
}

// The counter is shared atomically, so concurrent callers still split the
// records exactly evenly.
func TestRoundRobinConcurrentIsExactlyEven(t *testing.T) {
	rr := RoundRobin()
	topic := &Topic{Name: "t", Partitions: 4}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts [4]int
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local [4]int
			for i := 0; i < 1000; i++ {
				local[rr.Partition(topic, nil)]++
			}
			mu.Lock()
			for p := range local {
				counts[p] += local[p]
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	equal(t, counts, [4]int{2000, 2000, 2000, 2000}, "records per partition")
}

// A topic the metadata forgot leaves no counter behind: RoundRobin is a
// Forgetter, and a topic produced to again cycles afresh.
func TestRoundRobinForgetsATopic(t *testing.T) {
	r := RoundRobin()
	f, ok := r.(Forgetter)
	if !ok {
		t.Fatal("RoundRobin is not a Forgetter: its counters stay for every topic ever seen")
	}
	r.Partition(&Topic{Name: "t", Partitions: 3}, nil)
	f.Forget("t")
	if _, ok := r.(*roundRobin).counters.Load("t"); ok {
		t.Fatal("the forgotten topic's counter stays")
	}
	again := &Topic{Name: "t", Partitions: 3}
	seen := map[int32]bool{}
	for range 3 {
		seen[r.Partition(again, nil)] = true
	}
	if len(seen) != 3 {
		t.Errorf("a topic produced to again cycled over %d of its 3 partitions", len(seen))
	}
}
