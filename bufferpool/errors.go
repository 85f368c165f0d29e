package bufferpool

import "errors"

var (
	// ErrTimeout is returned, wrapped with the sizes and the wait, when
	// memory could not be had within maxWait. The producer re-exports it as
	// ErrBufferFull.
	ErrTimeout = errors.New("bufferpool: timed out waiting for memory")
	// ErrClosed is returned when the pool is closed before or while a caller
	// waits.
	ErrClosed = errors.New("bufferpool: closed")
	// ErrTooLarge is returned at once, wrapped with both sizes, for a
	// request larger than the pool's total memory: waiting could never
	// satisfy it.
	ErrTooLarge = errors.New("bufferpool: request larger than total memory")
)
