package producer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// waitFor bounds every wait in these tests: generous for a loaded 2-core
// machine under -race (a minute, as integration's testTimeout), short
// enough that a hang fails with a message rather than the test binary's
// timeout. No test waits it out to show that something does not happen.
const waitFor = 60 * time.Second

// cluster starts a fake cluster that keeps records, closed at cleanup.
func startCluster(t testing.TB, opts fakebroker.Options) *fakebroker.Cluster {
	t.Helper()
	c, err := fakebroker.Start(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// newProducer returns a producer for c with test-friendly backoffs, closed
// at cleanup (after the cluster's cleanup is registered, so it runs first).
func newProducer(t testing.TB, c *fakebroker.Cluster, mod func(*Config)) *Producer {
	t.Helper()
	cfg := Config{
		Brokers:             c.Addrs(),
		RetryBackoff:        10 * time.Millisecond,
		RetryBackoffMax:     100 * time.Millisecond,
		ReconnectBackoff:    10 * time.Millisecond,
		ReconnectBackoffMax: 100 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		// A test that closed the producer has judged what Close returned;
		// a second Close returns the same.
		closedByTest := p.closed.Load()
		if err := p.Close(ctx); err != nil && !closedByTest {
			t.Errorf("Close at cleanup: %v", err)
		}
	})
	return p
}

// outcome is one callback invocation.
type outcome struct {
	md  RecordMetadata
	err error
}

// outcomes collects the callbacks of records numbered 0..n-1, counting
// every invocation so that a second one is caught: by wait and one for
// those before, and as it comes for those after, until the test ends (its
// producer's Close at cleanup waits for every callback still to run).
type outcomes struct {
	mu    sync.Mutex
	got   [][]outcome
	t     testing.TB    // the test to tell of a second outcome, once wait or one is called
	first atomic.Int64  // records with at least one outcome
	all   chan struct{} // closed when every record has one
}

func newOutcomes(n int) *outcomes {
	o := &outcomes{got: make([][]outcome, n), all: make(chan struct{})}
	if n == 0 {
		close(o.all)
	}
	return o
}

// cb is record i's callback.
func (o *outcomes) cb(i int) Callback {
	return func(md RecordMetadata, err error) {
		o.mu.Lock()
		o.got[i] = append(o.got[i], outcome{md, err})
		first := len(o.got[i]) == 1
		if !first && o.t != nil {
			o.t.Errorf("record %d got outcome %d (%v) after the test checked it had one", i, len(o.got[i]), err)
		}
		o.mu.Unlock()
		if first && o.first.Add(1) == int64(len(o.got)) {
			close(o.all)
		}
	}
}

// watch makes t the test told of any second outcome from now on, failing
// it for those already there.
func (o *outcomes) watch(t testing.TB) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.t == t {
		return // checked already
	}
	o.t = t
	for i, got := range o.got {
		if len(got) > 1 {
			t.Errorf("record %d got %d outcomes", i, len(got))
		}
	}
}

// wait blocks until every record has an outcome, failing after waitFor or
// if any has more than one.
func (o *outcomes) wait(t testing.TB, what string) {
	t.Helper()
	select {
	case <-o.all:
	case <-time.After(waitFor):
		t.Fatalf("%s: %d of %d records have an outcome after %v", what, o.first.Load(), len(o.got), waitFor)
	}
	o.watch(t)
}

// receive returns what ch gives (the zero value once it is closed), failing
// with what if nothing comes within waitFor: the bounded wait for a signal
// or a result from another goroutine.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	return bounded.Receive(t, ch, waitFor, what)
}

// done reports whether every record has an outcome, without waiting.
func (o *outcomes) done() bool {
	select {
	case <-o.all:
		return true
	default:
		return false
	}
}

// has reports whether record i has an outcome, without waiting.
func (o *outcomes) has(i int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.got[i]) > 0
}

// missing is how many records have no outcome yet.
func (o *outcomes) missing() int {
	return len(o.got) - int(o.first.Load())
}

// snapshot returns every record's outcomes so far, for a test that checks
// them all rather than failing at the first.
func (o *outcomes) snapshot() [][]outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := make([][]outcome, len(o.got))
	for i, outs := range o.got {
		got[i] = append([]outcome(nil), outs...)
	}
	return got
}

// one returns record i's only outcome, failing if it has none or several.
func (o *outcomes) one(t testing.TB, i int) outcome {
	t.Helper()
	o.watch(t)
	o.mu.Lock()
	defer o.mu.Unlock()
	require.Len(t, o.got[i], 1, "record %d must have exactly one outcome", i)
	return o.got[i][0]
}

// ctx is a context bounded by waitFor.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// eventually polls cond until it holds, failing with what after waitFor.
// It is for state only visible on the fake's side, such as records that
// acks=0 sends without an answer.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, waitFor, 5*time.Millisecond, "%s: not within %v", what, waitFor)
}

// awaitMetadata asks PartitionsFor until topic's metadata has come. A test
// with a short MaxBlock calls it before its first record: on a loaded
// machine the first metadata may take longer than that MaxBlock, which
// bounds PartitionsFor as well as a record's wait for metadata, and the
// record would fail with ErrUnknownTopic for that.
func awaitMetadata(t testing.TB, p *Producer, topic string) {
	t.Helper()
	eventually(t, fmt.Sprintf("the metadata of %q", topic), func() bool {
		_, err := p.PartitionsFor(ctx(t), topic)
		return err == nil
	})
}

// failFirst is a produce hook answering the first n requests with act and
// the rest normally.
func failFirst(n int64, act fakebroker.Action) fakebroker.ProduceHook {
	var seen atomic.Int64
	return func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if seen.Add(1) <= n {
			return act
		}
		return fakebroker.Action{}
	}
}

// value is record i's payload, distinct per producer goroutine g.
func value(g, i int) []byte { return []byte(fmt.Sprintf("g%03d-%06d", g, i)) }

// learnTopic waits, moving clk, until p has topic's metadata: on the fake
// clock the metadata loop's pacing waits for the test to move time.
func learnTopic(t *testing.T, p *Producer, clk *clock.Fake, topic string) {
	t.Helper()
	eventually(t, topic+"'s metadata", func() bool {
		releasePacing(clk)
		n, _ := p.PartitionsFor(ctxWithin(t, 50*time.Millisecond), topic)
		return n > 0
	})
}

// releasePacing moves clk to its earliest timer when that is due within
// newProducer's longest retry backoff (the metadata loop's pacing between
// refreshes, or its poll), and not otherwise: moved at every look, fake
// time would run ahead of a slow machine's metadata round trips, toward
// the deadlines the tests set.
func releasePacing(clk *clock.Fake) {
	// newProducer's RetryBackoffMax, spread by its jitter (+20%)
	const longestBackoff = 120 * time.Millisecond
	now, next := clk.Now(), time.Duration(-1)
	for _, d := range clk.Deadlines() {
		if wait := max(d.Sub(now), 0); wait <= longestBackoff && (next < 0 || wait < next) {
			next = wait
		}
	}
	if next >= 0 {
		clk.Advance(next)
	}
}

// closeAtOnce closes p with a ctx already ended, so that Close waits for
// nothing and what still waits fails, then returns record i's error once
// every record of o has its outcome.
func closeAtOnce(t *testing.T, p *Producer, o *outcomes, i int) error {
	t.Helper()
	closing, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Close(closing)
	o.wait(t, "the records at Close")
	return o.one(t, i).err
}
