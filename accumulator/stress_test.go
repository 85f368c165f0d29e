package accumulator

import (
	"context"
	"errors"
	"math/rand"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/record"
)

// Goroutines appending to two partitions through a pool of four batches,
// while the test drains and completes batches, lets MaxBlock pass and
// disrupts the accumulator once midway, keep Append's promises: a record
// appended gets exactly one outcome and a record refused none, one
// goroutine's records of a partition are acknowledged in its order, and
// every byte of memory comes back. Memory is short throughout, so every
// way of starting a batch runs: memory free at once, a wait, the second
// look once MaxBlock has passed, records that may not wait, and records
// larger than a batch. The interleavings are the scheduler's; the
// promises hold in every one.
func TestConcurrentAppendsUnderMemoryPressureKeepEveryPromise(t *testing.T) {
	seeds := int64(10)
	if testing.Short() {
		seeds = 2
	}
	for _, disruption := range []string{"none", "abort", "fatal", "transaction abort", "stopped waits"} {
		t.Run(disruption, func(t *testing.T) {
			for seed := range seeds {
				appendUnderPressure(t, seed, disruption)
			}
		})
	}
}

// appended is one Append's result in appendUnderPressure: record id,
// appended to tp, or refused with err.
type appended struct {
	id  int
	tp  TopicPartition
	err error
}

func appendUnderPressure(t *testing.T, seed int64, disruption string) {
	const goroutines, perGoroutine = 16, 50
	rng := rand.New(rand.NewSource(seed))
	h := newHarness(t, func(c *Config) {
		c.MaxBlock = 20 * time.Millisecond
		c.DeliveryTimeout = time.Hour
		c.Pool = bufferpool.New(4*c.BatchSize, c.BatchSize, c.Clock)
	})
	total := h.pool.Available()
	parts := []TopicPartition{part(0), part(1)}

	results := make([][]appended, goroutines)
	var appenders sync.WaitGroup
	for g := range goroutines {
		own := rand.New(rand.NewSource(rng.Int63()))
		appenders.Go(func() {
			for seq := range perGoroutine {
				size := 20 + own.Intn(300)
				if own.Intn(100) < 5 {
					size = 1200 + own.Intn(1500) // larger than a batch
				}
				r := &Record{Data: record.Data{Value: make([]byte, size)}, Callback: g*perGoroutine + seq, NoWait: own.Intn(100) < 15}
				tp := parts[own.Intn(len(parts))]
				_, err := h.acc.Append(context.Background(), tp, nil, r)
				results[g] = append(results[g], appended{id: r.Callback.(int), tp: tp, err: err})
			}
		})
	}
	done := make(chan struct{})
	go func() { appenders.Wait(); close(done) }()

	offsets := map[TopicPartition]int64{}
	drainAndComplete := func() int {
		bs, _ := h.drain(parts, 1<<20)
		for _, b := range bs {
			if rng.Intn(100) < 5 {
				h.acc.Complete(b, -1, -1, errors.New("CORRUPT_MESSAGE"))
				continue
			}
			n := int64(b.Records()) // before Complete hands b back
			h.acc.Complete(b, offsets[b.TP], -1, nil)
			offsets[b.TP] += n
		}
		return len(bs)
	}
	disruptAt := 5 + rng.Intn(200)
	deadline := time.Now().Add(waitTime)
	for step := 0; ; step++ {
		select {
		case <-done:
		default:
			require.False(t, time.Now().After(deadline), "seed %d, %s: appends still under way after %v (pool: %d bytes free, %d waiting)",
				seed, disruption, waitTime, h.pool.Available(), h.pool.Waiters())
			drainAndComplete()
			if step%3 == 0 {
				h.clk.Advance(time.Millisecond)
			}
			disrupt(h, disruption, step-disruptAt)
			runtime.Gosched()
			continue
		}
		break
	}
	h.acc.BeginClose() // everything left is ready
	for h.acc.Incomplete() > 0 {
		require.False(t, time.Now().After(deadline), "seed %d, %s: %d batches left incomplete", seed, disruption, h.acc.Incomplete())
		if drainAndComplete() == 0 {
			h.clk.Advance(time.Millisecond)
			runtime.Gosched()
		}
	}
	h.sync()

	h.mu.Lock()
	defer h.mu.Unlock()
	for g := range results {
		acked := map[TopicPartition]int64{}
		for _, a := range results[g] {
			outcomes := h.results[a.id]
			if a.err != nil {
				require.Empty(t, outcomes, "seed %d, %s: record %d was refused (%v), yet got an outcome", seed, disruption, a.id, a.err)
				continue
			}
			require.Len(t, outcomes, 1, "seed %d, %s: outcomes of record %d", seed, disruption, a.id)
			if outcomes[0].Err != nil {
				continue
			}
			if last, ok := acked[a.tp]; ok {
				require.Greater(t, outcomes[0].Offset, last, "seed %d, %s: record %d of goroutine %d acknowledged out of its order on %v", seed, disruption, a.id, g, a.tp)
			}
			acked[a.tp] = outcomes[0].Offset
		}
	}
	require.Len(t, h.results, goroutines*perGoroutine-refused(results), "seed %d, %s: records with an outcome", seed, disruption)
	require.Equal(t, total, h.pool.Available(), "seed %d, %s: memory not given back", seed, disruption)
	require.Zero(t, h.pool.Waiters(), "seed %d, %s: waits for memory left", seed, disruption)
}

// disrupt does to h what disruption says, at the step it falls on (at 0),
// and undoes what can be undone fifty steps later.
func disrupt(h *harness, disruption string, at int) {
	switch {
	case at == 0 && disruption == "abort":
		h.acc.Abort(errors.New("closing"))
	case at == 0 && disruption == "fatal":
		_ = h.acc.Fatal("fenced", errors.New("PRODUCER_FENCED"))
	case at == 0 && disruption == "transaction abort":
		h.acc.AbortTransaction(errors.New("transaction aborted"))
	case at == 50 && disruption == "transaction abort":
		h.acc.EndTransaction()
	case at == 0 && disruption == "stopped waits":
		h.pool.StopWaits(errors.New("waits stopped"))
	case at == 50 && disruption == "stopped waits":
		h.pool.ResumeWaits()
	}
}

// refused counts the appends that failed.
func refused(results [][]appended) int {
	n := 0
	for _, rs := range results {
		for _, a := range rs {
			if a.err != nil {
				n++
			}
		}
	}
	return n
}
