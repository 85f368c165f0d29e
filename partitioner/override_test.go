package partitioner

import "testing"

// Override's result implements Observer and LoadReporter exactly when its
// inner partitioner does, so that the producer's type assertions find on it
// what they would find on inner.
func TestOverrideKeepsInnersInterfaces(t *testing.T) {
	never := func(*Topic, []byte) (int32, bool) { return 0, false }
	for _, tc := range []struct {
		name              string
		inner             Partitioner
		observes, reports bool
	}{
		{"Default", Default(100), true, true},
		{"UniformSticky", UniformSticky(100), true, true},
		{"RoundRobin", RoundRobin(), false, false},
		{"Func", Func(func(*Topic, []byte) int32 { return 0 }), false, false},
		{"an Observer", observerOnly{RoundRobin()}, true, false},
		{"a LoadReporter", loadReporterOnly{RoundRobin()}, false, true},
	} {
		o := Override(tc.inner, never)
		_, observes := o.(Observer)
		_, reports := o.(LoadReporter)
		equal(t, observes, tc.observes, "Override of %s is an Observer", tc.name)
		equal(t, reports, tc.reports, "Override of %s is a LoadReporter", tc.name)
	}
}

type observerOnly struct{ Partitioner }

func (observerOnly) Appended(*Topic, int32, int, bool) {}

type loadReporterOnly struct{ Partitioner }

func (loadReporterOnly) SetLoad(string, []int32) {}

// choose's partition wins; the records it declines get inner's, and inner
// hears of every append, load report and forgotten topic through the
// Override (a Forget for an inner that keeps no state does nothing).
func TestOverrideForwardsToInner(t *testing.T) {
	inner := newTestSticky(100, 1)
	o := Override(inner, func(t *Topic, key []byte) (int32, bool) {
		return t.Partitions - 1, string(key) == "last"
	})
	topic := &Topic{Name: "t", Partitions: 10}
	equal(t, o.Partition(topic, []byte("last")), 9, "the overridden record")
	first := o.Partition(topic, nil)
	equal(t, first, inner.Partition(topic, nil), "a declined record goes to inner's sticky partition")

	load := []int32{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	load[first] = 5
	o.(LoadReporter).SetLoad("t", load)
	equalSlices(t, inner.topic("t").loadFor(10), load, "the load inner holds")

	o.(Observer).Appended(topic, first, 100, true)
	if o.Partition(topic, nil) == first {
		t.Errorf("a full batch told to the Override did not end inner's turn on %d", first)
	}

	o.(Forgetter).Forget("t")
	if _, ok := inner.topics.Load("t"); ok {
		t.Error("inner still holds the state of a topic forgotten through the Override")
	}
	Override(Func(func(*Topic, []byte) int32 { return 0 }), func(*Topic, []byte) (int32, bool) { return 0, false }).(Forgetter).Forget("t")
}

func TestOverrideOfNothingIsInner(t *testing.T) {
	inner := Default(100)
	if Override(inner, nil) != inner {
		t.Errorf("Override with a nil choose is not its inner partitioner")
	}
}

func TestOverrideOfNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("Override(nil, choose) did not panic")
		}
	}()
	Override(nil, func(*Topic, []byte) (int32, bool) { return 0, false })
}
