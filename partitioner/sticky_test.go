package partitioner

import (
	"math"
	"slices"
	"sync"
	"testing"
)

func TestStickyStaysUntilBatchSizeAppendedAndBatchFull(t *testing.T) {
	s := newTestSticky(100, 1)
	topic := &Topic{Name: "t", Partitions: 8}
	p := s.Partition(topic, nil)
	if p < 0 || p >= 8 {
		t.Fatalf("partition %d out of range", p)
	}
	s.Appended(topic, p, 60, true)
	equal(t, s.Partition(topic, nil), p, "after 60 of 100 bytes, a batch filled")
	s.Appended(topic, p, 39, false)
	equal(t, s.Partition(topic, nil), p, "after 99 of 100 bytes")
	s.Appended(topic, p, 1, false)
	equal(t, s.Partition(topic, nil), p, "after 100 of 100 bytes, no batch filled")
	s.Appended(topic, p, 10, true)
	next := s.Partition(topic, nil)
	if next == p {
		t.Fatalf("still on partition %d after 110 of 100 bytes and a batch filled", p)
	}
	equal(t, s.Partition(topic, nil), next, "a fresh sticky partition must hold")
}

// Batches that leave before they fill (a linger ended, or a request took
// them along) never report a full batch: twice the batch size ends the
// partition's turn anyway.
func TestStickySwitchesAfterTwiceBatchSize(t *testing.T) {
	s := newTestSticky(100, 14)
	topic := &Topic{Name: "t", Partitions: 8}
	p := s.Partition(topic, nil)
	s.Appended(topic, p, 150, false)
	equal(t, s.Partition(topic, nil), p, "after 150 bytes, no batch full")
	s.Appended(topic, p, 49, false)
	equal(t, s.Partition(topic, nil), p, "after 199 bytes, no batch full")
	s.Appended(topic, p, 1, false)
	if s.Partition(topic, nil) == p {
		t.Fatalf("still on partition %d after 200 bytes", p)
	}
}

// The count saturates at math.MaxUint32, which an int of 32 bits cannot
// hold: an append of math.MaxInt bytes, as large as an int goes on either
// size, ends the turn without wrapping the count.
func TestStickyAppendOfMaxIntBytesEndsTheTurn(t *testing.T) {
	s := newTestSticky(100, 3)
	topic := &Topic{Name: "t", Partitions: 8}
	p := s.Partition(topic, nil)
	s.Appended(topic, p, math.MaxInt, false)
	if s.Partition(topic, nil) == p {
		t.Fatalf("still on partition %d after %d bytes", p, math.MaxInt)
	}
}

func TestStickyKeyIsIgnored(t *testing.T) {
	s := newTestSticky(100, 2)
	topic := &Topic{Name: "t", Partitions: 8}
	p := s.Partition(topic, nil)
	for _, k := range []string{"a", "b", "c", ""} {
		equal(t, s.Partition(topic, []byte(k)), p, "key %q", k)
	}
}

func TestStickyNeverSamePartitionTwiceInARow(t *testing.T) {
	for _, n := range []int32{2, 3, 4, 16} {
		s := newTestSticky(10, uint64(n))
		topic := &Topic{Name: "t", Partitions: n, Available: all(n)}
		counts := make([]int, n)
		prev := fill(s, topic)
		const switches = 4000
		for i := 0; i < switches; i++ {
			p := fill(s, topic)
			if p == prev {
				t.Fatalf("n=%d: switch %d chose partition %d again", n, i, p)
			}
			counts[p]++
			prev = p
		}
		// Uniform: every partition gets a fair share of the switches.
		for p, c := range counts {
			if c < switches/int(n)/2 {
				t.Errorf("n=%d: partition %d chosen only %d of %d times", n, p, c, switches)
			}
		}
	}
}

func TestStickyChoosesOnlyAvailablePartitions(t *testing.T) {
	s := newTestSticky(10, 3)
	topic := &Topic{Name: "t", Partitions: 8, Available: []int32{1, 3, 6}}
	seen := map[int32]int{}
	prev := fill(s, topic)
	for i := 0; i < 1000; i++ {
		p := fill(s, topic)
		if !slices.Contains(topic.Available, p) {
			t.Fatalf("chose unavailable partition %d", p)
		}
		if p == prev {
			t.Fatalf("switch %d chose partition %d again", i, p)
		}
		seen[p]++
		prev = p
	}
	equal(t, len(seen), 3, "available partitions ever chosen (%v)", seen)
}

func TestStickySingleCandidateRepeats(t *testing.T) {
	s := newTestSticky(10, 4)
	topic := &Topic{Name: "t", Partitions: 8, Available: []int32{5}}
	for i := 0; i < 10; i++ {
		equal(t, fill(s, topic), 5, "the only available partition, round %d", i)
	}
	one := &Topic{Name: "one", Partitions: 1}
	for i := 0; i < 10; i++ {
		equal(t, fill(s, one), 0, "the only partition, round %d", i)
	}
}

func TestStickyFallsBackToAllPartitionsWhenNoneAvailable(t *testing.T) {
	s := newTestSticky(10, 5)
	topic := &Topic{Name: "t", Partitions: 3}
	seen := map[int32]bool{}
	for i := 0; i < 200; i++ {
		p := fill(s, topic)
		if p < 0 || p >= 3 {
			t.Fatalf("partition %d out of range", p)
		}
		seen[p] = true
	}
	equal(t, len(seen), 3, "partitions ever chosen")
}

// A sticky partition that leaves Available (its leader lost) is
// abandoned at once: records sent there would only wait in its queue.
func TestStickyLeavesPartitionThatBecameUnavailable(t *testing.T) {
	s := newTestSticky(1000, 6)
	topic := &Topic{Name: "t", Partitions: 4, Available: all(4)}
	p := s.Partition(topic, nil)
	topic.Available = slices.DeleteFunc(all(4), func(q int32) bool { return q == p })
	next := s.Partition(topic, nil)
	if next == p || !slices.Contains(topic.Available, next) {
		t.Fatalf("after %d became unavailable got %d, want one of %v", p, next, topic.Available)
	}
	equal(t, s.Partition(topic, nil), next, "new sticky partition must hold")
}

func TestStickyIgnoresAppendsElsewhere(t *testing.T) {
	s := newTestSticky(100, 7)
	topic := &Topic{Name: "t", Partitions: 4}
	p := s.Partition(topic, nil)
	s.Appended(topic, (p+1)%4, 1000, true)                      // a keyed record on another partition
	s.Appended(&Topic{Name: "u", Partitions: 4}, p, 1000, true) // a topic never partitioned
	s.Appended(topic, p, 0, true)                               // nothing appended
	s.Appended(topic, p, -5, true)                              // nonsense size
	s.Appended(topic, NoPartition, 500, true)                   // nonsense partition
	equal(t, s.Partition(topic, nil), p, "sticky partition")
}

func TestStickyTopicsAreIndependent(t *testing.T) {
	s := newTestSticky(100, 8)
	a := &Topic{Name: "a", Partitions: 50}
	b := &Topic{Name: "b", Partitions: 50}
	pa, pb := s.Partition(a, nil), s.Partition(b, nil)
	s.Appended(a, pa, 100, true)
	if s.Partition(a, nil) == pa {
		t.Errorf("topic a did not switch")
	}
	equal(t, s.Partition(b, nil), pb, "filling topic a must not move topic b")
}

func TestNoPartitions(t *testing.T) {
	empty := &Topic{Name: "t"}
	for name, p := range map[string]Partitioner{
		"default": Default(100), "sticky": UniformSticky(100), "roundrobin": RoundRobin(),
	} {
		equal(t, p.Partition(empty, nil), NoPartition, "%s keyless", name)
		equal(t, p.Partition(empty, []byte("k")), NoPartition, "%s keyed", name)
	}
}

func TestStickyBatchSizeClamped(t *testing.T) {
	equal(t, newSticky(0, nil).batchSize, 1, "batch size 0")
	equal(t, newSticky(-7, nil).batchSize, 1, "batch size -7")
	equal(t, newSticky(16384, nil).batchSize, 16384, "batch size 16384")
}

// Many goroutines partitioning and reporting appends on one topic: run with
// -race. Every answer must be a valid partition, and since the switches are
// uniform every partition must receive a fair share of the bytes.
func TestStickyConcurrent(t *testing.T) {
	const (
		goroutines = 8
		records    = 5000
		size       = 10
		n          = 4
	)
	part := UniformSticky(1000)
	obs := part.(Observer)
	topic := &Topic{Name: "t", Partitions: n, Available: all(n)}
	var (
		mu    sync.Mutex
		bytes [n]int
		wg    sync.WaitGroup
	)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local [n]int
			for i := 0; i < records; i++ {
				p := part.Partition(topic, nil)
				if p < 0 || p >= n {
					t.Errorf("partition %d out of range", p)
					return
				}
				obs.Appended(topic, p, size, i%50 == 49) // a batch fills every 50 records
				local[p] += size
			}
			mu.Lock()
			for p := range local {
				bytes[p] += local[p]
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	total := 0
	for p, b := range bytes {
		total += b
		if b < goroutines*records*size/n/3 {
			t.Errorf("partition %d got only %d of %d bytes", p, b, goroutines*records*size)
		}
	}
	equal(t, total, goroutines*records*size, "bytes appended")
}

// A new metadata snapshot brings a new view of the topic: the sticky
// partition and the bytes counted on it carry over, since the state is the
// topic's, not the view's.
func TestStickyStateOutlivesTheView(t *testing.T) {
	s := newTestSticky(100, 9)
	old := &Topic{Name: "t", Partitions: 8}
	p := s.Partition(old, nil)
	s.Appended(old, p, 60, false)
	fresh := &Topic{Name: "t", Partitions: 8}
	equal(t, s.Partition(fresh, nil), p, "the new view's sticky partition")
	s.Appended(fresh, p, 40, true)
	if s.Partition(old, nil) == p {
		t.Fatalf("still on %d after 60 bytes through one view and 40 through the next", p)
	}
}

// Two partitioners reading the same view each keep their own state.
func TestStickyPartitionersSharingAViewStayApart(t *testing.T) {
	a, b := newTestSticky(100, 10), newTestSticky(100, 11)
	topic := &Topic{Name: "t", Partitions: 50}
	pa := a.Partition(topic, nil)
	pb := b.Partition(topic, nil)
	a.Appended(topic, pa, 100, true)
	equal(t, b.Partition(topic, nil), pb, "b's sticky partition, after a filled its batch")
	if a.Partition(topic, nil) == pa {
		t.Fatalf("a did not switch after filling its batch")
	}
}

// A topic the producer's metadata forgot leaves the partitioner too: its
// state, sticky partition and load report, is dropped, and a record for
// it later, partitioned through a new view, starts a state afresh, as a
// new topic's. Forgetting a topic never seen is harmless.
func TestStickyForgetsATopicAndStartsItAfresh(t *testing.T) {
	s := newTestSticky(100, 12)
	var _ Forgetter = s
	old := &Topic{Name: "t", Partitions: 8, Available: all(8)}
	p := s.Partition(old, nil)
	s.Appended(old, p, 60, false)
	s.SetLoad("t", make([]int32, 8))
	s.Forget("t")
	s.Forget("never-seen")
	if _, ok := s.topics.Load("t"); ok {
		t.Fatal("the sticky partitioner still holds the forgotten topic's state")
	}
	fresh := &Topic{Name: "t", Partitions: 8, Available: all(8)}
	q := s.Partition(fresh, nil)
	if q < 0 || q >= 8 {
		t.Fatalf("partition %d for a topic produced to again", q)
	}
	st, ok := s.topics.Load("t")
	if !ok {
		t.Fatal("no state for the topic produced to again")
	}
	if _, produced := unpack(st.(*stickyTopic).cur.Load()); produced != 0 {
		t.Fatalf("the topic produced to again starts with %d bytes counted, want 0", produced)
	}
	if st.(*stickyTopic).load.Load() != nil {
		t.Fatal("the topic produced to again kept the forgotten topic's load report")
	}
	s.Appended(fresh, q, 100, true)
	if s.Partition(fresh, nil) == q {
		t.Fatalf("still on %d after a full batch on the topic produced to again", q)
	}
}
