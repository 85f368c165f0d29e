// Package notify wakes every goroutine waiting for "something changed"
// without a lock held while they wait: waiters take a channel, and Notify
// closes it. The channel is made only when someone waits, so notifying
// nobody costs a mutex and nothing else, which keeps it fit for paths that
// run per batch.
//
// A waiter must take the channel before it checks its condition (under the
// same lock as the change it waits for), or a change between the check and
// the wait would go unnoticed.
package notify

import "sync"

// Notifier is a reusable broadcast; its zero value is ready to use.
type Notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

// C returns a channel closed by the next Notify.
func (n *Notifier) C() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// Notify wakes everyone waiting on a channel from C.
func (n *Notifier) Notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}
