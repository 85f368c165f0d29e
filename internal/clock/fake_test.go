package clock

import (
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
)

// TestFakeTimerResetAt holds ResetAt to a real timer's Reset contract
// since Go 1.23: it moves an active timer's deadline, rearms a fired one
// without leaving its old tick to be received, and tells Armed each time.
func TestFakeTimerResetAt(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	f := NewFake(start)
	timer := f.NewTimer(time.Second)
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")

	if !timer.ResetAt(start.Add(3 * time.Second)) {
		t.Error("ResetAt of an active timer reports it inactive")
	}
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")
	f.Advance(2 * time.Second)
	select {
	case <-timer.C():
		t.Fatal("fired at its first deadline after ResetAt moved it")
	default:
	}
	f.Advance(time.Second)
	select {
	case <-timer.C():
	default:
		t.Fatal("did not fire at the deadline ResetAt set")
	}

	timer.ResetAt(f.Now().Add(time.Second))
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")
	f.Advance(time.Second) // fires; the tick is left in the channel
	// Fired and not received, then rearmed: the old tick must be gone.
	if timer.ResetAt(f.Now().Add(time.Second)) {
		t.Error("ResetAt of a fired timer reports it active")
	}
	select {
	case <-timer.C():
		t.Fatal("a tick from before ResetAt was received after it")
	default:
	}
	if n := f.Timers(); n != 1 {
		t.Errorf("%d timers pending after ResetAt, want 1", n)
	}
	if !timer.Stop() || f.Timers() != 0 {
		t.Errorf("Stop after ResetAt: pending %d, want 0", f.Timers())
	}
}

// TestATimerArmedAtADeadlineIsNotDelayedByAnAdvanceBeforeItsArming moves
// the clock, in BeforeArm, between the caller's reading of Now and the
// arming, as a test's Advance on another goroutine may: a timer armed at
// the deadline fires when the clock reaches it (at once, if it has), where
// one armed with the duration the caller computed fires that Advance late,
// and, the clock moving no more, never.
func TestATimerArmedAtADeadlineIsNotDelayedByAnAdvanceBeforeItsArming(t *testing.T) {
	arm := map[string]func(f *Fake, deadline time.Time) Timer{
		"NewTimerAt": func(f *Fake, deadline time.Time) Timer { return f.NewTimerAt(deadline) },
		"ResetAt": func(f *Fake, deadline time.Time) Timer {
			timer := f.NewTimerAt(deadline.Add(time.Hour))
			timer.ResetAt(deadline)
			return timer
		},
	}
	for name, arm := range arm {
		t.Run(name, func(t *testing.T) {
			for _, step := range []time.Duration{time.Second, 400 * time.Millisecond} {
				f := NewFake(time.Unix(1_700_000_000, 0))
				deadline := f.Now().Add(time.Second)
				f.BeforeArm(func(at time.Time) {
					if at.Equal(deadline) {
						f.Advance(step)
					}
				})
				timer := arm(f, deadline)
				f.BeforeArm(nil)
				if step < time.Second {
					select {
					case <-timer.C():
						t.Fatalf("an Advance of %v before the arming: fired before its deadline", step)
					default:
					}
					f.Advance(time.Second - step)
				}
				select {
				case at := <-timer.C():
					if !at.Equal(deadline) {
						t.Errorf("an Advance of %v before the arming: fired at %v, want %v", step, at, deadline)
					}
				default:
					t.Fatalf("an Advance of %v before the arming: did not fire at its deadline; armed for %v", step, f.Deadlines())
				}
			}
		})
	}

	// What the deadline saves: the duration computed before the Advance
	// counts from after it.
	f := NewFake(time.Unix(1_700_000_000, 0))
	d := f.Now().Add(time.Second).Sub(f.Now())
	f.BeforeArm(func(time.Time) { f.Advance(time.Second) })
	timer := f.NewTimer(d)
	select {
	case <-timer.C():
		t.Fatal("NewTimer with an Advance before its arming fired at the deadline its caller meant")
	default:
	}
}

// TestRealTimerAtADeadlinePassedFiresAtOnce: the real clock converts the
// deadline with time.Until, and one already passed fires at once.
func TestRealTimerAtADeadlinePassedFiresAtOnce(t *testing.T) {
	timer := Real{}.NewTimerAt(time.Now().Add(-time.Hour))
	bounded.Receive(t, timer.C(), time.Second, "NewTimerAt a passed deadline did not fire")
	timer.ResetAt(time.Now())
	bounded.Receive(t, timer.C(), time.Second, "ResetAt a passed deadline did not fire")
}
