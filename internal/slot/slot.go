// Package slot lets a component keep its own state for a topic on a value
// that stands for the topic, so that it finds that state once per value
// rather than by name for every record: the partitioner on its view of the
// topic (one per metadata snapshot), the accumulator on the topic's
// metadata (one for as long as the metadata knows the topic).
//
// A slot is tied to the component that filled it, its owner: nothing stops
// two producers from sharing a partitioner, or a view from being read by
// two partitioners, and each must find its own state. A slot holds one
// owner's state at a time; another owner replaces it, and the first finds
// its state by name again. That only costs a lookup, since the state
// itself lives with its owner, keyed by name.
package slot

import "sync/atomic"

// Slot holds one owner's state. The zero Slot is empty and ready to use.
type Slot struct {
	held atomic.Pointer[owned]
}

// Owner stands for a slot's owner: a component holds one and passes its
// address. It is not empty, so that two owners never share an address,
// and a slot tells owners apart by comparing pointers.
type Owner struct{ _ byte }

type owned struct {
	owner *Owner
	state any
}

// Held returns the state s holds for owner, or nil if it holds another
// owner's or none (or s is nil). It inlines, where Of does not: a caller
// on every record's path asserts its state's type itself and calls Of only
// when that fails.
func (s *Slot) Held(owner *Owner) any {
	if s == nil {
		return nil
	}
	if h := s.held.Load(); h != nil && h.owner == owner {
		return h.state
	}
	return nil
}

// Of returns owner's state for the topic named name: the one s holds if
// owner put it there, else lookup(name), which s then holds. A nil s holds
// nothing, so lookup runs every time.
func Of[S any](s *Slot, owner *Owner, name string, lookup func(name string) *S) *S {
	if state, ok := s.Held(owner).(*S); ok {
		return state
	}
	state := lookup(name)
	if s != nil {
		s.held.Store(&owned{owner: owner, state: state})
	}
	return state
}
