package bufferpool

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrTimeout is wrapped by the *WaitError of a caller that got no
	// memory within maxWait. The producer re-exports it as ErrBufferFull.
	ErrTimeout = errors.New("buffer full")
	// ErrClosed is returned when the pool is closed before or while a caller
	// waits.
	ErrClosed = errors.New("bufferpool: closed")
	// ErrTooLarge is returned at once, wrapped with both sizes, for a
	// request larger than the pool's total memory: waiting could never
	// satisfy it.
	ErrTooLarge = errors.New("bufferpool: request larger than total memory")
)

// WaitError is why a caller got no memory: its wait ran out (Err is
// ErrTimeout) or its context ended first (Err is the context's error). It
// carries the figures, so that the producer can say it in its user's words.
type WaitError struct {
	Size      int           // bytes asked for
	MaxWait   time.Duration // the longest wait allowed
	Total     int           // the pool's total memory
	Available int           // bytes free when the caller gave up
	Err       error
}

func (e *WaitError) Error() string {
	if e.Err == ErrTimeout {
		return fmt.Sprintf("bufferpool: %v: %d bytes not available within %v (total memory %d bytes, %d available)",
			e.Err, e.Size, e.MaxWait, e.Total, e.Available)
	}
	return fmt.Sprintf("bufferpool: waiting for %d bytes: %v", e.Size, e.Err)
}

func (e *WaitError) Unwrap() error { return e.Err }
