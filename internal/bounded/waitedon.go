package bounded

import (
	"context"
	"sync"
)

// WaitedOn is a context that tells when its Done is first called: a call
// that selects on ctx.Done() only once it has found something to wait for
// (a Flush, an AwaitBatches) has begun to wait by then. A test that checks
// such a call has not returned yet checks after Asked, not at a moment the
// call may not have reached.
type WaitedOn struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

// NewWaitedOn wraps ctx.
func NewWaitedOn(ctx context.Context) *WaitedOn {
	return &WaitedOn{Context: ctx, asked: make(chan struct{})}
}

// Done is ctx's Done, telling Asked the first time.
func (c *WaitedOn) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// Asked is closed once Done has been called.
func (c *WaitedOn) Asked() <-chan struct{} { return c.asked }
