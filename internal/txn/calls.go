package txn

import (
	"context"
	"fmt"

	"github.com/gokafka/producer/internal/ctxerr"
)

// callLock lets the manager's API calls run one at a time. A call may hold
// it for long (a commit waits for every record's outcome, then retries
// EndTxn against a coordinator that may be gone), so a caller waits for it
// no longer than its own ctx: a sync.Mutex would keep Close, or an abort
// called from a record's callback while a commit waits for that very
// callback, waiting past theirs.
type callLock chan struct{}

func newCallLock() callLock { return make(chan struct{}, 1) }

// lock takes the lock, waiting until ctx ends at the longest; a free lock is
// taken whatever ctx says, so that a call whose ctx has ended still gets as
// far as it would alone. call names the caller in the error.
func (l callLock) lock(ctx context.Context, call string) error {
	select {
	case l <- struct{}{}:
		return nil
	default:
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: another transaction call is under way: %w", call, ctxerr.Of(ctx))
	}
}

// tryLock takes the lock if it is free.
func (l callLock) tryLock() bool {
	select {
	case l <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l callLock) unlock() { <-l }
