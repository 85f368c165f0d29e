package cluster

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/bounded"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// restingLoop is a rig whose loop, on a drive's fake clock, has made its
// first refresh, found nothing to poll for, and so waits MetadataMaxAge
// (an hour) after each refresh.
func restingLoop(t *testing.T) (*rig, *drive, time.Duration) {
	var d *drive
	r := newRigWith(t, fakebroker.Options{Nodes: 1, Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		d = drivenConfig(t, cfg)
	})
	require.NoError(t, d.take(bounded.Receive(t, d.refreshed, waitFor, "the refresh at start")))
	return r, d, r.c.cfg.MetadataMaxAge
}

// A refresh asked for when the loop's timer is due too is the refresh the
// timer starts: it reads what to ask for after the request, which it
// answers. Before, whenever the timer won the wake the request stayed
// pending, and a second refresh, asking the same, followed RetryBackoff
// after the first: at the producer's start, where the first refresh is due
// at once and a record's request for its unknown topic comes with it, half
// the time. Here the clock is moved to the loop's MetadataMaxAge wait as it
// is armed, and a refresh asked for, both ready when the loop wakes, which
// picks either at random; the refresh after that one must be the next
// MetadataMaxAge's. Sixteen times in a row, the timer won the wake about
// eight times.
func TestARefreshAskedForAsTheTimerFiresIsThatRefresh(t *testing.T) {
	r, d, maxAge := restingLoop(t)
	var fire atomic.Bool
	d.fake.BeforeArm(func(deadline time.Time) {
		// The wait, not the pause after a refresh.
		if wait := deadline.Sub(d.fake.Now()); wait > maxAge/2 && fire.Swap(false) {
			d.fake.Advance(wait)
			r.c.RequestRefresh("test, as the timer fires")
		}
	})
	t.Cleanup(func() { d.fake.BeforeArm(nil) })
	for i := range 16 {
		fire.Store(true)
		last := d.last
		require.NoError(t, d.poll())
		require.Equal(t, maxAge, d.last.Sub(last), "refresh %d, asked for as the timer fired", i)
		last = d.last
		require.NoError(t, d.poll())
		require.Equal(t, maxAge, d.last.Sub(last), "the refresh after refresh %d", i)
	}
}

// A refresh asked for during a refresh's round trip starts once the
// pause after it (RetryBackoff) is over, without the loop arming its
// MetadataMaxAge wait first: an armed wait means the loop is at rest, which
// a test reads in the clock's deadlines. Before, the loop armed it and
// stopped it at once for the request, and a test that saw it (the root
// package's TestALeaderNobodyCanReachAsksForMetadataOncePerFailedConnection)
// counted the refresh that followed as one of its own.
func TestTheLoopArmsItsWaitOnlyWithNoRefreshAskedFor(t *testing.T) {
	r, d, maxAge := restingLoop(t)
	var armedAsked atomic.Int32
	d.fake.BeforeArm(func(deadline time.Time) {
		if deadline.Sub(d.fake.Now()) > maxAge/2 && len(r.c.refreshCh) > 0 {
			armedAsked.Add(1)
		}
	})
	t.Cleanup(func() { d.fake.BeforeArm(nil) })
	var asked atomic.Bool
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if !asked.Swap(true) {
			r.c.RequestRefresh("test, during a round trip")
		}
		return fakebroker.Action{}
	})
	require.NoError(t, d.poll()) // MetadataMaxAge after the first; asks for the next
	require.True(t, asked.Load(), "the refresh went to no broker")
	last := d.last
	require.NoError(t, d.poll())
	require.Equal(t, loopBackoff, d.last.Sub(last), "the refresh asked for during the round trip")
	require.Equal(t, int32(0), armedAsked.Load(), "MetadataMaxAge waits armed with a refresh asked for")
}
