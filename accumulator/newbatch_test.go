package accumulator

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// Goroutines that find their partition without an open batch at the same
// time start one batch between them: the first takes its memory and the
// others append to it. Each taking a buffer of its own, to give it back on
// finding the batch started, took memory that no batch needed: hundreds of
// buffers at once with thousands of goroutines producing, which raised the
// process's resident memory by up to BufferMemory and failed records that
// may not wait for memory (or whose MaxBlock ended) though there was room
// for them. Here one batch's memory is free and sixty-four goroutines,
// started together, append a record each that may not wait: one batch
// holds them all, so none may fail. How many find the partition without a
// batch together is the scheduler's doing, so the test runs many rounds;
// with the memory taken outside the partition's lock, some failed in every
// run of it.
func TestGoroutinesStartingABatchTogetherTakeOneBuffer(t *testing.T) {
	const goroutines, rounds = 64, 50
	for round := range rounds {
		h := newHarness(t, nil)
		for h.pool.Available() > h.acc.cfg.BatchSize {
			_, err := h.pool.Allocate(context.Background(), h.acc.cfg.BatchSize, 0)
			require.NoError(t, err)
		}
		start := make(chan struct{})
		appended := make(chan error, goroutines)
		for id := range goroutines {
			go func() {
				<-start
				_, err := h.acc.Append(context.Background(), tp0, nil, &Record{Data: record.Data{Value: []byte("v")}, Callback: id, NoWait: true})
				appended <- err
			}()
		}
		close(start)
		for range goroutines {
			require.NoError(t, receive(t, appended, "an append did not return"),
				"round %d: a record failed for want of memory while the batch another goroutine started had room for it", round)
		}
		require.Equal(t, 0, h.pool.Available(), "round %d: memory went missing", round)
	}
}
