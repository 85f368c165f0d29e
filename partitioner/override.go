package partitioner

// Override returns a partitioner that asks choose first and inner for the
// records choose leaves to it (ok false): a way to send some records
// somewhere of one's own, a topic's or a key's, while the others keep
// inner's choice.
//
// Unlike a Func that calls inner, the result implements Observer and
// LoadReporter whenever inner does, and forwards them (and Forgetter's
// Forget) to inner, so that Default and UniformSticky behind it go on
// switching partition (the producer finds those interfaces on
// Config.Partitioner by a type assertion; a Func hides them, and the
// sticky partitioner then never switches). inner hears of every
// append, overridden records' included; the sticky ones count only the
// bytes that went to their current partition, as they do keyed
// records'.
//
// choose runs on the goroutine that appends the record, as Partition does
// (see Partitioner), so it must be safe for concurrent use; a partition
// it returns is checked as inner's would be. A nil choose overrides
// nothing: Override returns inner. A nil inner panics here, rather than
// at the first record left to it.
func Override(inner Partitioner, choose func(t *Topic, key []byte) (partition int32, ok bool)) Partitioner {
	if inner == nil {
		panic("partitioner: Override of a nil Partitioner")
	}
	if choose == nil {
		return inner
	}
	o := override{inner: inner, choose: choose}
	obs, observes := inner.(Observer)
	loads, reports := inner.(LoadReporter)
	// One type per combination, so that the result implements exactly
	// what inner does: a LoadReporter it did not have would make the
	// producer gather loads that no one reads.
	switch {
	case observes && reports:
		return &overrideBoth{o, obs, loads}
	case observes:
		return &overrideObserver{o, obs}
	case reports:
		return &overrideLoadReporter{o, loads}
	}
	return &o
}

type override struct {
	inner  Partitioner
	choose func(t *Topic, key []byte) (int32, bool)
}

// Partition is choose's partition, or inner's if choose declines.
func (o *override) Partition(t *Topic, key []byte) int32 {
	if p, ok := o.choose(t, key); ok {
		return p
	}
	return o.inner.Partition(t, key)
}

// Forget passes a forgotten topic on to inner, if it keeps state per topic
// (Forgetter). Unlike Observer and LoadReporter, which the producer feeds
// only to a partitioner that has them, a Forget that does nothing costs
// nothing, so every Override has one.
func (o *override) Forget(topic string) {
	if f, ok := o.inner.(Forgetter); ok {
		f.Forget(topic)
	}
}

type overrideObserver struct {
	override
	Observer
}

type overrideLoadReporter struct {
	override
	LoadReporter
}

type overrideBoth struct {
	override
	Observer
	LoadReporter
}
