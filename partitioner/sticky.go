package partitioner

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/internal/slot"
)

// UniformSticky returns KIP-794's uniform sticky partitioner, applied to
// every record whether keyed or not: per topic it sends records to one
// partition until at least batchSize bytes have been appended there (as
// reported through Observer.Appended) and one of its batches is full, or
// until twice batchSize have, then switches to another partition drawn at
// random from the available ones (all partitions when none is available),
// never the same one twice in a row when there is a choice. Sticking fills
// one batch at a time instead of trickling records into every partition's
// batch, which is what makes keyless throughput high.
//
// Both limits are the Java client's: its partitioner, once a batch's worth
// has gone to a partition, switches when the partition's last batch is full
// (allBatchesFull), and at twice that in any case. What counts as a full
// batch differs by one record: the producer reports a batch filled
// (Observer.Appended's filled) also when a record did not fit in it and
// started the next, so the turn ends with that record, left alone in the
// next batch, where Java's goes on into that batch (DESIGN.md, the path of
// one record, says what that costs). Counting bytes alone switches in the
// middle of a batch whenever some of the partition's bytes left early, in a
// batch that a request took along or whose linger ended: the rest then wait
// in a batch that no one fills. With as few records in flight as synchronous
// senders keep, they could all end up waiting out the linger; waiting for a
// full batch more than doubled the records per second of the race's 1,000
// synchronous senders (bench/). Twice the batch size ends a turn whose
// batches all leave before they fill.
//
// The returned value also implements Observer (the producer must call it, or
// the partitioner never switches: a wrapper must forward it, as Override
// does), LoadReporter (optional adaptive choice) and Forgetter (a
// forgotten topic's state goes). batchSize below 1 is treated as 1.
func UniformSticky(batchSize int) Partitioner { return newSticky(batchSize, rand.Uint64N) }

var (
	_ Observer     = (*sticky)(nil)
	_ LoadReporter = (*sticky)(nil)
	_ Forgetter    = (*sticky)(nil)
)

type sticky struct {
	// batchSize is the bytes after which a full batch ends a partition's
	// turn, limit those after which it ends anyway: twice batchSize.
	batchSize, limit uint32
	// hashKeys sends keyed records to KeyPartition (Default); otherwise
	// keys are ignored (UniformSticky).
	hashKeys bool
	topics   sync.Map // topic name -> *stickyTopic
	// randN returns a value in [0,n); tests substitute a seeded source so
	// that the draws are reproducible.
	randN func(n uint64) uint64
	owner slot.Owner // of its states' slots on topic views
}

// stickyTopic is one topic's state. cur packs the sticky partition and the
// bytes appended to it into one word so that choosing, counting and
// switching are single compare-and-swaps with nothing to allocate: the high
// 32 bits hold partition+1 (zero means "none chosen yet"), the low 32 bits
// the appended bytes, saturating; a batch filled after batchSize of them
// sets them to limit, which makes the next Partition switch.
type stickyTopic struct {
	cur  atomic.Uint64
	load atomic.Pointer[[]int32]
}

func newSticky(batchSize int, randN func(uint64) uint64) *sticky {
	// The producer validates BatchSize; clamping here keeps the partitioner
	// total rather than panicking on a value it can still make sense of.
	size := uint32(math.MaxUint32)
	if batchSize < 1 {
		size = 1
	} else if uint64(batchSize) < math.MaxUint32 {
		size = uint32(batchSize)
	}
	limit := uint32(min(2*uint64(size), math.MaxUint32))
	return &sticky{batchSize: size, limit: limit, randN: randN}
}

func pack(partition int32, produced uint32) uint64 {
	return uint64(uint32(partition+1))<<32 | uint64(produced)
}

func unpack(v uint64) (partition int32, produced uint32) {
	return int32(uint32(v>>32)) - 1, uint32(v)
}

func (s *sticky) topic(name string) *stickyTopic {
	if v, ok := s.topics.Load(name); ok {
		return v.(*stickyTopic)
	}
	v, _ := s.topics.LoadOrStore(name, new(stickyTopic))
	return v.(*stickyTopic)
}

// state is the topic's state, found on the view's slot for every record but
// the first of a snapshot. Partition and Appended, which ask for every
// record, assert its type themselves (this function, with the atomic load
// and the assertion, is too large to inline, and the call cost more than
// the assertion); this is their way when the slot holds no state of s's,
// through stateOf's generic lookup.
func (s *sticky) state(t *Topic) *stickyTopic { return stateOf(t, &s.owner, s.topic) }

// Partition returns the topic's sticky partition, first switching when its
// turn has ended (see Appended) or when it is no longer among the
// candidates (its leader went away: records sent there would sit in its
// queue). A keyed record goes to its key's partition instead if s hashes
// keys.
func (s *sticky) Partition(t *Topic, key []byte) int32 {
	if t.Partitions <= 0 {
		return NoPartition
	}
	if key != nil && s.hashKeys {
		return KeyPartition(key, t.Partitions)
	}
	// The usual case, the turn going on, returns without a call: with the
	// switch's calls in the same loop, every record saved and reloaded what
	// they need around them.
	if st, ok := t.state.Held(&s.owner).(*stickyTopic); ok {
		if p, produced := unpack(st.cur.Load()); produced < s.limit && candidatesOf(t).indexOf(p) >= 0 {
			return p
		}
	}
	return s.switchPartition(t)
}

// switchPartition is Partition's way when the turn may have ended, or the
// view holds no state of s's yet: it switches, unless another goroutine
// did first, and returns the partition switched to (or kept).
func (s *sticky) switchPartition(t *Topic) int32 {
	st := s.state(t)
	c := candidatesOf(t)
	for {
		old := st.cur.Load()
		p, produced := unpack(old)
		if produced < s.limit && c.indexOf(p) >= 0 {
			return p
		}
		next := pick(c, p, st.loadFor(t.Partitions), s.randN)
		// Losing the race means another goroutine switched first; the next
		// pass returns its choice, so concurrent callers agree.
		if st.cur.CompareAndSwap(old, pack(next, 0)) {
			return next
		}
	}
}

// Appended counts bytes appended to the topic's sticky partition, and ends
// its turn when a batch fills once at least batchSize have been; at limit
// (twice batchSize) the count alone ends it, in Partition. Appends to
// any other partition (keyed records, or a record partitioned just before a
// concurrent switch) are not counted: they do not fill the sticky batch.
func (s *sticky) Appended(t *Topic, partition int32, bytes int, filled bool) {
	if bytes <= 0 || partition < 0 {
		return
	}
	st, ok := t.state.Held(&s.owner).(*stickyTopic)
	if !ok {
		st = s.state(t)
	}
	add := min(uint64(bytes), math.MaxUint32) // uint64: MaxUint32 overflows a 32-bit int
	for {
		old := st.cur.Load()
		p, produced := unpack(old)
		if p != partition {
			return
		}
		sum := min(uint64(produced)+add, math.MaxUint32)
		if filled && sum >= uint64(s.batchSize) {
			sum = max(sum, uint64(s.limit))
		}
		if st.cur.CompareAndSwap(old, pack(p, uint32(sum))) {
			return
		}
	}
}

// SetLoad records the topic's queue sizes for the next switch (see
// LoadReporter). It copies, because the caller reuses its slice while
// partitioning goroutines may still read the previous report.
func (s *sticky) SetLoad(topic string, queueSizes []int32) {
	st := s.topic(topic)
	if queueSizes == nil {
		st.load.Store(nil)
		return
	}
	load := slices.Clone(queueSizes)
	st.load.Store(&load)
}

// Forget drops the topic's state (see Forgetter). A view that still holds
// it in its slot keeps using it until its snapshot is replaced; a new view
// finds the topic by name and starts afresh, with no sticky partition and
// no load report.
func (s *sticky) Forget(topic string) { s.topics.Delete(topic) }

// loadFor returns the last load report if it still describes n partitions.
func (st *stickyTopic) loadFor(n int32) []int32 {
	l := st.load.Load()
	if l == nil || len(*l) != int(n) {
		return nil
	}
	return *l
}
