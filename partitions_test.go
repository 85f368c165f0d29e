package producer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// PartitionsFor's MaxBlock counts from the call, so a clock that moves
// between the call's start and the arming of its timer (here every time:
// the fake moves it by MaxBlock just before the arming, as a test's
// Advance may while the calling goroutine is descheduled) still ends the
// wait at MaxBlock. Armed for MaxBlock from the arming, the timer waited
// a second MaxBlock, which the clock, moved no more, never reached: the
// call waited for its ctx.
func TestPartitionsForEndsAtMaxBlockThoughTheClockMovedBeforeItsTimer(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clk := clock.NewFake(start)
	// No other timer lasts MaxBlock: with no record produced, the expiry
	// loop sleeps DeliveryTimeout (its default) at most.
	const maxBlock = 7 * time.Hour
	var once sync.Once
	clk.BeforeArm(func(deadline time.Time) {
		if deadline.Equal(start.Add(maxBlock)) {
			once.Do(func() { clk.Advance(maxBlock) })
		}
	})
	c := startCluster(t, fakebroker.Options{})
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock = maxBlock
	})
	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(context.Background(), "never")
		failed <- err
	}()
	err := receive(t, failed, "PartitionsFor at MaxBlock from its call")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "no metadata within MaxBlock")
}

// oneMoreRefusal refuses every dial, as crypto/tls does for a broker
// certificate of an unknown CA, until arm is called; then it refuses one
// more, and every later dial waits for its ctx: the test knows that no
// refusal comes but the one it let through.
type oneMoreRefusal struct {
	armed, spent atomic.Bool
}

func (d *oneMoreRefusal) arm() { d.armed.Store(true) }

func (d *oneMoreRefusal) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if d.armed.Load() && d.spent.Swap(true) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
}

// A refusal by every broker that comes after PartitionsFor began, but
// before it first looked (here every time: the fake clock's hook, run as
// the call arms its MaxBlock timer, waits for one), fails the call at
// once. The call took the refusal to compare later ones with only as it
// looked, so it took that one for a refusal cached before the call and
// waited for the next refresh, which the clock, moved no more, never
// brought: it waited for its ctx, or MaxBlock.
func TestARefusalThatComesAsPartitionsForBeginsFailsIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 1}})
	d := &oneMoreRefusal{}
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	const maxBlock = 7 * time.Hour
	p := newProducer(t, c, func(cfg *Config) { cfg.clock, cfg.Dialer, cfg.MaxBlock = clk, d, maxBlock })
	eventually(t, "the first metadata refresh refused", func() bool { return p.auth.last.Load() != nil })

	called := clk.Now()
	var once sync.Once
	clk.BeforeArm(func(deadline time.Time) {
		if !deadline.Equal(called.Add(maxBlock)) {
			return
		}
		// On the call's goroutine: a refresh refused since the call
		// began, paced by the clock, which moves only here.
		once.Do(func() {
			before := p.auth.last.Load()
			d.arm()
			for give := time.Now().Add(waitFor); p.auth.last.Load() == before; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(give) {
					t.Errorf("no metadata refresh refused within %v", waitFor)
					return
				}
				releasePacing(clk)
			}
		})
	})
	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(ctx(t), "t")
		failed <- err
	}()
	assertAuthFailure(t, receive(t, failed, "PartitionsFor failing with the refusal that came as it began"))
}

// PartitionsFor gives up on a topic whose metadata does not come within
// MaxBlock, as the Java client's partitionsFor does: with
// context.Background() it waited for ever.
func TestPartitionsForGivesUpAfterMaxBlock(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.MaxBlock = time.Minute
	})
	done := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(context.Background(), "never")
		done <- err
	}()
	var err error
	eventually(t, "PartitionsFor to give up", func() bool {
		select {
		case err = <-done:
			return true
		default:
			clk.Advance(time.Minute)
			return false
		}
	})
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorContains(t, err, "MaxBlock")
}

func TestPartitionsForWaitsForMetadata(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"known": 4}})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "known")
	require.NoError(t, err)
	require.Equal(t, 4, n)

	done := make(chan error, 1)
	go func() {
		n, err := p.PartitionsFor(ctx(t), "later")
		if err == nil && n != 3 {
			err = fmt.Errorf("got %d partitions, want 3", n)
		}
		done <- err
	}()
	require.NoError(t, c.CreateTopic("later", 3))
	require.NoError(t, receive(t, done, "PartitionsFor did not see a topic created after the call"))

	short, cancel := context.WithTimeout(ctx(t), 300*time.Millisecond)
	defer cancel()
	_, err = p.PartitionsFor(short, "never")
	require.ErrorIs(t, err, ErrUnknownTopic)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A topic nobody waits for any more is not asked for again: a refresh
	// that asks for "probe", wanted only after "never" was given up, leaves
	// "never" out. (A refresh built before that may still be on its way.)
	var probed, again atomic.Bool
	c.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		var probe, never bool
		for _, t := range req.Topics {
			if t.Name != nil {
				probe = probe || *t.Name == "probe"
				never = never || *t.Name == "never"
			}
		}
		if probe {
			probed.Store(true)
			again.CompareAndSwap(false, never)
		}
		return fakebroker.Action{}
	})
	require.NoError(t, c.CreateTopic("probe", 1))
	_, err = p.PartitionsFor(ctx(t), "probe")
	require.NoError(t, err)
	require.True(t, probed.Load())
	require.False(t, again.Load(), "a topic nobody waits for any more is asked for again")
	// An invalid name fails at once, naming the topic as PartitionsFor's
	// other errors do (it was a bare ErrInvalidRecord).
	_, err = p.PartitionsFor(ctx(t), "bad name")
	require.ErrorIs(t, err, ErrInvalidRecord)
	var pe *PartitionError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, PartitionError{Topic: "bad name", Partition: -1, Err: pe.Err}, *pe)
}

// PartitionsFor after Close fails with ErrClosed, also for a topic whose
// metadata the producer has: a closed producer's count could be stale, and
// every other call says so after Close.
func TestPartitionsForAfterCloseFailsWithErrClosed(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 4}})
	p := newProducer(t, c, nil)
	n, err := p.PartitionsFor(ctx(t), "t")
	require.NoError(t, err)
	require.Equal(t, 4, n)
	require.NoError(t, p.Close(ctx(t)))
	_, err = p.PartitionsFor(ctx(t), "t")
	require.ErrorIs(t, err, ErrClosed)
}
