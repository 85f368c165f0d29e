package producer

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/partitioner"
)

// A first Close whose ctx ends while a record that waited for its topic is
// inside the user's partitioner returns without it: that record gets its
// outcome when the partitioner returns. A later Close waits for it, as for
// every callback still to run, within its own ctx. Before, a later Close
// waited only for the callbacks already queued, returned at once with the
// first one's error, and the record's callback ran after both Closes had
// returned.
func TestCloseAgainWaitsForTheHeldRecordInThePartitioner(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	var enterOnce, releaseOnce sync.Once
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Partitioner = partitioner.Func(func(*partitioner.Topic, []byte) int32 {
			enterOnce.Do(func() { close(entered) })
			<-release
			return 0
		})
	})
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	blocked := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "late", Value: []byte("v")}, blocked.cb(0))
	require.NoError(t, c.CreateTopic("late", 1))
	receive(t, entered, "the held record never reached the partitioner")

	first := p.Close(ended(errors.New("the first Close's ctx ended")))
	require.ErrorIs(t, first, context.Canceled, "the first Close")
	errSecondCut := errors.New("the second Close's ctx ended")
	require.ErrorIs(t, p.Close(ended(errSecondCut)), errSecondCut,
		"a Close again, its ctx ended, while a record's callback is still to run (the record is in the partitioner)")
	require.False(t, blocked.done(), "the record inside the partitioner has no outcome before it returns")

	releaseOnce.Do(func() { close(release) })
	require.Equal(t, first, p.Close(ctx(t)), "a Close again returns what the first returned")
	require.True(t, blocked.done(), "Close returned before the record from the partitioner had its callback")
	require.ErrorIs(t, blocked.one(t, 0).err, ErrClosed)
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
