package txn

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
)

// A call that finds another under way waits for it no longer than its own
// ctx: Close, or an abort from a record's callback while a commit waits for
// that very callback, must not wait out the commit (here, an EndTxn the
// coordinator holds). Begin, which has no ctx, does not wait.
func TestACallWaitsForAnotherNoLongerThanItsCtx(t *testing.T) {
	r := initialized(t, true)
	require.True(t, r.admit(tp0))
	g, committed := r.commitHeldAtEndTxn(t, context.Background())

	ended, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"Abort": func() error { return r.m.Abort(ended) },
		"Close": func() error { return r.m.Close(ended) },
		"SendOffsets": func() error {
			return r.m.SendOffsets(ended, []Offset{{Topic: "in", Offset: 1, LeaderEpoch: -1}}, Group{ID: "g"})
		},
		"Init": func() error { return r.m.Init(ended) },
	}
	for name, call := range calls {
		returned := make(chan error, 1)
		go func() { returned <- call() }()
		select {
		case err := <-returned:
			require.ErrorIs(t, err, context.Canceled, "%s while a commit is under way", name)
		case <-time.After(waitTime):
			t.Fatalf("%s waited for the commit under way past its ctx", name)
		}
	}
	// A call whose ctx is alive waits, until its ctx ends. (A call that
	// did not wait would return within the pause; one that waits never
	// does, however slow the machine.)
	live, endLive := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { waiting <- r.m.Abort(live) }()
	select {
	case err := <-waiting:
		t.Fatalf("Abort returned while the commit was under way and its ctx alive: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	endLive()
	require.ErrorIs(t, bounded.Receive(t, waiting, waitTime, "Abort waited for the commit under way past its ctx"), context.Canceled, "Abort, its ctx ended while it waited")

	returned := make(chan error, 1)
	go func() { returned <- r.m.Begin() }()
	require.ErrorIs(t, bounded.Receive(t, returned, waitTime, "Begin waited for the commit under way"), ErrState, "Begin while a commit is under way")

	close(g.open)
	require.NoError(t, bounded.Receive(t, committed, waitTime, "Commit did not return after its EndTxn's answer"))
	require.Equal(t, Ready, r.state(), "the commit went on undisturbed")
	require.NoError(t, r.m.Begin())
}
