package clock

import (
	"sync"
	"time"
)

// Fake is a Clock that moves only when Advance is called. Timers whose
// deadline is reached fire, in deadline order, during Advance.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	// waiters are told each time a timer is created, so a test can wait for
	// the code under test to arm its timer before advancing past it.
	armed chan struct{}
	// beforeArm, when set, runs before each arming (see BeforeArm).
	beforeArm func(deadline time.Time)
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, armed: make(chan struct{}, 1024)}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// UnixMilli returns the fake time in milliseconds since the epoch.
func (f *Fake) UnixMilli() int64 { return f.Now().UnixMilli() }

// NewTimer returns a timer firing when the fake time reaches now+d, the
// now of the arming, under f's lock.
func (f *Fake) NewTimer(d time.Duration) Timer {
	if hook := f.armHook(); hook != nil {
		hook(f.Now().Add(d))
	}
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	t.armLocked(f.now.Add(d))
	f.mu.Unlock()
	f.tellArmed()
	return t
}

// NewTimerAt returns a timer firing when the fake time reaches deadline, at
// once if it has: an Advance after its caller read Now and before the
// arming cannot push it back.
func (f *Fake) NewTimerAt(deadline time.Time) Timer {
	if hook := f.armHook(); hook != nil {
		hook(deadline)
	}
	t := &fakeTimer{clock: f, c: make(chan time.Time, 1)}
	f.mu.Lock()
	t.armLocked(deadline)
	f.mu.Unlock()
	f.tellArmed()
	return t
}

// BeforeArm sets hook, which runs at the start of each NewTimer,
// NewTimerAt and ResetAt, before the timer is armed, without f's lock, on
// the arming goroutine. It gets the deadline the caller asks for: for
// NewTimer(d), d from the fake time as the call begins. A test that
// advances f in it makes happen every time what another goroutine's
// Advance does now and then: move the clock between the caller's reading
// of Now and its arming. nil removes it.
func (f *Fake) BeforeArm(hook func(deadline time.Time)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.beforeArm = hook
}

// armHook is the hook BeforeArm set, if any.
func (f *Fake) armHook() func(time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.beforeArm
}

// tellArmed tells Armed that a timer was armed.
func (f *Fake) tellArmed() {
	select {
	case f.armed <- struct{}{}:
	default:
	}
}

// Armed receives once per timer created (buffered), so tests can wait,
// bounded, for code under test to start waiting before advancing time.
func (f *Fake) Armed() <-chan struct{} { return f.armed }

// Timers reports how many timers are pending.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Advance moves the fake time forward by d, firing every timer due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	now := f.now
	keep := f.timers[:0]
	var due []*fakeTimer
	for _, t := range f.timers {
		if !t.when.After(now) {
			due = append(due, t)
			continue
		}
		keep = append(keep, t)
	}
	for i := len(keep); i < len(f.timers); i++ {
		f.timers[i] = nil
	}
	f.timers = keep
	for _, t := range due {
		t.active = false
	}
	f.mu.Unlock()
	for _, t := range due {
		select {
		case t.c <- now:
		default:
		}
	}
}

type fakeTimer struct {
	clock  *Fake
	when   time.Time
	c      chan time.Time
	active bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	return t.stopLocked()
}

// stopLocked takes t off the clock's list; f.mu must be held.
func (t *fakeTimer) stopLocked() bool {
	if !t.active {
		return false
	}
	t.active = false
	f := t.clock
	for i, o := range f.timers {
		if o == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			break
		}
	}
	return true
}

// ResetAt rearms t as NewTimerAt arms a new timer, and tells Armed so.
// Like a real timer since Go 1.23, it drops a tick fired and not yet
// received.
func (t *fakeTimer) ResetAt(deadline time.Time) bool {
	f := t.clock
	if hook := f.armHook(); hook != nil {
		hook(deadline)
	}
	f.mu.Lock()
	wasActive := t.stopLocked()
	select {
	case <-t.c:
	default:
	}
	t.armLocked(deadline)
	f.mu.Unlock()
	f.tellArmed()
	return wasActive
}

// armLocked sets t to fire once the fake time reaches when, at once if it
// has; f.mu must be held and t stopped.
func (t *fakeTimer) armLocked(when time.Time) {
	f := t.clock
	t.when = when
	if !when.After(f.now) {
		t.c <- f.now
		return
	}
	t.active = true
	f.timers = append(f.timers, t)
}

// Deadlines returns when each pending timer fires, so a test can tell the
// timer it waits for from others armed meanwhile.
func (f *Fake) Deadlines() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Time, len(f.timers))
	for i, t := range f.timers {
		out[i] = t.when
	}
	return out
}
