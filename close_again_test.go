package producer

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

// A first Close whose ctx ends while a record that waited for its topic is
// inside the user's partitioner returns without it: that record gets its
// outcome when the partitioner returns. A later Close waits for it, as for
// every callback still to run, within its own ctx. Before, a later Close
// waited only for the callbacks already queued, returned at once with the
// first one's error, and the record's callback ran after both Closes had
// returned. The later Close is let go only once it waits on its ctx: had it
// returned instead, with the callbacks the first left all run, it would
// have returned before the record had its outcome.
func TestCloseAgainWaitsForTheHeldRecordInThePartitioner(t *testing.T) {
	p, blocked, release, first := closedWithAHeldRecordInThePartitioner(t)

	cctx := bounded.NewWaitedOn(ctx(t))
	closed := make(chan error, 1)
	go func() { closed <- p.Close(cctx) }()
	select {
	case err := <-closed:
		t.Fatalf("a Close again returned (%v) while the record was inside the partitioner", err)
	case <-cctx.Asked():
	case <-time.After(waitFor):
		t.Fatalf("a Close again neither returned nor waited within %v", waitFor)
	}
	require.False(t, blocked.done(), "the record inside the partitioner has no outcome before it returns")

	release()
	require.Equal(t, first, receive(t, closed, "a Close again, once the partitioner returned"),
		"a Close again returns what the first returned")
	require.True(t, blocked.done(), "Close returned before the record from the partitioner had its callback")
	require.ErrorIs(t, blocked.one(t, 0).err, ErrClosed)
}

// A later Close whose ctx ends while the record is still inside the
// partitioner says so, and why it stopped waiting: not the first Close's
// outcome, which would say nothing of a callback still to run.
func TestCloseAgainWhoseCtxEndsSaysARecordIsStillBeingAppended(t *testing.T) {
	p, blocked, release, first := closedWithAHeldRecordInThePartitioner(t)

	errSecondCut := errors.New("the second Close's ctx ended")
	err := p.Close(ended(errSecondCut))
	require.ErrorIs(t, err, errSecondCut)
	require.ErrorIs(t, err, context.Canceled)
	require.EqualError(t, err, "producer: close: a record that waited for metadata is still being appended: "+
		"context canceled: the second Close's ctx ended")
	require.False(t, blocked.done(), "the record inside the partitioner has no outcome before it returns")

	release()
	require.Equal(t, first, p.Close(ctx(t)), "a Close again, once the partitioner returned")
	require.ErrorIs(t, blocked.one(t, 0).err, ErrClosed)
}

// closedWithAHeldRecordInThePartitioner is a producer whose first Close, its
// ctx ended, returned while a record that waited for its topic was
// inside the user's partitioner, which returns once release is called. The
// callbacks that Close left have all run since: a later Close finds no
// callback queued, and has only that record to wait for.
func closedWithAHeldRecordInThePartitioner(t *testing.T) (p *Producer, blocked *outcomes, release func(), first error) {
	t.Helper()
	c := startCluster(t, fakebroker.Options{})
	entered, released := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	p = newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(*partitioner.Topic, []byte) int32 {
			enterOnce.Do(func() { close(entered) })
			<-released
			return 0
		})
	})
	release = func() { releaseOnce.Do(func() { close(released) }) }
	t.Cleanup(release) // before the producer's Close, which waits for the record
	blocked = newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("v")}, blocked.cb(0))
	require.NoError(t, c.CreateTopic("late", 1))
	receive(t, entered, "the held record never reached the partitioner")

	first = p.Close(ended(errors.New("the first Close's ctx ended")))
	require.ErrorIs(t, first, context.Canceled, "the first Close")
	// The first Close gave up on the callbacks too: the delivery goroutine
	// may still be about to stop, and a later Close that waits for it
	// would seem to wait for the record.
	require.NoError(t, p.acc.Close(ctx(t)), "the callbacks the first Close left")
	require.False(t, blocked.done(), "the record inside the partitioner has no outcome before it returns")
	return p, blocked, release, first
}

// ended is a context that has ended with cause.
func ended(cause error) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	return ctx
}

// A Close made again with its ctx already ended, after a first Close that
// left nothing to wait for, returns what the first returned, as a deferred
// Close beside an explicit one must. Its wait for the drains of held
// records, added for the case above, raced a goroutine it had just started
// against the ended ctx, and lost nearly every time: "a record that waited
// for metadata is still being appended", with no record ever held.
func TestCloseAgainWithItsCtxEndedAfterAFirstThatLeftNothingReturnsTheFirstsOutcome(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	for range 20 {
		p := newProducer(t, c, nil)
		require.NoError(t, p.Close(ctx(t)), "the first Close")
		require.NoError(t, p.Close(ended(errors.New("the deferred Close's ctx ended"))), "a Close made again")
	}
}
