package notify

import (
	"testing"
	"time"
)

func TestNotifyWakesEveryWaiterOnce(t *testing.T) {
	var n Notifier
	n.Notify() // nobody waits: nothing to close, nothing breaks
	a, b := n.C(), n.C()
	if a != b {
		t.Fatal("waiters before one Notify must share its channel")
	}
	select {
	case <-a:
		t.Fatal("closed before Notify")
	default:
	}
	n.Notify()
	for _, c := range []<-chan struct{}{a, b} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("Notify did not close the channel")
		}
	}
	select {
	case <-n.C():
		t.Fatal("a channel taken after Notify must wait for the next one")
	default:
	}
}
