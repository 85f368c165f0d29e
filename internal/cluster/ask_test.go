package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/producer/conn"
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
