package ctxerr

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOfSaysTheCtxsErrorAndItsCause(t *testing.T) {
	shuttingDown := errors.New("shutting down")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	withCause, cancelWithCause := context.WithCancelCause(context.Background())
	cancelWithCause(shuttingDown)
	timedOut, cancelTimedOut := context.WithTimeoutCause(context.Background(), -time.Second, shuttingDown)
	defer cancelTimedOut()

	for _, tc := range []struct {
		name  string
		ctx   context.Context
		text  string
		match []error
	}{
		{"canceled", canceled, "context canceled", []error{context.Canceled}},
		{"canceled with a cause", withCause, "context canceled: shutting down", []error{context.Canceled, shuttingDown}},
		{"timed out with a cause", timedOut, "context deadline exceeded: shutting down", []error{context.DeadlineExceeded, shuttingDown}},
	} {
		err := Of(tc.ctx)
		if err == nil || err.Error() != tc.text {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.text)
		}
		for _, target := range tc.match {
			if !errors.Is(err, target) {
				t.Errorf("%s: %v does not match %v", tc.name, err, target)
			}
		}
	}
	if err := Of(context.Background()); err != nil {
		t.Errorf("a ctx not ended: %v", err)
	}
}
