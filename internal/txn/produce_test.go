package txn

import (
	"context"
	"errors"
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

// A Produce call that found the transaction taking records, and is
// counted only once a commit or an abort has begun and looked at the
// count, is refused when it reads the state again: the end did not wait
// for it, and appended after the end, the record would go into whatever
// transaction is open next. The test makes the call from between its two
// reads (enterChecked): no goroutine can be held there, as the first read
// takes no lock. The end is held in its state by a record admitted before
// it; once that one is done, the end finishes, the refused call not
// counted.
func TestAProduceCountedOnlyOnceTheEndLookedIsRefused(t *testing.T) {
	ends := []struct {
		name  string
		end   func(*Manager, context.Context) error
		state State
	}{
		{"commit", (*Manager).Commit, Committing},
		{"abort", (*Manager).Abort, Aborting},
	}
	for _, e := range ends {
		t.Run(e.name, func(t *testing.T) {
			r := initialized(t, false)
			require.NoError(t, r.m.EnterProduce()) // holds the end in its state
			ended := make(chan error, 1)
			go func() { ended <- e.end(r.m, context.Background()) }()
			require.Eventually(t, func() bool { return r.state() == e.state }, waitTime, time.Millisecond)

			require.ErrorIs(t, r.m.enterChecked(), ErrState, "a call counted once the %s began", e.name)
			r.m.ExitProduce()
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
		for _, g := range strings.Split(bounded.Stacks(), "\n\n") {
			if strings.Contains(g, "[sync.Mutex.Lock") && strings.Contains(g, fn) {
				return true
			}
		}
		return false
	}, waitTime, time.Millisecond, "no goroutine waits for a mutex in %s", fn)
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

// A record admitted inside the transaction but still on its way into the
// accumulator when Commit begins (it waits for buffer memory, which the
// commit's flush frees) belongs to the transaction: Commit waits for it and
// flushes again before it ends the transaction. Before, the record was
// appended after Commit's only flush and left to the next transaction. The
// record stays in its Produce until Commit either waits for it or flushes
// again: no moment the test picks decides which, so a Commit that went on
// without it is caught every time, not only when it was quick.
func TestCommitWaitsForARecordStillBeingProduced(t *testing.T) {
	r := initialized(t, false)
	r.addedToTheTransaction(false)
	require.NoError(t, r.m.EnterProduce())
	committed := make(chan error, 1)
	commitCtx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	go func() { committed <- r.m.Commit(commitCtx) }()

	flushes := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.flushed
	}
	require.Eventually(t, func() bool { return r.m.awaitingProduce.Load() || flushes() > 1 },
		waitTime, time.Millisecond, "Commit neither waited for the record nor flushed again")
	require.Equal(t, 1, flushes(), "Commit flushed again while a record of its transaction was still being produced")
	require.ErrorIs(t, r.m.EnterProduce(), ErrState, "no record is admitted once the commit began")
	select {
	case err := <-committed:
		t.Fatalf("Commit returned (%v) while a record of its transaction was still being produced", err)
	default:
	}
	r.m.ExitProduce() // the record is appended
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return once the record was appended"))
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, 2, r.flushed, "a second flush sends the record appended after the first")
	require.Equal(t, 1, r.ended)
}

// A record admitted inside the transaction but still on its way into the
// accumulator when Abort begins (waiting for memory, or about to be held
// for its topic's metadata) belongs to the aborted transaction: Abort
// fails the held records, waits for it, and fails those held again, so
// that what it appended or held fails too. Before, Abort did not wait: the
// record was appended after the abort ended, into the next transaction,
// and committed with it.
func TestAbortWaitsForARecordStillBeingProduced(t *testing.T) {
	r := initialized(t, false)
	require.NoError(t, r.m.EnterProduce())
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()

	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.aborted) == 1
	}, waitTime, time.Millisecond, "the abort failing the batches")
	require.ErrorIs(t, r.m.EnterProduce(), ErrState, "no record is admitted once the abort began")
	select {
	case err := <-aborted:
		t.Fatalf("Abort returned (%v) while a record of its transaction was still being produced", err)
	default:
	}
	r.mu.Lock()
	require.Equal(t, []error{ErrAborted}, r.heldFails, "the held records fail before the abort waits")
	r.mu.Unlock()
	r.m.ExitProduce() // the record is appended, or held
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort did not return"))
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Equal(t, []error{ErrAborted, ErrAborted}, r.heldFails, "what was held meanwhile fails too")
	require.Equal(t, 1, r.ended)
}

// A record held for its topic's metadata enters its transaction again as
// it is appended (EnterHeld), and only the transaction Produce admitted it
// to, while that transaction takes records. Before, a held record of an
// aborted transaction was appended into whatever transaction was open by
// then.
func TestEnterHeldAdmitsARecordToItsOwnTransactionOnly(t *testing.T) {
	r := initialized(t, false)
	gen := r.m.Generation()
	require.NoError(t, r.m.EnterHeld(gen))
	r.m.ExitProduce()

	require.NoError(t, r.m.EnterProduce()) // holds the abort in Aborting
	aborted := make(chan error, 1)
	go func() { aborted <- r.m.Abort(context.Background()) }()
	require.Eventually(t, func() bool { return r.state() == Aborting }, waitTime, time.Millisecond)
	require.ErrorIs(t, r.m.EnterHeld(gen), ErrAborted, "while its transaction is being aborted")
	r.m.ExitProduce()
	require.NoError(t, bounded.Receive(t, aborted, waitTime, "Abort did not return"))

	require.NoError(t, r.m.Begin())
	require.ErrorIs(t, r.m.EnterHeld(gen), ErrAborted, "in the next transaction")
	require.NoError(t, r.m.EnterHeld(r.m.Generation()), "a record held in the next transaction")
	r.m.ExitProduce()
	require.NoError(t, r.m.Commit(context.Background()), "no record is left counted")
}
