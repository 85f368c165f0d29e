package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// The pacing the tests below use: 100ms doubling up to 800ms.
const (
	paceBase = 100 * time.Millisecond
	paceMax  = 800 * time.Millisecond
)

// paced is a metadata loop on a fake clock whose refreshes the test
// observes one by one.
type paced struct {
	t         *testing.T
	fake      *clock.Fake
	refreshed chan error
	last      time.Time // when the last refresh observed started
}

// pacedConfig sets cfg to the pacing above, on a fake clock, with the
// refreshes reported to p.
func pacedConfig(t *testing.T, cfg *Config) *paced {
	p := &paced{t: t, fake: clock.NewFake(time.Unix(1_700_000_000, 0)), refreshed: make(chan error, 1)}
	cfg.Clock = p.fake
	cfg.RetryBackoff, cfg.RetryBackoffMax = paceBase, paceMax
	cfg.Refreshed = func(err error) { p.refreshed <- err }
	return p
}

// next waits for the loop's next refresh, moving the clock to the loop's
// next timer until it comes, and returns the refresh's outcome. The
// loop's are the only timers on the clock: conn times its requests on the
// wall clock.
func (p *paced) next() error {
	p.t.Helper()
	var err error
	require.Eventually(p.t, func() bool {
		select {
		case err = <-p.refreshed:
			return true
		default:
		}
		if d := p.fake.Deadlines(); len(d) > 0 {
			p.fake.Advance(d[0].Sub(p.fake.Now()))
		}
		return false
	}, waitFor, time.Millisecond, "no refresh within %v", waitFor)
	p.last = p.fake.Now() // the clock stands still during a refresh
	return err
}

// gaps asks for a refresh n times, each time once the last one is done, as
// a sender does on every wake while its broker stays unreachable, and
// returns the time from each refresh to the next. check judges each
// refresh's outcome.
func (p *paced) gaps(n int, ask func(), check func(error)) []time.Duration {
	p.t.Helper()
	var gaps []time.Duration
	for range n {
		last := p.last
		ask()
		check(p.next())
		gaps = append(gaps, p.last.Sub(last))
	}
	return gaps
}

// requireDoubling checks gaps against the pacing from a refresh that told
// nothing: RetryBackoff exactly, then doubling, spread by ±20%, up to
// RetryBackoffMax.
func requireDoubling(t *testing.T, gaps []time.Duration) {
	t.Helper()
	require.Equal(t, paceBase, gaps[0], "the first gap, of %v", gaps)
	want := paceBase
	for i, g := range gaps[1:] {
		want = min(2*want, paceMax)
		require.InDelta(t, float64(want), float64(g), float64(want)/5+1, "gap %d, of %v", i+1, gaps)
	}
}

// Refreshes asked for again and again while no broker answers back off
// from RetryBackoff to RetryBackoffMax, as the Java client's failed
// attempts do. Before, a refresh asked for came every RetryBackoff for as
// long as it lasted, each one logging its failure at Warn.
func TestRequestedRefreshesThatFailBackOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // refused from now on

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{
		Seeds:          []string{addr},
		Conn:           conn.Config{Logger: logger, RequestTimeout: waitFor},
		MetadataMaxAge: time.Hour,
		Logger:         logger,
	}
	p := pacedConfig(t, &cfg)
	c := New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		bounded.Receive(t, done, waitFor, "Run did not return once its ctx ended")
		c.Close()
	})

	failed := func(err error) { require.ErrorIs(t, err, ErrNoBroker) }
	failed(p.next())
	requireDoubling(t, p.gaps(7, func() { c.RequestRefresh("broker unreachable") }, failed))
}

// Refreshes asked for again and again whose answers change nothing back
// off likewise, as the Java client's equivalent responses do: a partition
// whose leader nobody reaches, asked about by every wake of its sender.
// An answer that changes something (a leader moved) brings the gap back to
// RetryBackoff, so the reaction to the next change is as quick as ever;
// so does a quiet spell.
func TestRequestedRefreshesThatChangeNothingBackOffUntilOneDoes(t *testing.T) {
	var p *paced
	r := newRigWith(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}}, 1, func(cfg *Config) {
		p = pacedConfig(t, cfg)
	})
	ask := func() { r.c.RequestRefresh("broker unreachable") }
	noErr := func(err error) { require.NoError(t, err) }
	release := r.c.Want("t")
	defer release()
	for known := 0; r.c.Snapshot().Topic("t") == nil; known++ {
		require.Less(t, known, 3, "t unknown after 3 refreshes")
		ask()
		noErr(p.next()) // t's partitions: news
	}
	gaps := p.gaps(8, ask, noErr)
	require.Equal(t, paceBase, gaps[0], "the gap after news, of %v", gaps)
	requireDoubling(t, gaps[1:])

	require.NoError(t, r.fake.SetLeader("t", 0, 1-r.c.Snapshot().Topic("t").Partitions[0].Leader))
	gaps = p.gaps(4, ask, noErr)
	require.InDelta(t, float64(paceMax), float64(gaps[0]), float64(paceMax)/5+1,
		"the refresh that found the moved leader came at the pacing reached, of %v", gaps)
	require.Equal(t, paceBase, gaps[1], "the gap after the moved leader, of %v", gaps)
	requireDoubling(t, gaps[2:])

	// A quiet spell: nothing asked for well past the last gap.
	p.fake.Advance(time.Minute)
	gaps = p.gaps(3, ask, noErr)
	require.Equal(t, time.Minute, gaps[0], "the refresh asked for after a quiet spell, of %v", gaps)
	requireDoubling(t, gaps[1:])
}
