package txn

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
)

// A Produce call refused once a commit or an abort has begun does not hold
// it up. EnterProduce counted every call before it read the state, and the
// end waits until the count is zero when it looks: a refused call still
// between the two counted as a record of the transaction. With goroutines
// calling Produce in a loop one always was, and Commit and Abort failed at
// their ctx saying records produced before they began were still being
// appended. Here one refused call is held between its start and its
// refusal (the refusal reads the state under the manager's lock, which the
// test holds) while the end looks, from a point the end reaches only after
// that look: the commit's second flush, the abort's second failing of the
// held records.
func TestAProduceRefusedOnceTheEndBeganDoesNotHoldItUp(t *testing.T) {
	ends := []struct {
		name string
		end  func(*Manager, context.Context) error
		// during sets the rig's hook that the end runs once before it
		// waits for the Produce calls admitted before it, and once after.
		during func(r *rig, f func())
	}{
		{"commit", (*Manager).Commit, func(r *rig, f func()) { r.duringFlush = f }},
		{"abort", (*Manager).Abort, func(r *rig, f func()) { r.duringFailHeld = f }},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			r := initialized(t, false)
			begun, resume, pastWait := make(chan struct{}), make(chan struct{}), make(chan struct{})
			calls := 0 // the end's goroutine alone runs the hook
			r.mu.Lock()
			e.during(r, func() {
				calls++
				switch calls {
				case 1:
					close(begun)
					<-resume
				case 2:
					close(pastWait)
				}
			})
			r.mu.Unlock()
			ended := make(chan error, 1)
			go func() { ended <- e.end(r.m, context.Background()) }()
			bounded.Receive(t, begun, waitTime, "the "+e.name+" did not begin")

			r.m.mu.Lock()
			refused := make(chan error, 1)
			go func() { refused <- r.m.EnterProduce() }()
			awaitBlockedOnAMutexIn(t, "txn.(*Manager).EnterProduce(")
			close(resume)
			timer := time.NewTimer(waitTime)
			defer timer.Stop()
			heldUp := false
			select {
			case <-pastWait:
			case <-timer.C:
				heldUp = true
			}
			r.m.mu.Unlock()
			require.False(t, heldUp, "the %s waited (%v) for a Produce call refused after it began", e.name, waitTime)
			require.ErrorIs(t, bounded.Receive(t, refused, waitTime, "EnterProduce did not return"), ErrState)
			require.NoError(t, bounded.Receive(t, ended, waitTime, "the "+e.name+" did not return"))
		})
	}
}

// awaitBlockedOnAMutexIn waits until a goroutine waits for a sync.Mutex
// with fn on its stack (as a stack dump spells it), failing t if none does
// within waitTime.
func awaitBlockedOnAMutexIn(t *testing.T, fn string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, g := range strings.Split(allStacks(), "\n\n") {
			if strings.Contains(g, "[sync.Mutex.Lock") && strings.Contains(g, fn) {
				return true
			}
		}
		return false
	}, waitTime, time.Millisecond, "no goroutine waits for a mutex in %s", fn)
}

// allStacks is every goroutine's stack, as a panic prints them.
func allStacks() string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
