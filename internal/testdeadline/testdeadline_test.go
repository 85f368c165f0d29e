package testdeadline

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTheDeadlinePassesAtPassAlone(t *testing.T) {
	at := time.Now().Add(-time.Hour) // long past: only Pass may end it
	c := New(at)
	if d, ok := c.Deadline(); !ok || !d.Equal(at) {
		t.Fatalf("Deadline = %v, %v; want %v, true", d, ok, at)
	}
	select {
	case <-c.Done():
		t.Fatal("Done closed before Pass")
	default:
	}
	if err := c.Err(); err != nil {
		t.Fatalf("Err before Pass = %v", err)
	}
	c.Pass()
	c.Pass()
	<-c.Done()
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after Pass = %v, want context.DeadlineExceeded", err)
	}
	if _, ok := New(time.Time{}).Deadline(); ok {
		t.Fatal("a Ctx made with the zero time reports a deadline")
	}
}
