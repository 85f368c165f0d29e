package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
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

// A refusal speaks for the cluster only when no broker of AskAny's failure
// may answer next time: one briefly unreachable, even behind its reconnect
// backoff, may let the producer in.
func TestARefusalSpeaksForTheClusterOnlyWhenNoBrokerMayAnswer(t *testing.T) {
	refused := &conn.AuthError{Addr: "a:9093", Mechanism: "TLS", Err: errors.New("unknown authority")}
	down := fmt.Errorf("%w: dialing b:9093: connection refused", conn.ErrDisconnected)
	noVersion := errors.New("the broker speaks no common Metadata version")
	failed := func(errs ...error) error {
		return fmt.Errorf("%w: %w", ErrNoBroker, brokersFailed(errs))
	}
	for _, tc := range []struct {
		name string
		err  error
		want *conn.AuthError
	}{
		{"every broker refused", failed(refused, &conn.BackoffError{Addr: "a:9093", Until: time.Now(), Err: refused}), refused},
		{"the other speaks no common version", failed(noVersion, refused), refused},
		{"the other is down", failed(refused, down), nil},
		{"the other is down, behind its backoff", failed(&conn.BackoffError{Addr: "b:9093", Until: time.Now(), Err: down}, refused), nil},
		{"no refusal", failed(noVersion), nil},
		{"not AskAny's", refused, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Refusal(tc.err); got != tc.want {
				t.Errorf("Refusal(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// A caller that may send InitProducerId up to v2 meets a coordinator that
// speaks v3 and later only: nothing is sent, and the error names the API
// and both ranges. The version under the cap was sent, and the broker
// closed the connection on it.
func TestAskingACoordinatorWhoseOldestVersionIsAboveOursSendsNothing(t *testing.T) {
	r := newRig(t, fakebroker.Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.InitProducerId: {Min: 3, Max: 5},
	}}, 1)
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1, TransactionTimeoutMs: 60000}
	_, err := r.c.AskCoordinator(context.Background(), TransactionCoordinator, "tx", req, protocol.VersionRange{Max: 2})
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.ErrorIs(t, err, conn.ErrNotSent)
	require.ErrorContains(t, err, "no common version of InitProducerId: we speak v0-v2, the broker v3-v5")
	require.Zero(t, r.fake.InitProducerIdRequests(), "InitProducerId sent below the broker's range")
}

// No version fits a request only when every broker asked said it speaks
// none: one down, refusing the producer, or not asked before the ctx
// ended may speak one when asked again.
func TestNoVersionFitsOnlyWhenEveryBrokerAskedSpeaksNone(t *testing.T) {
	noVersion := fmt.Errorf("a:9092: %w: %w", conn.ErrNotSent,
		&protocol.VersionError{API: protocol.FindCoordinator, Ours: protocol.VersionRange{Max: 6}, Theirs: protocol.VersionRange{Min: 1}})
	down := fmt.Errorf("%w: dialing b:9092: connection refused", conn.ErrDisconnected)
	refused := &conn.AuthError{Addr: "b:9093", Mechanism: "TLS", Err: errors.New("unknown authority")}
	failed := func(errs ...error) error {
		return fmt.Errorf("%w: %w", ErrNoBroker, brokersFailed(errs))
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"every broker speaks none", failed(noVersion, noVersion), true},
		{"the other is down", failed(noVersion, down), false},
		{"the other refused the producer", failed(noVersion, refused), false},
		{"the ctx ended before the other answered", failed(noVersion, context.Canceled), false},
		{"no broker to ask", failed(), false},
		{"the coordinator speaks none", fmt.Errorf("transaction coordinator for %q: %w", "tx", noVersion), true},
		{"a version refused in an answer", fmt.Errorf("EndTxn: %w", protocol.ErrUnsupportedVersion), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, NoVersionFits(tc.err), "%v", tc.err)
		})
	}
}

// A request that timed out names itself and its broker once: the
// connection's error names both, and neither AskAny nor askVersion names
// them again. A seed that is also a node is not asked again: the same
// broker would time out again, and be listed twice. The text read
// "Metadata: no broker answered: Metadata from <addr>: request timed out:
// Metadata v13 (correlation id 1) to <addr> had no response ...", twice.
func TestATimedOutRequestNamesItselfAndItsBrokerOnce(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = fake
		cfg.Conn.RequestTimeout = time.Second
	})
	r.awaitTopic("t") // node 0 is known, at the seed's address
	hang := "hang"
	hung := make(chan struct{}, 1)
	r.fake.OnMetadata(func(_ int32, req *protocol.MetadataRequest) fakebroker.Action {
		if len(req.Topics) == 0 || *req.Topics[0].Name != hang {
			return fakebroker.Action{} // the loop's own refreshes
		}
		select {
		case hung <- struct{}{}:
		default:
		}
		return fakebroker.Action{Hang: true}
	})
	asked := make(chan error, 1)
	go func() {
		req := &protocol.MetadataRequest{Topics: []protocol.MetadataRequestTopic{{Name: &hang}}}
		_, err := r.c.AskAny(context.Background(), req)
		asked <- err
	}()
	var err error
	for done := false; !done; {
		select {
		case <-hung:
			fake.Advance(time.Second)
		case err = <-asked:
			done = true
		case <-time.After(waitFor):
			t.Fatal("AskAny did not return once its request timed out")
		}
	}
	require.ErrorIs(t, err, ErrNoBroker)
	require.ErrorIs(t, err, conn.ErrRequestTimeout)
	addr := r.fake.Addrs()[0]
	require.Equal(t, 1, strings.Count(err.Error(), addr), "%v", err)
	// The request that timed out is the oldest on the connection: this
	// one, or a refresh of the cluster's own still unread when the clock
	// moved, whose timeout then fails this one too, which names itself
	// before it. Either way each request is named once.
	require.Regexp(t, `^no broker answered: (Metadata v\d+ \(correlation id \d+\): )?request timed out: Metadata v\d+ \(correlation id \d+\) to `+
		regexp.QuoteMeta(addr)+` had no response within 1s; connection closed$`, err.Error())
	named := regexp.MustCompile(`\(correlation id \d+\)`).FindAllString(err.Error(), -1)
	require.Equal(t, len(named), len(slices.Compact(slices.Sorted(slices.Values(named)))), "a request named twice: %v", err)
}

// Only a request a connection took may have reached the coordinator: one
// whose coordinator was not found never left, and says so (conn.ErrNotSent),
// as one a connection did not write does. A transaction's commit whose
// EndTxn met no coordinator so was taken for one that may have committed,
// and its outcome for unknown, whatever the coordinator answered later. A
// request whose connection broke under it did leave.
func TestOnlyARequestAConnectionTookMayHaveReachedTheCoordinator(t *testing.T) {
	r := newRig(t, fakebroker.Options{}, 1)
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1, TransactionTimeoutMs: 60000}

	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return 0, fakebroker.Action{Err: kerr.CoordinatorNotAvailable}
	})
	_, err := r.c.AskCoordinator(context.Background(), TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.ErrorIs(t, err, kerr.CoordinatorNotAvailable)
	require.ErrorIs(t, err, conn.ErrNotSent, "no coordinator found")
	require.Zero(t, r.fake.InitProducerIdRequests())

	r.fake.OnFindCoordinator(nil)
	r.fake.OnInitProducerId(func(int32, *protocol.InitProducerIdRequest) fakebroker.Action {
		return fakebroker.Action{Drop: true}
	})
	_, err = r.c.AskCoordinator(context.Background(), TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	require.NotErrorIs(t, err, conn.ErrNotSent, "the connection broke under the request")
}

func TestAskAnyPassesOverBrokersItCannotReach(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 2)
	r.awaitTopic("t")
	require.NoError(t, r.fake.DropConnections(0))
	r.fake.OnMetadata(func(node int32, _ *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{Drop: node == 0} // node 0 hangs up
	})
	for range 5 {
		resp, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
		require.NoError(t, err)
		require.IsType(t, &protocol.MetadataResponse{}, resp)
	}
}

// Once nodes are known, a request goes to a seed only if every node failed
// it: a seed that is gone, which a seed list outlives, cost a dial, and a
// failed request or a dial timeout, whenever the shuffle put it first.
func TestAskAnyAsksTheSeedsOnlyAfterTheNodes(t *testing.T) {
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { gone.Close() })
	var dials atomic.Int64
	go func() {
		for {
			c, err := gone.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close() // a broker that is no more
		}
	}()
	r := newRigWith(t, fakebroker.Options{Topics: map[string]int32{"t": 1}}, 1, func(cfg *Config) {
		cfg.Seeds = append(cfg.Seeds, gone.Addr().String())
	})
	r.awaitTopic("t") // the node is known
	before := dials.Load()
	for range 30 {
		_, err := r.c.AskAny(context.Background(), &protocol.MetadataRequest{})
		require.NoError(t, err)
	}
	require.Equal(t, before, dials.Load(), "a seed was dialled while the node answered")
}

// A node with a live connection is asked before one that AskAny would
// have to dial: the dial costs round trips (and, with SASL, an
// authentication) before the request can go, and makes one more
// connection to keep. The Java client's leastLoadedNode, too, prefers a
// node with a ready connection.
func TestAskAnyAsksAConnectedNodeBeforeOneItWouldDial(t *testing.T) {
	fake, err := fakebroker.Start(fakebroker.Options{Nodes: 2})
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c := New(Config{Seeds: fake.Addrs()[:1], Clock: clock.Real{}, Logger: logger,
		Conn: conn.Config{Logger: logger, RequestTimeout: waitFor}})
	t.Cleanup(c.Close)
	require.NoError(t, c.refresh(context.Background())) // through the seed
	_, err = c.Node(1).Broker.Conn(context.Background())
	require.NoError(t, err)
	require.Equal(t, conn.Dialable, c.Node(0).Broker.Readiness(), "node 0, never dialled")
	for range 10 { // the nodes are shuffled each time
		require.Same(t, c.Node(1).Broker, c.brokers()[0], "the broker AskAny asks first")
	}
}

// A node whose host stopped answering, which its sender keeps dialling, is
// asked only after the connected nodes: AskAny joining that dial made one
// metadata request in three wait up to ConnectionSetupTimeout while two
// brokers had live connections. The Java client's leastLoadedNode, too,
// prefers a node with a ready connection over one connecting.
func TestAskAnyDoesNotWaitOnADialWhileOtherNodesAreConnected(t *testing.T) {
	var hanging atomic.Value // the address whose dials hang, until closed
	hanging.Store("")
	dialing := make(chan struct{}, 1)
	backoffClock := clock.NewFake(time.Unix(1_700_000_000, 0))
	r := newRigWith(t, fakebroker.Options{Nodes: 3, Topics: map[string]int32{"t": 3}}, 1, func(cfg *Config) {
		cfg.Conn.Clock = backoffClock
		cfg.Conn.DialTimeout = time.Hour
		cfg.Conn.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr == hanging.Load().(string) {
				select {
				case dialing <- struct{}{}:
				default:
				}
				<-ctx.Done() // a host that drops packets
				return nil, ctx.Err()
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	})
	r.awaitTopic("t")
	var node1 *conn.Conn
	for id := int32(0); id < 3; id++ {
		cn, err := r.c.Node(id).Broker.Conn(context.Background())
		require.NoError(t, err)
		if id == 1 {
			node1 = cn
		}
	}
	// Node 1's host goes dark: its connection breaks, and once the
	// reconnect backoff is over its sender dials it, and waits.
	hanging.Store(r.c.Node(1).Broker.Addr())
	node1.Close()
	_, err := r.c.Node(1).Broker.Conn(context.Background())
	require.ErrorIs(t, err, conn.ErrBackoff)
	backoffClock.Advance(r.c.Node(1).Broker.NextAttempt().Sub(backoffClock.Now()))
	go r.c.Node(1).Broker.Conn(context.Background()) // until Close
	bounded.Receive(t, dialing, waitFor, "node 1 was never dialled")

	for i := range 30 {
		ctx, cancel := context.WithTimeoutCause(context.Background(), waitFor,
			fmt.Errorf("request %d waited on the dial to node 1 while nodes 0 and 2 were connected", i))
		_, err := r.c.AskAny(ctx, &protocol.MetadataRequest{})
		cancel()
		require.NoError(t, err)
	}
}
