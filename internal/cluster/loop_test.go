package cluster

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// The backoff the tests below give the loop: 100ms doubling up to 800ms.
const (
	loopBackoff    = 100 * time.Millisecond
	loopBackoffMax = 800 * time.Millisecond
)

// drive is a metadata loop on a fake clock whose refreshes the test takes
// one at a time. The clock moves only while the loop waits on a timer,
// never during a refresh, so a refresh's time is the clock's when it ends.
// The loop's are the only timers on the clock: conn times its requests on
// the wall clock.
type drive struct {
	t         *testing.T
	fake      *clock.Fake
	refreshed chan refreshed
	last      time.Time // when the last refresh taken ran
}

// refreshed is one refresh's outcome and when it ran.
type refreshed struct {
	at  time.Time
	err error
}

// drivenConfig sets cfg to the backoff above, on a fake clock, with the
// refreshes reported to the returned drive.
func drivenConfig(t *testing.T, cfg *Config) *drive {
	d := &drive{t: t, fake: clock.NewFake(time.Unix(1_700_000_000, 0)), refreshed: make(chan refreshed, 16)}
	cfg.Clock = d.fake
	cfg.RetryBackoff, cfg.RetryBackoffMax = loopBackoff, loopBackoffMax
	cfg.Refreshed = func(err error) { d.refreshed <- refreshed{at: d.fake.Now(), err: err} }
	return d
}

// take returns the next refresh's outcome, and notes its time.
func (d *drive) take(r refreshed) error {
	d.last = r.at
	return r.err
}

// poll moves the clock from timer to timer of the loop until its next
// refresh, and returns that refresh's outcome. The timers are read before
// looking for the refresh, so that the one the loop arms after a refresh
// is never moved past. No refresh may be asked for before poll: one the
// loop left pending would start a refresh while poll moves the clock.
func (d *drive) poll() error {
	d.t.Helper()
	var got refreshed
	require.Eventually(d.t, func() bool {
		deadlines := d.fake.Deadlines()
		select {
		case got = <-d.refreshed:
			return true
		default:
		}
		if len(deadlines) > 0 {
			d.fake.Advance(deadlines[0].Sub(d.fake.Now()))
		}
		return false
	}, waitFor, time.Millisecond, "no refresh within %v", waitFor)
	return d.take(got)
}

// ask asks for a refresh once the last one taken is over, as a sender does
// on a NOT_LEADER_OR_FOLLOWER, and returns its outcome and the time since
// the last. After each refresh the loop waits on one timer (the least gap
// before a refresh asked for) before it takes the request; ask moves the
// clock to that timer and then no further, so that the request, not a
// timer of the loop (an hour of MetadataMaxAge, say), starts the refresh.
func (d *drive) ask(c *Cluster) (time.Duration, error) {
	d.t.Helper()
	last := d.last
	c.RequestRefresh("test")
	var deadlines []time.Time
	require.Eventually(d.t, func() bool {
		deadlines = d.fake.Deadlines()
		return len(deadlines) > 0
	}, waitFor, time.Millisecond, "the loop armed no timer within %v", waitFor)
	require.Len(d.t, deadlines, 1, "the loop's timers after a refresh")
	d.fake.Advance(deadlines[0].Sub(d.fake.Now()))
	err := d.take(bounded.Receive(d.t, d.refreshed, waitFor, "the refresh asked for"))
	return d.last.Sub(last), err
}

// Refreshes asked for while they keep failing wait out the loop's backoff
// after each failure, doubling from RetryBackoff to RetryBackoffMax; an
// answer brings the least gap back to RetryBackoff. Before, a refresh
// asked for cut every backoff short: with no broker answering, the
// senders' requests made a Metadata request, and a Warn line, every
// RetryBackoff for as long as it lasted.
func TestRequestedRefreshesWaitOutTheBackoffOfFailedOnes(t *testing.T) {
	var d *drive
	r := newRigWith(t, fakebroker.Options{Nodes: 1, Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		d = drivenConfig(t, cfg)
	})
	var failing atomic.Bool
	failing.Store(true)
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if failing.Load() {
			return fakebroker.Action{Err: kerr.RequestTimedOut} // the whole answer (KIP-1102)
		}
		return fakebroker.Action{}
	})
	err := d.take(bounded.Receive(t, d.refreshed, waitFor, "the refresh at start"))
	if err == nil { // it came before the hook
		_, err = d.ask(r.c)
	}
	require.ErrorIs(t, err, kerr.RequestTimedOut)

	// Each refresh after one, two, ... failures in a row, spread by ±20%.
	backoffs := []time.Duration{loopBackoff, 2 * loopBackoff, 4 * loopBackoff, loopBackoffMax, loopBackoffMax, loopBackoffMax}
	for i, want := range backoffs {
		gap, err := d.ask(r.c)
		require.ErrorIs(t, err, kerr.RequestTimedOut)
		require.GreaterOrEqual(t, gap, loopBackoff, "refresh %d after a failure", i)
		require.InDelta(t, float64(want), float64(gap), float64(want)/5+1, "refresh %d after a failure", i)
	}

	failing.Store(false)
	gap, err := d.ask(r.c)
	require.NoError(t, err)
	require.InDelta(t, float64(loopBackoffMax), float64(gap), float64(loopBackoffMax)/5+1, "the refresh that was answered")
	for i := range 3 {
		gap, err := d.ask(r.c)
		require.NoError(t, err)
		require.Equal(t, loopBackoff, gap, "refresh %d asked for after an answer", i)
	}
}

// A refresh asked for after an answer comes RetryBackoff after it, even
// while the loop polls for a topic that never comes (a mistyped one a
// record waits MaxBlock for) and every answer is the same: a leader that
// moved on a healthy topic is looked for as soon as ever. Refreshes that
// changed nothing once stretched the gap to RetryBackoffMax and more.
func TestARequestedRefreshComesAfterRetryBackoffWhileATopicIsAwaited(t *testing.T) {
	var d *drive
	r := newRigWith(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}}, 1, func(cfg *Config) {
		d = drivenConfig(t, cfg)
	})
	pollForAMissingTopic(t, r, d)

	moved := 1 - r.c.Snapshot().Topic("t").Partitions[0].Leader
	require.NoError(t, r.fake.SetLeader("t", 0, moved))
	gap, err := d.ask(r.c) // NOT_LEADER_OR_FOLLOWER
	require.NoError(t, err)
	require.Equal(t, loopBackoff, gap, "the refresh asked for after a moved leader")
	require.Equal(t, moved, r.c.Snapshot().Topic("t").Partitions[0].Leader)
}

// pollForAMissingTopic has the loop know "t" and poll ten times for
// "missing", a topic that never comes, with nobody asking: the loop's state
// while a record waits MaxBlock for a mistyped topic.
func pollForAMissingTopic(t *testing.T, r *rig, d *drive) {
	t.Helper()
	t.Cleanup(r.c.Want("t"))
	for polls := 0; r.c.Snapshot().Topic("t") == nil; polls++ {
		require.Less(t, polls, 3, "t unknown after 3 refreshes")
		require.NoError(t, d.poll())
	}
	t.Cleanup(r.c.Want("missing"))
	for range 10 {
		require.NoError(t, d.poll())
	}
}

// One passing failure among polls for something awaited holds the next
// requested refresh back by the backoff of one failure, not by the polls'
// backoff: counted with the polls, a single failed answer after ten polls
// for a mistyped topic held a moved leader's refresh back about 850ms.
func TestOneFailureAmongPollsHoldsARequestedRefreshBackOnlyOnce(t *testing.T) {
	r, d, failNext := pollingWithFailures(t)
	failNext.Store(true)
	require.ErrorIs(t, d.poll(), kerr.RequestTimedOut)

	moved := 1 - r.c.Snapshot().Topic("t").Partitions[0].Leader
	require.NoError(t, r.fake.SetLeader("t", 0, moved))
	gap, err := d.ask(r.c) // NOT_LEADER_OR_FOLLOWER
	require.NoError(t, err)
	require.GreaterOrEqual(t, gap, loopBackoff, "the refresh asked for after the failure")
	require.LessOrEqual(t, gap, loopBackoff*12/10, "the refresh asked for after the failure: one failure's backoff")
	require.Equal(t, moved, r.c.Snapshot().Topic("t").Partitions[0].Leader)
}

// pollingWithFailures is pollForAMissingTopic's state on a driven loop
// whose fake cluster answers the next Metadata request with a failure
// (REQUEST_TIMED_OUT for the whole answer) once failNext is set.
func pollingWithFailures(t *testing.T) (r *rig, d *drive, failNext *atomic.Bool) {
	r = newRigWith(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}}, 1, func(cfg *Config) {
		d = drivenConfig(t, cfg)
	})
	failNext = new(atomic.Bool)
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if failNext.CompareAndSwap(true, false) {
			return fakebroker.Action{Err: kerr.RequestTimedOut}
		}
		return fakebroker.Action{}
	})
	pollForAMissingTopic(t, r, d)
	return r, d, failNext
}

// A failure after polls for an awaited topic keeps the polls' grown
// backoff for the next poll, rather than polling every RetryBackoff again
// while no broker answers and a record waits for a mistyped topic.
func TestAFailureAfterPollsKeepsThePollsBackoff(t *testing.T) {
	_, d, failNext := pollingWithFailures(t)
	failNext.Store(true)
	require.ErrorIs(t, d.poll(), kerr.RequestTimedOut)
	failedAt := d.last
	require.NoError(t, d.poll())
	require.InDelta(t, float64(loopBackoffMax), float64(d.last.Sub(failedAt)), float64(loopBackoffMax)/5+1,
		"the poll after a failure that followed ten polls")
}

// An answered poll ends a run of failures: a failure after it holds a
// requested refresh (a moved leader's) back by one failure's backoff, not
// by that of two in a row.
func TestAnAnsweredPollEndsARunOfFailures(t *testing.T) {
	r, d, failNext := pollingWithFailures(t)
	failNext.Store(true)
	require.ErrorIs(t, d.poll(), kerr.RequestTimedOut)
	require.NoError(t, d.poll()) // answered; "missing" still awaited
	failNext.Store(true)
	require.ErrorIs(t, d.poll(), kerr.RequestTimedOut)
	gap, err := d.ask(r.c)
	require.NoError(t, err)
	require.GreaterOrEqual(t, gap, loopBackoff, "the refresh asked for after one failure in a row")
	require.LessOrEqual(t, gap, loopBackoff*12/10, "the refresh asked for after one failure in a row")
}

// A refresh that leaves nothing awaited ends the polls' backoff: the next
// failure is retried after RetryBackoff, not after the RetryBackoffMax the
// polls for a topic since created had grown to.
func TestACleanRefreshEndsThePollsBackoff(t *testing.T) {
	r, d, failNext := pollingWithFailures(t)
	require.NoError(t, r.fake.CreateTopic("missing", 1))
	require.NoError(t, d.poll())
	require.NotNil(t, r.c.Snapshot().Topic("missing"), "missing, once created")
	require.False(t, r.c.awaiting(), "something awaited once missing is known")
	failNext.Store(true)
	_, err := d.ask(r.c)
	require.ErrorIs(t, err, kerr.RequestTimedOut)
	failedAt := d.last
	require.NoError(t, d.poll())
	require.InDelta(t, float64(loopBackoff), float64(d.last.Sub(failedAt)), float64(loopBackoff)/5+1,
		"the poll after the first failure since a clean refresh")
}

// A partition awaited one past the topic's last (the topic is growing, its
// new partitions not yet in the metadata) keeps the loop polling for it,
// so that records for it wait RetryBackoff, not MetadataMaxAge.
func TestAPartitionOnePastTheLastIsAwaited(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}}, 1)
	r.awaitTopic("t")
	require.False(t, r.c.awaiting(), "something awaited once t is known")
	release := r.c.WantPartition("t", 2)
	defer release()
	require.True(t, r.c.awaiting(), "partition 2 of a 2-partition topic is awaited")
}

// A known partition without a leader the metadata can address (none
// elected yet, or its leader left out of the broker list) keeps the loop
// polling, so that its records wait RetryBackoff for a leader, not
// MetadataMaxAge: no sender drains a partition that has none.
func TestAPartitionWithoutAUsableLeaderIsAwaited(t *testing.T) {
	c := New(Config{Clock: clock.Real{}})
	name := "t"
	answer := func(brokers []int32, leaders ...int32) {
		resp := &protocol.MetadataResponse{Topics: []protocol.MetadataResponseTopic{{Name: &name}}}
		for _, id := range brokers {
			resp.Brokers = append(resp.Brokers, protocol.MetadataResponseBroker{NodeID: id, Host: "127.0.0.1", Port: 9092 + id})
		}
		for i, leader := range leaders {
			p := protocol.MetadataResponsePartition{PartitionIndex: int32(i), LeaderID: leader, LeaderEpoch: -1}
			if leader < 0 {
				p.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			resp.Topics[0].Partitions = append(resp.Topics[0].Partitions, p)
		}
		c.cache.Apply(resp, 12, []string{name}, time.Now())
	}
	answer([]int32{0, 1}, 0, -1)
	require.True(t, c.awaiting(), "partition 1 has no leader elected")
	answer([]int32{0}, 0, 1)
	require.True(t, c.awaiting(), "partition 1's leader is not among the brokers")
	answer([]int32{0, 1}, 0, 1)
	require.False(t, c.awaiting(), "every partition has a leader among the brokers")
}

// A topic awaited and asked for again and again (records held for it, each
// Produce asking for a refresh) is found RetryBackoff after it is created,
// however many answers called it unknown before.
func TestATopicCreatedLaterIsFoundAfterRetryBackoff(t *testing.T) {
	var d *drive
	r := newRigWith(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}}, 1, func(cfg *Config) {
		d = drivenConfig(t, cfg)
	})
	defer r.c.Want("new")()
	d.take(bounded.Receive(t, d.refreshed, waitFor, "the refresh at start"))
	for i := range 8 {
		gap, err := d.ask(r.c)
		require.NoError(t, err)
		require.Equal(t, loopBackoff, gap, "refresh %d asked for while new is unknown", i)
	}

	require.NoError(t, r.fake.CreateTopic("new", 1))
	gap, err := d.ask(r.c)
	require.NoError(t, err)
	require.Equal(t, loopBackoff, gap, "the refresh that found new")
	require.NotNil(t, r.c.Snapshot().Topic("new"))
}

// A connection the broker hung up on asks for a refresh: with acks=0 that
// is how Kafka says it refused a Produce (a leader that moved), and
// nothing else fails. One the producer closed (here by Close; CloseLeft,
// for a node that left, closes the same way) says nothing of the metadata
// and asks for none. Either way the producer's own Closed event is still
// told. The loop does not run: a refresh asked for stays in its channel.
func TestABrokenConnectionAsksForARefreshAndOneClosedHereDoesNot(t *testing.T) {
	fake, err := fakebroker.Start(fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}})
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	told := make(chan error, 2)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := New(Config{Seeds: fake.Addrs(), Clock: clock.Real{}, Logger: logger,
		Conn: conn.Config{Logger: logger, RequestTimeout: waitFor,
			Events: conn.Events{Closed: func(_ int32, _ string, err error) { told <- err }}}})
	t.Cleanup(c.Close)
	broken, err := c.seeds[0].Conn(context.Background())
	require.NoError(t, err)
	closed, err := c.seeds[1].Conn(context.Background())
	require.NoError(t, err)

	require.NoError(t, fake.DropConnections(0))
	require.ErrorIs(t, bounded.Receive(t, told, waitFor, "the broken connection's Closed"), conn.ErrDisconnected)
	require.ErrorIs(t, broken.Err(), conn.ErrDisconnected)
	require.NoError(t, closed.Err())
	require.True(t, refreshAsked(c), "a connection the broker hung up on asked for no refresh")

	c.Close()
	require.ErrorIs(t, bounded.Receive(t, told, waitFor, "the closed connection's Closed"), conn.ErrClosed)
	require.False(t, refreshAsked(c), "a connection closed by Close asked for a refresh")
}

// refreshAsked reports, without waiting, whether a refresh was asked of c's
// metadata loop since the last look, taking the request.
func refreshAsked(c *Cluster) bool {
	select {
	case <-c.refreshCh:
		return true
	default:
		return false
	}
}
