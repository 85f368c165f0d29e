package clock

import (
	"testing"
	"time"

	"github.com/gokafka/producer/internal/bounded"
)

// TestFakeTimerReset holds Reset to a real timer's contract since Go 1.23:
// it moves an active timer's deadline, rearms a fired one without leaving
// its old tick to be received, and tells Armed each time.
func TestFakeTimerReset(t *testing.T) {
	f := NewFake(time.Unix(1_700_000_000, 0))
	timer := f.NewTimer(time.Second)
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")

	if !timer.Reset(3 * time.Second) {
		t.Error("Reset of an active timer reports it inactive")
	}
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")
	f.Advance(2 * time.Second)
	select {
	case <-timer.C():
		t.Fatal("fired at its first deadline after Reset moved it")
	default:
	}
	f.Advance(time.Second)
	select {
	case <-timer.C():
	default:
		t.Fatal("did not fire at the deadline Reset set")
	}

	timer.Reset(time.Second)
	bounded.Receive(t, f.Armed(), time.Second, "the timer did not tell Armed")
	f.Advance(time.Second) // fires; the tick is left in the channel
	// Fired and not received, then rearmed: the old tick must be gone.
	if timer.Reset(time.Second) {
		t.Error("Reset of a fired timer reports it active")
	}
	select {
	case <-timer.C():
		t.Fatal("a tick from before Reset was received after it")
	default:
	}
	if n := f.Timers(); n != 1 {
		t.Errorf("%d timers pending after Reset, want 1", n)
	}
	if !timer.Stop() || f.Timers() != 0 {
		t.Errorf("Stop after Reset: pending %d, want 0", f.Timers())
	}
}
