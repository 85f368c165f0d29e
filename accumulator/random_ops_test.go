package accumulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/record"
)

// Random appends, drains, answers in any order (acknowledgements, retries
// with every flag, splits, refusals, failures), expiries and FailUnsent on
// a fake clock, then an abort and the answers still due: after every step
// InUse's buffered partitions and Load match a count of the batches
// without their outcome; at the end every record has exactly one outcome,
// none acknowledged before the outcome of a record appended before it to
// its partition, and nothing is left incomplete. Each seed is a run of its
// own, so a failure names the one to replay.
func TestRandomOperationsGiveEachRecordOneOutcomeAndKeepTheCounts(t *testing.T) {
	for seed := int64(1); seed <= 200; seed++ {
		for _, idem := range []bool{false, true} {
			t.Run(fmt.Sprintf("seed%d-idempotent=%v", seed, idem), func(t *testing.T) { randomOperations(t, seed, idem) })
		}
	}
}

func randomOperations(t *testing.T, seed int64, idem bool) {
	rng := rand.New(rand.NewSource(seed))
	mod := func(c *Config) { c.DeliveryTimeout = 3 * time.Second; c.MaxBlock = time.Second }
	var h *harness
	if idem {
		h = idempotent(t, false, mod)
	} else {
		h = newHarness(t, mod)
	}
	parts := []TopicPartition{part(0), part(1)}
	var inFlight []*Batch
	nextID := 0
	appended := map[TopicPartition][]int{}
	check := func(step string) {
		buffered, _ := h.acc.InUse(h.clk.Now())
		var want []TopicPartition
		sizes := make([]int32, 2)
		h.acc.Load("t", sizes)
		for i, tp := range parts {
			p := h.acc.lookup(tp)
			if p == nil {
				continue
			}
			p.mu.Lock()
			pending := 0
			for _, b := range p.batches {
				if !b.settled {
					pending++
				}
			}
			need := pending > 0 || p.inFlight > 0
			p.mu.Unlock()
			if need {
				want = append(want, tp)
			}
			require.Equal(t, int32(pending), sizes[i], "Load of %v after %s", tp, step)
		}
		slices.SortFunc(buffered, func(a, b TopicPartition) int { return int(a.Partition - b.Partition) })
		require.Equal(t, fmt.Sprint(want), fmt.Sprint(buffered), "InUse after %s", step)
	}
	take := func() *Batch {
		i := rng.Intn(len(inFlight))
		b := inFlight[i]
		inFlight = append(inFlight[:i], inFlight[i+1:]...)
		return b
	}
	for step := 0; step < 150; step++ {
		op := rng.Intn(12)
		name := fmt.Sprint("op", op)
		switch {
		case op <= 2:
			tp := parts[rng.Intn(2)]
			r := &Record{Data: record.Data{TimestampMs: h.clk.Now().UnixMilli(), Key: []byte("k"), Value: make([]byte, 100+rng.Intn(300))}, Callback: nextID}
			if rng.Intn(4) == 0 {
				r.Since = h.clk.Now().Add(-time.Duration(rng.Intn(2000)) * time.Millisecond)
			}
			if _, err := h.acc.Append(context.Background(), tp, nil, r); err == nil {
				appended[tp] = append(appended[tp], nextID)
			}
			nextID++
		case op == 3:
			bs, _ := h.drain(parts, 1<<20)
			inFlight = append(inFlight, bs...)
		case op == 4 && len(inFlight) > 0:
			h.acc.Complete(take(), int64(step*100), -1, nil)
		case op == 5 && len(inFlight) > 0:
			b := take()
			h.acc.Retry(b, Retry{At: h.clk.Now().Add(time.Duration(rng.Intn(200)) * time.Millisecond), Cause: errRetry,
				MaybeWritten: rng.Intn(2) == 0, SequenceRejected: idem && rng.Intn(4) == 0, NotSent: rng.Intn(5) == 0})
		case op == 6 && len(inFlight) > 0:
			h.acc.Split(take(), errors.New("MESSAGE_TOO_LARGE"), nil)
		case op == 7 && len(inFlight) > 0:
			h.acc.Refuse(take(), errors.New("INVALID_RECORD"), []RecordError{{Index: 0, Err: errors.New("bad")}})
		case op == 8:
			h.clk.Advance(time.Duration(rng.Intn(1500)) * time.Millisecond)
			h.acc.Expire(h.clk.Now())
		case op == 9 && rng.Intn(5) == 0:
			h.acc.FailAllUnsent(errors.New("auth refused"))
		case op == 10 && len(inFlight) > 0 && rng.Intn(3) == 0:
			h.acc.Complete(take(), -1, -1, errors.New("CORRUPT_MESSAGE"))
		default:
			h.clk.Advance(time.Duration(rng.Intn(300)) * time.Millisecond)
		}
		check(name)
	}
	h.acc.Abort(errors.New("closing"))
	check("abort")
	for _, b := range inFlight {
		h.acc.Retry(b, Retry{At: h.clk.Now(), Cause: errors.New("connection closed"), MaybeWritten: true})
	}
	inFlight = nil
	check("answers after abort")
	h.sync()
	h.mu.Lock()
	defer h.mu.Unlock()
	for tp, ids := range appended {
		for _, id := range ids {
			require.Len(t, h.results[id], 1, "record %d of %v", id, tp)
		}
		var got []int
		for _, id := range h.order {
			if slices.Contains(ids, id) {
				got = append(got, id)
			}
		}
		// An acknowledgement comes after the outcome of every record
		// appended before it to its partition; failures may come early.
		pos := map[int]int{}
		for i, id := range got {
			pos[id] = i
		}
		for i, id := range ids {
			if h.results[id][0].Err != nil {
				continue
			}
			for _, before := range ids[:i] {
				require.Less(t, pos[before], pos[id], "record %d acknowledged before record %d's outcome, %v", id, before, tp)
			}
		}
	}
	require.Zero(t, h.acc.Incomplete())
	buffered, _ := h.acc.InUse(h.clk.Now())
	require.Empty(t, buffered)
}
