package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/fakebroker"
)

// Close racing Produce and Send on other goroutines keeps Close's promise:
// once a Close has returned nil, every record whose Produce (or Send)
// returned before that Close was called has had its callback; a record
// produced once Close has returned fails with ErrClosed before Produce
// returns; a Send racing Close returns with its record's outcome, never by
// its ctx; and after a second Close every record has exactly one outcome.
// Records go to a topic whose metadata the producer has and to one it has
// not, which is created at a random moment or never, so that some wait for
// metadata when Close comes; keyed and not; with memory to spare or
// short. The Close comes at a random moment, with a generous ctx or a
// short one.
//
// Each round is drawn from its seed; timing varies from run to run, so a
// round that fails may need a few runs (-count) to fail again.
func TestCloseRacingProduceAndSendKeepsEveryPromise(t *testing.T) {
	for seed := range uint64(6) {
		random := rand.New(rand.NewPCG(seed, seed*7+1))
		records := 20 + random.IntN(60)
		r := closeRace{
			goroutines:  2 + random.IntN(6),
			records:     records,
			shortClose:  seed%2 == 1,
			linger:      []time.Duration{NoLinger, 0, time.Millisecond, 5 * time.Millisecond}[random.IntN(4)],
			batchSize:   100 + random.IntN(1500),
			createAt:    random.IntN(records+records/2) - records/2, // below 0: never
			tightMemory: random.IntN(3) == 0,
			seed:        seed,
		}
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) { r.run(t) })
	}
}

type closeRace struct {
	goroutines, records int // records per goroutine
	shortClose          bool
	linger              time.Duration
	batchSize           int
	createAt            int  // the record, of goroutine 0's, after which "later" is created; below 0 never
	tightMemory         bool // a few batches' BufferMemory: Produce waits for memory as Close comes
	seed                uint64
}

func (r closeRace) run(t *testing.T) {
	t.Logf("%+v", r)
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"known": 3}})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.Linger = r.linger
		cfg.BatchSize = r.batchSize
		// Records of "later" that never finds its metadata fail by then,
		// and a Close with a generous ctx waits for that.
		cfg.MaxBlock = 150 * time.Millisecond
		if r.tightMemory {
			cfg.BufferMemory = int64(4 * r.batchSize)
		}
	})
	awaitMetadata(t, p, "known")
	_, err := p.Send(ctx(t), &Record{Topic: "known", Value: []byte("metadata")})
	require.NoError(t, err, "the first record")

	n := r.goroutines * r.records
	o := newOutcomes(n)
	var (
		returnedBefore = make([]atomic.Bool, n) // Produce or Send returned before Close was called
		closeCalled    atomic.Bool
		closeReturned  atomic.Bool
		produced       atomic.Int64
		random         = rand.New(rand.NewPCG(r.seed, 0))
		closeAt        = random.IntN(n + 1)
		reached        = make(chan struct{})
		producers      sync.WaitGroup
	)
	if closeAt == 0 {
		close(reached)
	}
	for g := range r.goroutines {
		producers.Add(1)
		go func() {
			defer producers.Done()
			random := rand.New(rand.NewPCG(r.seed, uint64(g)+1))
			for j := range r.records {
				i := g*r.records + j
				rec := &Record{Topic: "known", Value: value(g, j)}
				if random.IntN(3) == 0 {
					rec.Topic = "later"
				}
				if random.IntN(2) == 0 {
					rec.Key = []byte(fmt.Sprint(random.IntN(10)))
				}
				afterClose := closeReturned.Load()
				if random.IntN(8) == 0 {
					md, err := p.Send(ctx(t), rec)
					if errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("record %d: Send racing Close returned only when its ctx ended: %v", i, err)
					}
					o.cb(i)(md, err)
				} else {
					p.Produce(ctx(t), rec, o.cb(i))
				}
				returnedBefore[i].Store(!closeCalled.Load())
				if afterClose {
					if got := o.snapshot()[i]; len(got) == 0 || !errors.Is(got[0].err, ErrClosed) {
						t.Errorf("record %d, produced after Close returned, did not fail with ErrClosed by the time Produce returned: %v", i, got)
					}
				}
				if g == 0 && j == r.createAt {
					if err := c.CreateTopic("later", 2); err != nil {
						t.Errorf("creating the topic: %v", err)
					}
				}
				if produced.Add(1) == int64(closeAt) {
					close(reached)
				}
			}
		}()
	}

	receive(t, reached, "the records before Close")
	closeCtx, cancel := ctx(t), func() {}
	if r.shortClose {
		closeCtx, cancel = context.WithTimeout(ctx(t), time.Duration(random.IntN(20))*time.Millisecond)
	}
	closeCalled.Store(true)
	err = p.Close(closeCtx)
	cancel()
	hadOutcome := make([]bool, n)
	for i := range n {
		hadOutcome[i] = o.has(i)
	}
	closeReturned.Store(true)
	t.Logf("Close after %d of %d records: %v", closeAt, n, err)
	if !r.shortClose {
		require.NoError(t, err, "Close with a generous ctx")
	}

	producers.Wait()
	require.Equal(t, err, p.Close(ctx(t)), "a second Close returns what the first returned")
	if err == nil {
		for i := range n {
			if !returnedBefore[i].Load() {
				continue
			}
			if !hadOutcome[i] {
				t.Errorf("Close returned nil, but record %d, produced before Close was called, had no outcome", i)
			} else if err := o.one(t, i).err; errors.Is(err, ErrClosed) {
				t.Errorf("Close returned nil, but record %d, produced before Close was called, was not sent: %v", i, err)
			}
		}
	}
	require.True(t, o.done(), "a second Close returned with %d records without an outcome", o.missing())
	for i := range n {
		o.one(t, i)
	}
}
