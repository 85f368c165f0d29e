package producer

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// A hook that closes the producer from OnNewProducer closes it before New
// starts the metadata, expiry and producer id loops: none of them may start
// after that Close has returned, which waited for the loops that had
// started, none. Before, New started them after the hooks whatever the
// hooks had done, and they ran past a Close that had returned.
func TestACloseFromOnNewProducerLeavesNoLoopRunning(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	clk := newGatedClock(t)
	defer clk.release() // before the Close at cleanup, which may read the time
	var closeErr error
	before := loopGoroutines()
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Hooks = []Hook{newProducerFunc(func(p *Producer) {
			closeErr = p.Close(ctx(t))
			clk.shut() // a loop started from now on stays where loopGoroutines finds it
		})}
	})
	require.NoError(t, closeErr, "the Close in OnNewProducer")
	if left := newLoopGoroutines(before); len(left) > 0 {
		t.Fatalf("New returned with %d loop goroutines of a producer its OnNewProducer hook closed:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	require.ErrorIs(t, p.Flush(ctx(t)), ErrClosed, "Flush after the Close in OnNewProducer")
}

// A hook may hand the producer to a goroutine that closes it while New
// goes on: whichever comes first, New starting the loops or Close
// cancelling them, once that Close has returned no loop runs, and under
// -race New's count of the loops and Close's wait for them are ordered.
// Before, they were not: Close could wait for loops New had not counted
// yet, and return before they started.
func TestACloseHandedOffByOnNewProducerLeavesNoLoopRunning(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	for range 20 {
		func() {
			clk := newGatedClock(t)
			defer clk.release()
			closed := make(chan error, 1)
			before := loopGoroutines()
			newProducer(t, c, func(cfg *Config) {
				cfg.clock = clk
				cfg.Hooks = []Hook{newProducerFunc(func(p *Producer) {
					go func() {
						err := p.Close(ctx(t))
						clk.shut() // a loop started from now on stays where loopGoroutines finds it
						closed <- err
					}()
				})}
			})
			require.NoError(t, receive(t, closed, "the Close handed off by OnNewProducer did not return"))
			// A loop Close waited for may still be returning from its
			// last frame; one started after Close returned waits on the
			// gated clock, and stays.
			awaitNoNewLoops(t, before, "after the Close handed off by OnNewProducer returned")
		}()
	}
}

// awaitNoNewLoops fails unless the loop goroutines not in before are gone
// within waitFor, and then shows them. It finds them again to show them:
// the condition's last run may not have returned when eventually gives up,
// as require.Eventually does not wait for it.
func awaitNoNewLoops(t *testing.T, before map[string]string, when string) {
	t.Helper()
	defer func() {
		if !t.Failed() {
			return
		}
		if left := newLoopGoroutines(before); len(left) > 0 {
			t.Logf("the loop goroutines left:\n%s", strings.Join(left, "\n\n"))
		}
	}()
	eventually(t, when+": loop goroutines still running", func() bool {
		return len(newLoopGoroutines(before)) == 0
	})
}

// newProducerFunc is a HookNewProducer made of a function.
type newProducerFunc func(*Producer)

func (f newProducerFunc) OnNewProducer(p *Producer) { f(p) }

// gatedClock is the real clock until shut; from then on, every reading of
// the time waits until release. A loop that starts after the gate shut
// stays, rather than return before a stack dump can find it.
type gatedClock struct {
	clock.Real
	closed   atomic.Bool
	open     chan struct{}
	openOnce sync.Once
}

// newGatedClock returns an open gatedClock, released at the latest when
// the test ends.
func newGatedClock(t *testing.T) *gatedClock {
	c := &gatedClock{open: make(chan struct{})}
	t.Cleanup(c.release)
	return c
}

func (c *gatedClock) shut() { c.closed.Store(true) }

// release lets every reading of the time through again, for good.
func (c *gatedClock) release() { c.openOnce.Do(func() { close(c.open) }) }

func (c *gatedClock) Now() time.Time {
	if c.closed.Load() {
		<-c.open
	}
	return c.Real.Now()
}

// loopGoroutines finds a producer's three loops as soon as New returns,
// whether they have run yet or not: at GOMAXPROCS=1 they have not. Before,
// it found none of them then, so a loop started before a test's snapshot
// could count as one started after it.
func TestLoopGoroutinesFindsLoopsThatHaveNotRunYet(t *testing.T) {
	before := loopGoroutines()
	p, err := New(Config{Brokers: []string{"h:1"}})
	require.NoError(t, err)
	require.Len(t, newLoopGoroutines(before), 3, "the loops of the producer New returned")
	require.NoError(t, p.Close(ctx(t)))
	awaitNoNewLoops(t, before, "after Close")
}

// loopCreator is what a goroutine's stack shows of a producer's background
// loop: the line naming its creator, startLoops, which starts all three.
// A loop's own frame would not do: a loop that has not run yet shows only
// the wrapper of startLoops' go statement (startLoops.func1, .gowrap2,
// .gowrap3).
const loopCreator = "created by github.com/gokafka/producer.(*Producer).startLoops in "

// loopGoroutines returns the stacks of the goroutines running a
// producer's background loop, by goroutine id, those not run yet
// included (see loopCreator).
func loopGoroutines() map[string]string {
	loops := map[string]string{}
	for _, g := range strings.Split(bounded.Stacks(), "\n\n") {
		if strings.Contains(g, loopCreator) {
			id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
			loops[id] = g
		}
	}
	return loops
}

// newLoopGoroutines returns the stacks of the loop goroutines not in
// before: those of a producer made since.
func newLoopGoroutines(before map[string]string) []string {
	var stacks []string
	for id, g := range loopGoroutines() {
		if _, ok := before[id]; !ok {
			stacks = append(stacks, g)
		}
	}
	return stacks
}
