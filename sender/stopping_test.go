package sender

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// A sender told to stop (Run's ctx ended) sends nothing more, and waits
// for its answers in flight without spinning.

// A sender told to stop (its broker left the metadata, or the producer
// closes) sends nothing more, though a batch is ready: it waits for the
// answers in flight, and Run returns. The batch stays in the accumulator
// for its partition's next leader. Sent, it kept Run from returning, and
// the broker's next sender from starting, for as long as batches came.
func TestAStoppingSenderSendsNothingMoreAndReturnsOnceAnswered(t *testing.T) {
	r := newRig(t, nil)
	r.produce(parts[0], 1)
	first := r.next()
	r.passed() // the sender waits for the answer
	r.cancel()
	r.produceFull(parts[1], 2) // full: it would go behind the request in flight
	r.passed()
	select {
	case c := <-r.conn.requests:
		t.Fatalf("the stopping sender sent a request (partitions %v)", c.partitions())
	default:
	}
	first.done(answer(first.req, 0, 0), nil)
	r.awaitStopped("the stopping sender's Run did not return after its last answer")
	require.NoError(t, r.outcome(1).Err)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.outcomes[2], "the ready batch stays in the accumulator")
}

// A sender told to stop waits for its answers in flight without spinning:
// a pass comes of the cancel, of each wake and of each answer, and of
// nothing else. Selecting on its ended ctx as well, it would pass again at
// once, a core busy until the last answer came, and every test passed
// (a mutation review of the sender). The wakes are handed over one at a
// time, each once the sender has taken the one before, so that a spinning
// sender passes between them, where one that waits does not.
func TestAStoppingSenderWaitsForItsAnswersWithoutSpinning(t *testing.T) {
	passes := &stoppingPasses{}
	r := newRigWith(t, rigConfig{ctx: passes.wrap})
	r.produce(parts[0], 1)
	first := r.next()
	r.passed() // the sender waits for the answer
	r.cancel()
	const wakes = 100
	for range wakes {
		r.s.wake <- struct{}{} // blocks while the last one is still to be taken
	}
	first.done(answer(first.req, 0, 0), nil)
	r.awaitStopped("the stopping sender's Run did not return after its last answer")
	require.NoError(t, r.outcome(1).Err)
	// The cancel's pass (unless the first wake ended the wait the cancel
	// did), one per wake, and the answer's, after which Run returns.
	require.LessOrEqual(t, passes.n.Load(), int64(wakes+2), "passes of the stopping sender")
}

// stoppingPasses counts the passes a sender makes once its ctx has ended:
// Run reads ctx.Err once a pass.
type stoppingPasses struct {
	context.Context
	n atomic.Int64
}

func (c *stoppingPasses) wrap(ctx context.Context) context.Context {
	c.Context = ctx
	return c
}

func (c *stoppingPasses) Err() error {
	err := c.Context.Err()
	if err != nil {
		c.n.Add(1)
	}
	return err
}
