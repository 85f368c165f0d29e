package producer

import (
	"context"
	"net"
	"os"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/fakebroker"
)

// PartitionsFor of a topic that does not exist asks for metadata once and
// leaves the metadata loop to poll for the awaited topic, with backoff:
// 10, 20, 40 and 80ms, then RetryBackoffMax (100ms), each ±20%: from 11
// to 18 Metadata requests in a second. Before, it asked again after every
// update, and the loop refreshed every RetryBackoff (10ms) for as long as
// it waited, about 100 requests a second. On the fake clock only the
// loop's pacing moves.
func TestPartitionsForOfAMissingTopicLeavesTheLoopToPollWithBackoff(t *testing.T) {
	c := startCluster(t, fakebroker.Options{})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock, cfg.MaxBlock = clk, time.Hour
		cfg.MetadataMaxAge = 5 * time.Hour
	})
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan error, 1)
	go func() {
		_, err := p.PartitionsFor(ctx, "nope")
		failed <- err
	}()
	until := clk.Now().Add(time.Second)
	eventually(t, "a second of the loop's pacing", func() bool {
		releasePacing(clk)
		return !clk.Now().Before(until)
	})
	cancel()
	require.ErrorIs(t, receive(t, failed, "PartitionsFor once its ctx ended"), ErrUnknownTopic)
	require.LessOrEqual(t, c.MetadataRequests(), int64(25), "Metadata requests in a second")
}

// A held record naming a partition its topic does not have yet leaves the
// metadata loop to poll for that partition with backoff, as for a missing
// topic (see above), and is sent once the partition is added. Before, its
// drain asked for a refresh after every update, and the loop refreshed
// every RetryBackoff for as long as the record waited.
func TestARecordWaitingForAPartitionLeavesTheLoopToPollWithBackoff(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Topics: map[string]int32{"t": 2}, KeepRecords: true})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	before := c.MetadataRequests()
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 5, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	until := clk.Now().Add(time.Second)
	eventually(t, "a second of the loop's pacing", func() bool {
		releasePacing(clk)
		return !clk.Now().Before(until)
	})
	require.LessOrEqual(t, c.MetadataRequests()-before, int64(25), "Metadata requests in a second")

	require.NoError(t, c.AddPartitions("t", 6))
	go func() { _ = p.Flush(ctx(t)) }()
	eventually(t, "the record's outcome", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.NoError(t, o.one(t, 0).err)
	require.Len(t, c.Records("t", 5), 1)
}

// unreachableDialer refuses every dial to addr, as a host with nobody
// listening does, and counts them; it dials the other addresses.
type unreachableDialer struct {
	addr    string
	refused atomic.Int64
}

func (d *unreachableDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr == d.addr {
		d.refused.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

// A record waiting for a leader the metadata names but nobody can connect
// to asks for metadata once per connection that failed, not once every
// RetryBackoff. Before, the sender asked on every pass, also when its
// broker's reconnect backoff refused to dial, and each refresh's wake made
// the next pass: a Metadata request every RetryBackoff (10 a second at
// the default) until the record's DeliveryTimeout, every answer the same.
// Here the reconnect backoff outlasts the steps, so one dial fails, and
// the loop's pacing cannot grow past RetryBackoff.
func TestALeaderNobodyCanReachAsksForMetadataOncePerFailedConnection(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(_ string, p int32) int32 { return p }})
	clk := clock.NewFake(heldClockStart)
	dialer := &unreachableDialer{addr: c.Addrs()[1]}
	const (
		backoff          = 100 * time.Millisecond
		reconnectBackoff = 10 * time.Minute
		maxAge           = 5 * time.Hour
		deliveryTimeout  = time.Hour
	)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.Brokers = c.Addrs()[:1]
		cfg.Dialer = dialer
		cfg.RetryBackoff, cfg.RetryBackoffMax = backoff, backoff
		cfg.ReconnectBackoff, cfg.ReconnectBackoffMax = reconnectBackoff, reconnectBackoff
		cfg.Linger, cfg.DeliveryTimeout, cfg.MetadataMaxAge = NoLinger, deliveryTimeout, maxAge
	})
	loopAwaitsMaxAge := func() bool {
		return slices.ContainsFunc(clk.Deadlines(), func(d time.Time) bool {
			return d.Sub(clk.Now()) > maxAge/2 // the loop's only timer that long
		})
	}
	// A record for broker 0 first: once it is acknowledged, the producer
	// id is assigned, and nothing else is under way.
	o := newOutcomes(2)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 0, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))
	eventually(t, "the record for broker 0 acknowledged", func() bool {
		releasePacing(clk)
		return o.first.Load() == 1
	})
	require.NoError(t, o.one(t, 0).err)
	// The loop arms its MetadataMaxAge wait only with no refresh asked for:
	// once it is armed, no refresh is under way or due but the ones the
	// record below causes.
	eventually(t, "the metadata loop waiting for MetadataMaxAge", func() bool {
		releasePacing(clk)
		return loopAwaitsMaxAge()
	})
	// A request sent to any broker (InitProducerId, Metadata) may have gone
	// to broker 1, and its refused dial started the reconnect backoff: past
	// it, the sender's first attempt for the record below dials.
	clk.Advance(reconnectBackoff * 3 / 2)
	refusedBefore := dialer.refused.Load()
	askedBefore := c.MetadataRequests()
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("v")}, o.cb(1))
	eventually(t, "the refresh the refused dial asked for", func() bool {
		return dialer.refused.Load() > refusedBefore && c.MetadataRequests() > askedBefore
	})
	const steps = 20
	for range steps {
		clk.Advance(backoff)
		n := c.MetadataRequests()
		eventually(t, "a Metadata request, or the metadata loop waiting for MetadataMaxAge", func() bool {
			return c.MetadataRequests() > n || loopAwaitsMaxAge()
		})
	}
	requests, refused := c.MetadataRequests()-askedBefore, dialer.refused.Load()-refusedBefore
	require.Equal(t, int64(1), refused, "dials to broker 1 within its reconnect backoff")
	require.Equal(t, refused, requests,
		"%d Metadata requests over %v for %d refused dial; the metadata never changed", requests, steps*backoff, refused)

	clk.Advance(deliveryTimeout)
	eventually(t, "the record's DeliveryTimeout", func() bool {
		releasePacing(clk)
		return o.done()
	})
	require.ErrorIs(t, o.one(t, 1).err, ErrDeliveryTimeout)
	require.ErrorContains(t, o.one(t, 1).err, "broker 1 unreachable")
}
