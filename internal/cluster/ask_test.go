package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/protocol"
)

// A refusal speaks for the cluster only when no broker of AskAny's failure
// may answer next time: one briefly unreachable, even behind its reconnect
// backoff, may let the producer in.
func TestARefusalSpeaksForTheClusterOnlyWhenNoBrokerMayAnswer(t *testing.T) {
	refused := &conn.AuthError{Addr: "a:9093", Mechanism: "TLS", Err: errors.New("unknown authority")}
	down := fmt.Errorf("%w: dialing b:9093: connection refused", conn.ErrDisconnected)
	noVersion := errors.New("the broker speaks no common Metadata version")
	failed := func(errs ...error) error {
		return fmt.Errorf("Metadata: %w: %w", ErrNoBroker, brokersFailed(errs))
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
	noVersion := fmt.Errorf("FindCoordinator from a:9092: %w: %w", conn.ErrNotSent,
		&protocol.VersionError{API: protocol.FindCoordinator, Ours: protocol.VersionRange{Max: 6}, Theirs: protocol.VersionRange{Min: 1}})
	down := fmt.Errorf("%w: dialing b:9092: connection refused", conn.ErrDisconnected)
	refused := &conn.AuthError{Addr: "b:9093", Mechanism: "TLS", Err: errors.New("unknown authority")}
	failed := func(errs ...error) error {
		return fmt.Errorf("FindCoordinator: %w: %w", ErrNoBroker, brokersFailed(errs))
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
