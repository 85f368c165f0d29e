// Package testdeadline gives tests a context whose deadline passes when the
// test says, not when a timer fires: a test then puts the deadline's passing
// at the point it means, in every schedule, where a real timer on a loaded
// machine could fire before or after that point.
package testdeadline

import (
	"context"
	"sync"
	"time"
)

// Ctx is a context whose Done is closed, and whose Err is
// context.DeadlineExceeded, once Pass is called, as a timer's would be.
// Its Deadline is the time it was made with, if not zero: code under test
// may act on that time itself, as a fetch that takes its caller's deadline
// does.
type Ctx struct {
	context.Context // Value, of Background
	at              time.Time
	done            chan struct{}
	once            sync.Once
}

// New returns a Ctx whose Deadline reports at, or none if at is zero.
func New(at time.Time) *Ctx {
	return &Ctx{Context: context.Background(), at: at, done: make(chan struct{})}
}

// Pass makes the deadline pass. Calling it again does nothing.
func (c *Ctx) Pass() { c.once.Do(func() { close(c.done) }) }

// Deadline is the time New was given.
func (c *Ctx) Deadline() (time.Time, bool) { return c.at, !c.at.IsZero() }

// Done is closed by Pass.
func (c *Ctx) Done() <-chan struct{} { return c.done }

// Err is context.DeadlineExceeded once Pass was called, nil before.
func (c *Ctx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}
