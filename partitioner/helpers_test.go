package partitioner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The tests use the standard library only: testify's assert package needs
// a go.sum entry (its yaml dependency) that the module does not carry.

func equal[T comparable](t *testing.T, got, want T, what string, args ...any) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", fmt.Sprintf(what, args...), got, want)
	}
}

func equalSlices[T comparable](t *testing.T, got, want []T, what string, args ...any) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: got %v, want %v", fmt.Sprintf(what, args...), got, want)
	}
}

// seeded returns a reproducible randN for the sticky partitioner, so that
// tests depending on the draws fail the same way every run. It is not safe
// for concurrent use; concurrent tests use the default source.
func seeded(seed uint64) func(uint64) uint64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return r.Uint64N
}

func newTestSticky(batchSize int, seed uint64) *sticky {
	return newSticky(batchSize, seeded(seed))
}

// all returns the partitions 0..n-1, ascending, for Topic.Available.
func all(n int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

// fill appends a full batch to the current sticky partition and returns the
// partition that was current, so the next Partition call must switch.
func fill(s *sticky, t *Topic) int32 {
	p := s.Partition(t, nil)
	s.Appended(t, p, int(s.batchSize), true)
	return p
}
