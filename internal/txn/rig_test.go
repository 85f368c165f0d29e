package txn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// endedWithANewEpochIfV1 checks that a transaction whose TxnOffsetCommit
// was cut short ended, with v1, with a new epoch, which fences that request
// should it reach the coordinator late; v2's EndTxn gives one anyway.
func (r *rig) endedWithANewEpochIfV1(v2 bool) {
	r.t.Helper()
	want := protocol.InitProducerId
	if v2 {
		want = protocol.EndTxn
	}
	require.Equal(r.t, want, r.coords.last().req.Key(), "v2=%v: the last request", v2)
}

// awaitUnsent waits until the adder has failed what waited to be added
// (FailUnsent), which it does outside the manager's lock, and returns the
// errors it gave a batch of tp0 and one of another topic.
func (r *rig) awaitUnsent() (unsent, other []error) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		unsent, other = slices.Clone(r.unsentErr), slices.Clone(r.unsentOther)
		return len(unsent) > 0
	}, waitTime, time.Millisecond, "what waited to be added did not fail")
	return unsent, other
}

// rig is a manager over the fake coordinators, with the producer's side
// recorded.
type rig struct {
	t      *testing.T
	clk    *clock.Fake
	coords *fakeCoordinators
	m      *Manager

	mu          sync.Mutex
	id          accumulator.ProducerID
	ended       int
	unsentErr   []error // FailUnsent's error for tp0
	unsentOther []error // and for a partition of another topic
	aborted     []error // AbortBatches calls
	heldFails   []error // FailHeld calls
	inDoubt     bool    // what SequencesInDoubt says
	woken       []accumulator.TopicPartition
	flushErr    error
	flushWait   bool // Flush waits for its ctx, as for records that never settle
	flushed     int
	awaited     int // AwaitOutcomes calls
	// duringFlush, if set, runs inside Flush: what a commit's flush lets
	// happen while it waits.
	duringFlush func()
	// duringFailHeld, if set, runs inside FailHeld: what an abort lets
	// happen as it fails the held records.
	duringFailHeld func()
	// closeProducer ends Config.Context, as the producer's Close does.
	closeProducer context.CancelFunc
}

func newRig(t *testing.T, v2 bool) *rig {
	r := &rig{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)),
		coords: &fakeCoordinators{errs: map[protocol.APIKey][]*kerr.Error{}, v2: v2, epoch: -1, lastEpoch: -1}}
	producerCtx, closeProducer := context.WithCancel(context.Background())
	t.Cleanup(closeProducer)
	r.closeProducer = closeProducer
	r.m = New(Config{
		TransactionalID: "tx", Timeout: time.Minute,
		RetryBackoff: 100 * time.Millisecond, RetryBackoffMax: time.Second,
		Coordinators: r.coords, Clock: r.clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Context:       producerCtx,
		SetProducerID: func(id accumulator.ProducerID) { r.mu.Lock(); r.id = id; r.mu.Unlock() },
		ProducerID: func() (accumulator.ProducerID, bool) {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.id, r.id.ID >= 0
		},
		EndTransaction: func() { r.mu.Lock(); r.ended++; r.mu.Unlock() },
		FailUnsent: func(errFor func(accumulator.TopicPartition) error) {
			r.mu.Lock()
			r.unsentErr = append(r.unsentErr, errFor(tp0))
			r.unsentOther = append(r.unsentOther, errFor(accumulator.TopicPartition{Topic: "other", Partition: 0}))
			r.mu.Unlock()
		},
		AbortBatches: func(err error) { r.mu.Lock(); r.aborted = append(r.aborted, err); r.mu.Unlock() },
		FailHeld: func(err error) {
			r.mu.Lock()
			r.heldFails = append(r.heldFails, err)
			during := r.duringFailHeld
			r.mu.Unlock()
			if during != nil {
				during()
			}
		},
		SequencesInDoubt: func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.inDoubt
		},
		Flush: func(ctx context.Context) error {
			r.mu.Lock()
			r.flushed++
			wait, during := r.flushWait, r.duringFlush
			r.mu.Unlock()
			if during != nil {
				during()
			}
			if wait {
				<-ctx.Done()
				return ctx.Err()
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.flushErr
		},
		AwaitOutcomes: func(context.Context) error { r.mu.Lock(); r.awaited++; r.mu.Unlock(); return nil },
		Wake:          func(tp accumulator.TopicPartition) { r.mu.Lock(); r.woken = append(r.woken, tp); r.mu.Unlock() },
	})
	return r
}

// admit asks Admit, as the accumulator does, and returns whether tp was
// admitted, failing the test on a refusal.
func (r *rig) admit(tp accumulator.TopicPartition) bool {
	r.t.Helper()
	admitted, refused := r.m.Admit(tp)
	if refused != nil { // Errorf: a condition of require.Eventually runs on a goroutine of its own
		r.t.Errorf("Admit(%v) refused: %v", tp, refused)
	}
	return admitted
}

// holdFlushes makes every Flush wait for its ctx, as for records that
// never settle; the channel closes once the first has begun.
func (r *rig) holdFlushes() <-chan struct{} {
	inFlush := make(chan struct{})
	var once sync.Once
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushWait = true
	r.duringFlush = func() { once.Do(func() { close(inFlush) }) }
	return inFlush
}

func (r *rig) producerID() accumulator.ProducerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id
}

func (r *rig) state() State {
	s, _ := r.m.State()
	return s
}

var tp0 = accumulator.TopicPartition{Topic: "t", Partition: 0}

// waitTime bounds every wait for another goroutine in these tests.
const waitTime = 10 * time.Second

// initialized is a rig after Init and Begin.
func initialized(t *testing.T, v2 bool) *rig {
	r := newRig(t, v2)
	require.NoError(t, r.m.Init(context.Background()))
	require.NoError(t, r.m.Begin())
	return r
}

// commitHeldAtEndTxn starts a commit with ctx whose EndTxn the
// coordinator holds at g, and returns once the EndTxn is there, with what
// the commit will return.
func (r *rig) commitHeldAtEndTxn(t *testing.T, ctx context.Context) (g *gate, committed <-chan error) {
	t.Helper()
	g = r.coords.hold(protocol.EndTxn)
	result := make(chan error, 1)
	go func() { result <- r.m.Commit(ctx) }()
	bounded.Receive(t, g.arrived, waitTime, "no EndTxn after Commit")
	return g, result
}

// addedToTheTransaction produces a record to tp0 in the rig's transaction:
// with v1 it waits until the coordinator added the partition, so that the
// transaction has an end to send.
func (r *rig) addedToTheTransaction(v2 bool) {
	r.t.Helper()
	if v2 {
		require.True(r.t, r.admit(tp0))
		return
	}
	r.admit(tp0)
	require.Eventually(r.t, func() bool { return r.admit(tp0) }, waitTime, time.Millisecond, "tp0 was not added")
}

// retrying runs f while moving the fake clock past each backoff it arms,
// and returns f's error.
func (r *rig) retrying(f func() error) error {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	var err error
	require.Eventually(r.t, func() bool {
		select {
		case err = <-done:
			return true
		default:
			r.clk.Advance(time.Second) // past the longest backoff
			return false
		}
	}, waitTime, time.Millisecond, "the call did not return after its backoffs")
	return err
}

// sendOffsetsCutShort runs SendOffsets until its TxnOffsetCommit is at the
// group coordinator, then ends its ctx before the answer, and returns its
// error and the gate, which stays shut for later TxnOffsetCommits until the test
// opens it.
func (r *rig) sendOffsetsCutShort(offsets []Offset, group Group) (*gate, error) {
	r.t.Helper()
	return r.sendOffsetsCutShortAt(protocol.TxnOffsetCommit, offsets, group)
}

// sendOffsetsCutShortAt is sendOffsetsCutShort with the request of api
// (TxnOffsetCommit, or AddOffsetsToTxn with v1) left unanswered.
func (r *rig) sendOffsetsCutShortAt(api protocol.APIKey, offsets []Offset, group Group) (*gate, error) {
	r.t.Helper()
	g := r.coords.hold(api)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.m.SendOffsets(ctx, offsets, group) }()
	bounded.Receive(r.t, g.arrived, waitTime, fmt.Sprintf("no %v after SendOffsets", api))
	cancel()
	return g, bounded.Receive(r.t, done, waitTime, "SendOffsets did not return after its ctx ended")
}
