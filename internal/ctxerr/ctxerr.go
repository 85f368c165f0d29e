// Package ctxerr says why a caller's context ended, in the error of a call
// it ended: the one rule for every such error the producer returns.
package ctxerr

import (
	"context"
	"fmt"
)

// Of is the error of a call whose ctx ended: ctx's error
// (context.Canceled or context.DeadlineExceeded), which callers' errors.Is
// and the producer's ErrorName look for, and beside it the cause ctx was
// given (context.WithCancelCause, WithTimeoutCause), if it was given one.
// Either alone loses something: ctx.Err() the caller's reason, the cause
// the match on context.Canceled. It is nil while ctx has not ended.
func Of(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}
