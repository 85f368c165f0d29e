package producer

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// One Metadata answer that leaves out a live broker (a lagging broker's,
// or one given while that broker was briefly fenced) stops that broker's
// sender, but the request it has in flight keeps its connection until
// answered: closed under it, the request the broker was processing would
// be written, its answer lost and its batch sent again, and without
// idempotence the record written twice. The Java client, too, keeps a
// connection to a node the metadata stops naming.
func TestABrokerLeftOutOfOneMetadataAnswerStillAnswersItsRequestsInFlight(t *testing.T) {
	b := leaveWithARequestHeld(t, false, withoutIdempotence)
	b.release()
	require.NoError(t, receive(t, b.outcome, "no outcome for the record of the node left out"))

	// A request written again reaches the broker after the first one was
	// processed, or at the same time: every request the broker took in has
	// its record written (one each) before the count.
	eventually(t, "every Produce request taken in written", func() bool { return b.fake.ProduceCount() == b.fake.ProduceRequests() })
	n := 0
	for _, r := range b.fake.Records("t", b.node) {
		if string(r.Value) == "once" {
			n++
		}
	}
	require.Equal(t, 1, n, "the record was written %d times after one Metadata answer left its leader out", n)
}

// The sender of a broker that left waits for the answers to its requests in
// flight, but not past Close: Close closes that connection too, and the
// record fails as maybe written.
func TestCloseEndsTheRequestsInFlightToABrokerThatLeft(t *testing.T) {
	b := leaveWithARequestHeld(t, false, withoutIdempotence)
	given, giveUp := context.WithCancel(context.Background())
	giveUp() // nothing more is waited for: what is in flight fails
	closed := make(chan error, 1)
	go func() { closed <- b.p.Close(given) }()
	require.ErrorIs(t, receive(t, closed, "Close waited for the request held at the broker that left"), context.Canceled)
	err := receive(t, b.outcome, "no outcome for the record of the node left out")
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, err, ErrMaybeWritten)
}

// A broker that left sends nothing more while it waits for its answers: a
// record for a partition whose leader moved goes to the new leader once
// the old one has answered the request in flight, behind the batch that
// request carried (refused there, NOT_LEADER_OR_FOLLOWER, and sent again).
func TestARecordForAPartitionWhoseLeaderLeftGoesToTheNewLeader(t *testing.T) {
	b := leaveWithARequestHeld(t, true, withoutIdempotence)
	moved := make(chan error, 1)
	b.p.Produce(ctx(t), &Record{Topic: "t", Partition: b.node, ExplicitPartition: true, Value: []byte("moved")},
		func(_ RecordMetadata, err error) { moved <- err })
	b.release()
	require.NoError(t, receive(t, b.outcome, "no outcome for the record held at the old leader"))
	require.NoError(t, receive(t, moved, "no outcome for the record produced after its leader moved"))
	require.Equal(t, int64(1), b.requests[b.node].Load(), "a request went to the broker that left after its held one")
	var values []string
	for _, r := range b.fake.Records("t", b.node) {
		values = append(values, string(r.Value))
	}
	require.Equal(t, []string{"warm", "once", "moved"}, values)
}

// heldAtALeftBroker is a producer whose record for partition node is held
// at its leader, node, which one Metadata answer has just left out.
type heldAtALeftBroker struct {
	fake    *fakebroker.Cluster
	p       *Producer
	node    int32
	release func()     // lets the broker write and answer the request
	outcome chan error // the record's
	// requests counts the Produce requests each node took in since the
	// record's.
	requests *[2]atomic.Int64
}

func withoutIdempotence(cfg *Config) { cfg.DisableIdempotence = true }

// leaveWithARequestHeld has each of two nodes lead one partition and hold
// the first Produce request for it. The refresh goes to one of them
// (AskAny picks at random) and waits behind that node's request: that node
// is let go first, answers, and then answers the Metadata request, leaving
// the other node out, whose request is still held. With moveLeader, that
// answer names the answering node the leader of the other node's
// partition. Both requests are let go at the test's end, before the
// producer closes, if the test has not let them go: the fake cluster's
// Close waits for its hooks.
func leaveWithARequestHeld(t *testing.T, moveLeader bool, mod func(*Config)) heldAtALeftBroker {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2}, KeepRecords: true,
		Leader: func(_ string, partition int32) int32 { return partition }})
	p := newProducer(t, c, mod)
	for partition := range int32(2) {
		_, err := p.Send(ctx(t), &Record{Topic: "t", Partition: partition, ExplicitPartition: true, Value: []byte("warm")})
		require.NoError(t, err)
	}

	gates := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	open := [2]func(){sync.OnceFunc(func() { close(gates[0]) }), sync.OnceFunc(func() { close(gates[1]) })}
	t.Cleanup(func() { open[0](); open[1]() })
	var requests [2]atomic.Int64
	c.OnProduce(func(node int32, _ *protocol.ProduceRequest) fakebroker.Action {
		if requests[node].Add(1) == 1 {
			<-gates[node] // later requests go through
		}
		return fakebroker.Action{}
	})
	var hide atomic.Bool
	c.OnMetadata(func(node int32, _ *protocol.MetadataRequest) fakebroker.Action {
		if hide.CompareAndSwap(true, false) {
			return fakebroker.Action{HideBrokers: []int32{1 - node}}
		}
		return fakebroker.Action{}
	})
	var nodes [2]*cluster.Node
	var conns [2]*conn.Conn
	outcomes := [2]chan error{make(chan error, 1), make(chan error, 1)}
	for node := range int32(2) {
		nodes[node] = p.cluster.Node(node)
		cn, err := nodes[node].Broker.Conn(ctx(t))
		require.NoError(t, err)
		conns[node] = cn
		p.Produce(ctx(t), &Record{Topic: "t", Partition: node, ExplicitPartition: true, Value: []byte("once")},
			func(_ RecordMetadata, err error) { outcomes[node] <- err })
	}
	eventually(t, "both Produce requests held at their brokers", func() bool {
		return requests[0].Load() > 0 && requests[1].Load() > 0
	})

	hide.Store(true)
	p.cluster.RequestRefresh("test")
	answering := int32(-1)
	eventually(t, "the Metadata request queued behind a held Produce request", func() bool {
		for node := range int32(2) {
			if conns[node].InFlight() == 2 {
				answering = node
				return true
			}
		}
		return false
	})
	left := 1 - answering
	if moveLeader {
		require.NoError(t, c.SetLeader("t", left, answering))
	}
	open[answering]()
	require.NoError(t, receive(t, outcomes[answering], "no outcome for the record of the node answering the refresh"))
	// Dropped, the node may be met again by the next refresh, as a new one.
	eventually(t, "the node left out of the answer dropped", func() bool { return p.cluster.Node(left) != nodes[left] })
	return heldAtALeftBroker{fake: c, p: p, node: left, outcome: outcomes[left], requests: &requests, release: open[left]}
}

// A broker left out of one Metadata answer and named by the next gets a new
// sender, on a new connection, while its old sender still waits for the
// answer to its request in flight. The new sender waits for the old one's
// end: sent at once, a later record of the same partition raced the held
// one. Without idempotence the broker wrote the later record first; with
// it, the broker refused the later batch as out of order, and its retry,
// which waited for the held request's answer, was never woken by it (the
// answer came to the old sender): the record failed at DeliveryTimeout.
func TestARecordSentToARejoinedBrokerWaitsForTheOldConnectionsAnswers(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"idempotent":          func(*Config) {},
		"without idempotence": withoutIdempotence,
	} {
		t.Run(name, func(t *testing.T) {
			waits := &countedLog{message: "broker back in the cluster's metadata; its sender starts once the last one has ended"}
			b := leaveWithARequestHeld(t, false, func(cfg *Config) {
				mod(cfg)
				cfg.Logger = slog.New(waits)
			})
			b.p.cluster.RequestRefresh("test: the broker is back")
			eventually(t, "the broker left out met again", func() bool { return b.p.cluster.Node(b.node) != nil })

			later := make(chan error, 1)
			b.p.Produce(ctx(t), &Record{Topic: "t", Partition: b.node, ExplicitPartition: true, Value: []byte("later")},
				func(_ RecordMetadata, err error) { later <- err })
			// Before, the new sender sent it at once; now it waits, as it
			// logs, for the old one to end.
			eventually(t, "the later record sent, or its sender waiting", func() bool {
				return b.requests[b.node].Load() > 1 || waits.n.Load() > 0
			})
			b.release()
			require.NoError(t, receive(t, b.outcome, "no outcome for the record held at the broker"))
			require.NoError(t, receive(t, later, "no outcome for the record produced after the broker rejoined"))
			var values []string
			for _, r := range b.fake.Records("t", b.node) {
				values = append(values, string(r.Value))
			}
			require.Equal(t, []string{"warm", "once", "later"}, values, "the records of one partition reordered")
		})
	}
}

// A Metadata answer that names a partition's leader but leaves that broker
// out of its brokers gives the partition no sender: its record times out
// unsent, and its error says why, where before it said only "sent 0
// times". As the Java client treats such a leader as none and asks for
// metadata, the metadata loop keeps asking while the record waits. On the
// fake clock only the loop's pacing and then DeliveryTimeout move.
func TestARecordWhoseLeaderIsNotAmongTheBrokersTimesOutNamingIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(_ string, partition int32) int32 { return partition }})
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{HideBrokers: []int32{1}}
	})
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 9*time.Second, NoLinger
		cfg.MetadataMaxAge = time.Hour
	})
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

	asked := c.MetadataRequests()
	eventually(t, "a Metadata request after the record's", func() bool {
		releasePacing(clk) // the loop's pacing only, never DeliveryTimeout
		return c.MetadataRequests() > asked+1
	})
	err := timedOutAfter(t, o, clk, 10*time.Second)
	require.ErrorContains(t, err, "never sent; the partition's last error: leader 1 is not among the brokers the metadata names")
	requireNamesItsPartitionOnce(t, err, "t", 1)
}

// A record lingering for a partition whose leader's broker the next
// Metadata answer leaves out, while naming it the leader still, times out
// unsent naming why, as one produced after that answer does.
func TestARecordWaitingWhenItsLeaderLeftTheBrokersTimesOutNamingIt(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(_ string, partition int32) int32 { return partition }})
	p, clk := lingeringOnFakeClock(t, c)
	learnTopic(t, p, clk, "t")
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{HideBrokers: []int32{1}}
	})
	p.cluster.RequestRefresh("test")
	// The cache publishes an answer before the producer hears of it and
	// books the partition's error: the news of the answer after the first
	// to leave node 1 out comes once that one's has been taken in.
	var spread <-chan struct{}
	eventually(t, "node 1 left out of the metadata, and the producer told", func() bool {
		releasePacing(clk)
		if spread != nil {
			select {
			case <-spread:
				return true
			default:
				return false
			}
		}
		if _, known := p.cluster.Snapshot().Broker(1); !known {
			spread = p.cluster.Changed()
			p.cluster.RequestRefresh("test")
		}
		return false
	})
	err := timedOutAfter(t, o, clk, 2*time.Hour) // lingeringOnFakeClock's DeliveryTimeout
	require.ErrorContains(t, err, "never sent; the partition's last error: leader 1 is not among the brokers the metadata names")
	requireNamesItsPartitionOnce(t, err, "t", 1)
}

// A record whose leader the metadata left out of its brokers for a while,
// then named among them again, is sent to it; its request unanswered, it
// times out in flight as maybe written, and its error no longer quotes the
// leader's absence, booked while it waited: the leader was among the
// brokers when it was sent. It was sent after the clock moved, so its
// RequestTimeout, as long as the DeliveryTimeout, ends after that.
func TestARecordTimingOutInFlightDoesNotBlameItsLeaderLeftOutBeforeItWasSent(t *testing.T) {
	c := startCluster(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 2},
		Leader: func(_ string, partition int32) int32 { return partition }})
	var leftOut atomic.Bool
	leftOut.Store(true)
	c.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		if leftOut.Load() {
			return fakebroker.Action{HideBrokers: []int32{1}}
		}
		return fakebroker.Action{}
	})
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action { return fakebroker.Action{Hang: true} })
	clk := clock.NewFake(heldClockStart)
	p := newProducer(t, c, func(cfg *Config) {
		cfg.clock = clk
		cfg.DeliveryTimeout, cfg.RequestTimeout, cfg.Linger = 10*time.Second, 10*time.Second, NoLinger
		cfg.MetadataMaxAge = time.Hour
	})
	learnTopic(t, p, clk, "t")
	produced := clk.Now()
	o := newOutcomes(1)
	p.Produce(ctx(t), &Record{Topic: "t", Partition: 1, ExplicitPartition: true, Value: []byte("v")}, o.cb(0))

	asked := c.MetadataRequests()
	eventually(t, "a Metadata request after the record's", func() bool {
		releasePacing(clk)
		return c.MetadataRequests() > asked+1
	})
	leftOut.Store(false)
	eventually(t, "the record sent to node 1, back among the brokers", func() bool {
		releasePacing(clk)
		return c.ProduceRequests() > 0
	})
	require.True(t, clk.Now().After(produced), "the record was sent before the clock moved")
	err := timedOutAfter(t, o, clk, produced.Add(10*time.Second).Sub(clk.Now()))
	require.ErrorIs(t, err, ErrMaybeWritten)
	require.ErrorContains(t, err, "sent once")
	require.NotContains(t, err.Error(), "not among the brokers", "node 1 was among them when the record was sent")
}

// timedOutAfter moves clk on by d, to the DeliveryTimeout of o's one
// record, which must have had no outcome before, and returns its error,
// a delivery timeout.
func timedOutAfter(t *testing.T, o *outcomes, clk *clock.Fake, d time.Duration) error {
	t.Helper()
	require.Zero(t, o.first.Load(), "the record has an outcome before its DeliveryTimeout")
	clk.Advance(d)
	o.wait(t, "the record at its DeliveryTimeout")
	err := o.one(t, 0).err
	require.ErrorIs(t, err, ErrDeliveryTimeout)
	return err
}
