package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
	"github.com/gokafka/producer/sasl/plain"
)

func TestACoordinatorIsFoundOnceAndFoundAgainWhenForgotten(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2}, 1)
	coordinator := int32(1)
	var mu sync.Mutex
	var asked []string
	r.fake.OnFindCoordinator(func(_ int32, keyType int8, key string) (int32, fakebroker.Action) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, fmt.Sprint(keyType, " ", key))
		return coordinator, fakebroker.Action{}
	})
	ctx := context.Background()
	b, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[1], b.Addr())
	again, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Same(t, b, again)
	require.Equal(t, int64(1), r.fake.FindCoordinatorRequests(), "cached")
	mu.Lock()
	require.Equal(t, []string{fmt.Sprint(int8(TransactionCoordinator), " tx")}, asked)
	mu.Unlock()

	mu.Lock()
	coordinator = 0 // it moved; the old one would say NOT_COORDINATOR
	mu.Unlock()
	r.c.ForgetCoordinator(TransactionCoordinator, "tx")
	moved, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[0], moved.Addr())
}

// A coordinator whose connection fails a request is forgotten, and the
// next request looks the coordinator up again: it may have moved (its
// broker restarting hands the transactions it coordinated to another),
// and kept, the one that failed would be asked again and again while the
// new one went unasked.
func TestACoordinatorThatFailedARequestIsLookedUpAgain(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2}, 1)
	var coordinator atomic.Int32
	coordinator.Store(1)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return coordinator.Load(), fakebroker.Action{}
	})
	r.fake.OnInitProducerId(func(node int32, _ *protocol.InitProducerIdRequest) fakebroker.Action {
		return fakebroker.Action{Drop: node == 1} // node 1 hangs up: it is going down
	})
	ctx := context.Background()
	req := &protocol.InitProducerIdRequest{ProducerID: -1, ProducerEpoch: -1, TransactionTimeoutMs: 60000}
	_, err := r.c.AskCoordinator(ctx, TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.ErrorIs(t, err, conn.ErrDisconnected)
	_, known := r.c.KnownCoordinator(TransactionCoordinator, "tx")
	require.False(t, known, "the coordinator whose connection failed the request is still known")

	coordinator.Store(0) // node 0 took the transactions over
	_, err = r.c.AskCoordinator(ctx, TransactionCoordinator, "tx", req, protocol.AllVersions)
	require.NoError(t, err, "the request after the coordinator moved")
	require.Equal(t, int64(2), r.fake.FindCoordinatorRequests(), "lookups")
}

func TestACoordinatorNotAvailableIsRetriable(t *testing.T) {
	r := newRig(t, fakebroker.Options{}, 1)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return 0, fakebroker.Action{Err: kerr.CoordinatorNotAvailable}
	})
	_, err := r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.ErrorIs(t, err, kerr.CoordinatorNotAvailable)
	require.True(t, Retriable(err))
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) {
		return 0, fakebroker.Action{Err: kerr.GroupAuthorizationFailed}
	})
	_, err = r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.ErrorIs(t, err, kerr.GroupAuthorizationFailed)
	require.False(t, Retriable(err))
}

// A FindCoordinator answer's message and the host it names are the
// broker's text: they reach the lookup's error, and the errors of every
// request to the coordinator, quoted, control characters escaped, and cut
// after 512 bytes. Before, a line break in them faked a line of the
// application's log and an escape ran on its terminal. Up to v3 the answer
// is the response's own fields, from v4 its entry for the key; the Kafka
// error still matches, and a host a resolver takes is as it came.
func TestACoordinatorAnswersTextIsShownSafely(t *testing.T) {
	evil, long := "loading\n\x1b[2Jkprod: done", strings.Repeat("x", 600)+"THE END"
	_, _, err := coordinatorIn(&protocol.FindCoordinatorResponse{
		ErrorCode: kerr.CoordinatorLoadInProgress.Code, ErrorMessage: &evil}, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress)
	require.Contains(t, err.Error(), `("loading\n\x1b[2Jkprod: done")`)
	require.NotContains(t, err.Error(), "\n")

	_, _, err = coordinatorIn(&protocol.FindCoordinatorResponse{Coordinators: []protocol.FindCoordinatorResponseCoordinator{
		{Key: "tx", ErrorCode: kerr.CoordinatorLoadInProgress.Code, ErrorMessage: &long}}}, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, kerr.CoordinatorLoadInProgress)
	require.Contains(t, err.Error(), `("`+strings.Repeat("x", 512)+`"... (607 bytes))`)
	require.NotContains(t, err.Error(), "THE END")

	for host, want := range map[string]string{
		"b1.example":  "b1.example:9092",
		"b1\n\x1b[2J": `"b1\n\x1b[2J":9092`,
		long:          `"` + strings.Repeat("x", 512) + `"... (607 bytes):9092`,
	} {
		id, addr, err := coordinatorIn(&protocol.FindCoordinatorResponse{Coordinators: []protocol.FindCoordinatorResponseCoordinator{
			{Key: "tx", NodeID: 1, Host: host, Port: 9092}}}, TransactionCoordinator, "tx")
		require.NoError(t, err)
		require.Equal(t, int32(1), id)
		require.Equal(t, want, addr)
	}
}

// Every broker refuses the producer (its SASL finds no mechanism the
// broker speaks): the lookup fails without any broker's answer, but a
// refusal is not a failure that heals, so the transaction calls must not
// ask again until their ctx ends.
func TestACoordinatorLookupRefusedIsNotRetriable(t *testing.T) {
	r := newRigWith(t, fakebroker.Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.SaslHandshake: {Min: 1, Max: 0}, // the broker offers no SASL
	}}, 1, func(cfg *Config) { cfg.Conn.SASL = plain.New("u", "p") })
	_, err := r.c.Coordinator(context.Background(), TransactionCoordinator, "tx")
	require.ErrorIs(t, err, conn.ErrAuthentication)
	require.ErrorIs(t, err, ErrNoBroker)
	require.False(t, Retriable(err))
}

// FindCoordinator v0 has no KeyType: a transactional id's lookup sent at
// v0 reads as a group's, and would find the coordinator of a group named
// as the id. A broker speaking v0 alone (no Kafka broker since 0.11,
// when transactions came with v1) gets nothing, and the error names the
// API and both ranges, a failure no version fits; a group's lookup still
// goes at v0.
func TestATransactionCoordinatorIsNotLookedUpAtV0(t *testing.T) {
	r := newRig(t, fakebroker.Options{Versions: map[protocol.APIKey]protocol.VersionRange{
		protocol.FindCoordinator: {Min: 0, Max: 0},
	}}, 1)
	var mu sync.Mutex
	var keyTypes []int8
	r.fake.OnFindCoordinator(func(_ int32, keyType int8, _ string) (int32, fakebroker.Action) {
		mu.Lock()
		defer mu.Unlock()
		keyTypes = append(keyTypes, keyType)
		return 0, fakebroker.Action{}
	})
	ctx := context.Background()
	_, err := r.c.Coordinator(ctx, TransactionCoordinator, "tx")
	require.ErrorIs(t, err, protocol.ErrUnsupportedVersion)
	require.ErrorContains(t, err, "no common version of FindCoordinator: we speak v1-v6, the broker v0-v0")
	require.True(t, NoVersionFits(err), "%v", err)
	require.Zero(t, r.fake.FindCoordinatorRequests(), "a transaction coordinator looked up at v0")

	_, err = r.c.Coordinator(ctx, GroupCoordinator, "g")
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int8{protocol.CoordinatorKeyGroup}, keyTypes)
}

// One broker refusing the producer while the other could not be reached
// (restarting, say) may heal: the lookup is asked again. Only a refusal
// from every broker asked is final.
func TestARefusalAmongBrokersNotReachedIsRetriable(t *testing.T) {
	refused := &conn.AuthError{Addr: "b1:9092", Mechanism: "PLAIN", Err: kerr.SaslAuthenticationFailed}
	down := fmt.Errorf("%w: dialing b2:9092: connection refused", conn.ErrDisconnected)
	asked := func(errs ...error) error {
		return fmt.Errorf("%w: %w", ErrNoBroker, brokersFailed(errs))
	}
	require.True(t, Retriable(asked(refused, down)), "one refusal of two")
	require.False(t, Retriable(asked(refused, refused)), "both refused")
	require.False(t, Retriable(fmt.Errorf("EndTxn: %w", refused)), "the coordinator's own refusal")
}

func TestANodeTheMetadataDoesNotNameMayStillCoordinate(t *testing.T) {
	r := newRig(t, fakebroker.Options{Nodes: 2, Topics: map[string]int32{"t": 1}}, 1)
	r.awaitTopic("t")
	r.fake.OnMetadata(func(int32, *protocol.MetadataRequest) fakebroker.Action {
		return fakebroker.Action{HideBrokers: []int32{1}}
	})
	require.Eventually(t, func() bool {
		r.c.RequestRefresh("test")
		return r.c.Node(1) == nil
	}, waitFor, 10*time.Millisecond)
	r.fake.OnFindCoordinator(func(int32, int8, string) (int32, fakebroker.Action) { return 1, fakebroker.Action{} })
	b, err := r.c.Coordinator(context.Background(), GroupCoordinator, "g")
	require.NoError(t, err)
	require.Equal(t, r.fake.Addrs()[1], b.Addr(), "FindCoordinator's address serves")
	_, err = b.Conn(context.Background())
	require.NoError(t, err)
}
