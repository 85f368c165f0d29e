package metadata

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
)

// Cache holds the current Snapshot. Readers call Snapshot and never block;
// writers (Apply, ApplyLeaderHint) are serialized by a mutex and publish a
// new Snapshot atomically, so a reader sees either all of an update or none
// of it.
type Cache struct {
	mu   sync.Mutex // serializes writers; readers never take it
	snap atomic.Pointer[Snapshot]
	// answers counts the Metadata answers applied, under mu: the number
	// of each, kept in the topics it names (Topic.answer).
	answers uint64
}

// NewCache returns a cache holding an empty snapshot.
func NewCache() *Cache {
	c := &Cache{}
	c.snap.Store(emptySnapshot)
	return c
}

// Snapshot returns the current snapshot; never nil.
func (c *Cache) Snapshot() *Snapshot {
	return c.snap.Load()
}

func sortStrings(lists ...[]string) {
	for _, l := range lists {
		slices.Sort(l)
	}
}

func sortInt32s(lists ...[]int32) {
	for _, l := range lists {
		slices.Sort(l)
	}
}

func sortTPs(l []TopicPartition) {
	slices.SortFunc(l, compareTP)
}

func sortBrokers(l []Broker) {
	slices.SortFunc(l, func(a, b Broker) int { return cmp.Compare(a.ID, b.ID) })
}
