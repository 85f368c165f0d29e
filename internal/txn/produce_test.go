package txn

import (
	"context"
	"errors"
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

// A record whose admission Produce ended while its hooks ran enters its
// transaction again after them (EnterAfterHooks) only while that
// transaction takes records and has not begun to end: nothing waited for
// the record, so a commit or an abort begun meanwhile may have gone past
// it, and the transaction open next is not its own. In an abortable
// transaction it is admitted, and the abort fails it. Unlike a held
// record (EnterHeld), which a commit waits for, it is refused once a
// commit has begun. Before, Produce admitted it with EnterProduce, to
// whatever transaction was open by then.
func TestEnterAfterHooksAdmitsARecordToItsOwnTransactionOnlyUntilItBeginsToEnd(t *testing.T) {
	r := initialized(t, false)
	gen := r.m.Generation()
	require.NoError(t, r.m.EnterAfterHooks(gen), "in its transaction")
	r.m.ExitProduce()

	require.NoError(t, r.m.EnterProduce()) // holds the commit in Committing
	committed := make(chan error, 1)
	go func() { committed <- r.m.Commit(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Committing }, waitTime, time.Millisecond)
	require.ErrorIs(t, r.m.EnterAfterHooks(gen), ErrAborted, "while its transaction commits")
	require.NoError(t, r.m.EnterHeld(gen), "a held record, which the commit waits for")
	r.m.ExitProduce()
	r.m.ExitProduce()
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return"))

	require.NoError(t, r.m.Begin())
	require.ErrorIs(t, r.m.EnterAfterHooks(gen), ErrAborted, "in the next transaction")
	gen = r.m.Generation()
	r.m.RecordRejected(tp0, errors.New("a record too large"))
	require.Equal(t, AbortableError, r.state())
	require.NoError(t, r.m.EnterAfterHooks(gen), "in an abortable transaction") // holds the abort in Aborting
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Aborting }, waitTime, time.Millisecond)
	require.ErrorIs(t, r.m.EnterAfterHooks(gen), ErrAborted, "while its transaction is being aborted")
	r.m.ExitProduce()
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort did not return"))
	require.NoError(t, r.m.Begin())
	require.NoError(t, r.m.Commit(context.Background()), "no record is left counted")
}

// An end whose ctx ends while a record admitted before it is still being
// appended counts that record in the singular; it read "1 records ... are
// still being appended".
func TestAnEndWaitingForOneRecordSaysSoInTheSingular(t *testing.T) {
	r := initialized(t, false)
	require.NoError(t, r.m.EnterProduce()) // and never leaves
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := r.m.Abort(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "1 record produced before the transaction began to end is still being appended")
}
