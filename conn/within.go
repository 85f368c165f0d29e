package conn

import "context"

// callWithin runs call, user code that need not watch ctx (a Dialer, a
// SASL mechanism's Start or Step), on a goroutine of its own and waits for
// its result or for ctx to end, returning ctx's cause then, as the call
// would if it watched ctx. Code that blocks without one (an SSH tunnel's
// Dial, a token provider's SDK call) would otherwise hold up what must end
// on time: a dial at DialTimeout or RequestTimeout, a dial at the Broker's
// Close, and a re-authentication, which Conn.Close waits for, with the
// connection.
//
// The call left behind runs on, waited for by nobody. What it returns
// without an error after ctx ended goes to discard, if not nil, so that a
// connection made too late is closed rather than leaked; what comes with
// an error is no result (a Dialer's nil *tls.Conn, say). done is
// unbuffered for that: the result is either received here or, once this
// has stopped waiting, discarded, never left in a channel that nobody
// reads.
func callWithin[T any](ctx context.Context, call func() (T, error), discard func(T)) (T, error) {
	type result struct {
		value T
		err   error
	}
	done := make(chan result)
	go func() {
		value, err := call()
		select {
		case done <- result{value, err}:
		case <-ctx.Done():
			if err == nil && discard != nil {
				discard(value)
			}
		}
	}()
	select {
	case r := <-done:
		return r.value, r.err
	case <-ctx.Done():
		var zero T
		return zero, context.Cause(ctx)
	}
}
