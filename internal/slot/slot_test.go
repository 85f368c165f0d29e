package slot

import "testing"

type state struct{ name string }

// TestOfLooksUpOncePerOwner holds the slot's contract: the first call of an
// owner looks the state up, later calls of the same owner do not, and
// another owner gets its own state, never the first one's.
func TestOfLooksUpOncePerOwner(t *testing.T) {
	var s Slot
	a, b := new(Owner), new(Owner)
	lookups := 0
	lookupFor := func(owner string) func(string) *state {
		return func(name string) *state { lookups++; return &state{name: owner + "/" + name} }
	}
	first := Of(&s, a, "t", lookupFor("a"))
	if again := Of(&s, a, "t", lookupFor("a")); again != first || lookups != 1 {
		t.Fatalf("second call of the same owner: %p after %p, %d lookups; want the cached state and 1 lookup", again, first, lookups)
	}
	if other := Of(&s, b, "t", lookupFor("b")); other.name != "b/t" || lookups != 2 {
		t.Fatalf("another owner got %q after %d lookups, want its own b/t after 2", other.name, lookups)
	}
	if back := Of(&s, a, "t", lookupFor("a")); back.name != "a/t" || lookups != 3 {
		t.Fatalf("the first owner, displaced, got %q after %d lookups, want a/t after 3", back.name, lookups)
	}
}

// TestOfWithoutSlotLooksUpEveryTime covers values that carry no slot.
func TestOfWithoutSlotLooksUpEveryTime(t *testing.T) {
	lookups := 0
	lookup := func(name string) *state { lookups++; return &state{name: name} }
	owner := new(Owner)
	Of(nil, owner, "t", lookup)
	Of(nil, owner, "t", lookup)
	if lookups != 2 {
		t.Fatalf("%d lookups without a slot, want 2", lookups)
	}
}

// TestHeldIsTheOwnersStateOnly: Held gives an owner back what Of put in
// the slot for it, and nothing of another owner's or of no slot.
func TestHeldIsTheOwnersStateOnly(t *testing.T) {
	var s Slot
	a, b := new(Owner), new(Owner)
	if s.Held(a) != nil {
		t.Fatal("an empty slot holds something")
	}
	put := Of(&s, a, "t", func(name string) *state { return &state{name: name} })
	if got, ok := s.Held(a).(*state); !ok || got != put {
		t.Fatalf("Held(a) = %v, want a's state %p", s.Held(a), put)
	}
	if s.Held(b) != nil {
		t.Fatal("Held(b) gives a's state to another owner")
	}
	var none *Slot
	if none.Held(a) != nil {
		t.Fatal("a nil slot holds something")
	}
}
