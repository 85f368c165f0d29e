package conn

import (
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/protocol"
)

// Errors a request can fail with besides the broker's own (which come back
// inside the decoded response) and *protocol.DecodeError. Each is wrapped
// with the address and the request it concerns; compare with errors.Is.
var (
	// ErrClosed: the connection or Broker was closed by Close before the
	// request completed.
	ErrClosed = errors.New("connection closed")
	// ErrRequestTimeout: a request went RequestTimeout without a response,
	// and the connection was closed with every request on it.
	ErrRequestTimeout = errors.New("request timed out")
	// ErrDisconnected: the connection could not be made, or broke: an I/O
	// error, the broker hanging up, or a protocol violation (a response
	// with the wrong correlation id, an impossible size) after which the
	// byte stream cannot be trusted.
	ErrDisconnected = errors.New("disconnected")
	// ErrNotKafka: the peer answered with something no Kafka broker sends
	// (an HTTP response, a TLS record): the address is wrong, or the
	// listener wants TLS. It always comes wrapped together with
	// ErrDisconnected.
	ErrNotKafka = errors.New("not a Kafka broker")
	// ErrBackoff: Broker.Conn refused to dial because the last attempt failed
	// too recently; the error is a *BackoffError saying until when.
	ErrBackoff = errors.New("reconnect backoff")
	// ErrNotSent: the request never reached the wire (its context ended
	// first, the connection was already dead, or the version is not
	// spoken), so the broker cannot have acted on it. Any other failure of
	// a written request leaves its effect unknown: the broker may have
	// acted and its answer been lost.
	ErrNotSent = errors.New("request not sent")
	// ErrAuthentication: the connection could not be secured or
	// authenticated; the error is an *AuthError naming the broker, the
	// mechanism and the reason. Not retriable: the same configuration
	// fails the same way.
	ErrAuthentication = errors.New("authentication failed")
)

// IsRetriable reports whether err says nothing about the request itself,
// only about the connection that carried it, so that sending it again on a
// new connection may succeed: ErrClosed, ErrRequestTimeout, ErrDisconnected
// and ErrBackoff. Anything else is not: a context's end is the caller's
// decision, a *protocol.VersionError or *protocol.DecodeError would recur,
// and an *AuthError needs the user. Kafka error codes are
// classified separately by kerr.IsRetriable; a sender asks both.
func IsRetriable(err error) bool {
	if errors.Is(err, ErrAuthentication) {
		return false // even inside a *BackoffError: the next attempt fails alike
	}
	return errors.Is(err, ErrDisconnected) || errors.Is(err, ErrRequestTimeout) ||
		errors.Is(err, ErrClosed) || errors.Is(err, ErrBackoff)
}

// requestFailed is err, the connection's, as the failure of the request
// api v version with correlation id corr: its name, then err, unless err
// names it already (it is the request that brought the connection down).
func requestFailed(api protocol.APIKey, version int16, corr int32, err error) error {
	if by := (*byRequest)(nil); errors.As(err, &by) && by.corr == corr {
		return err
	}
	return fmt.Errorf("%s v%d (correlation id %d): %w", api, version, corr, err)
}

// byRequest is the error of a connection that one request brought down:
// it had no answer in time (expired), or its answer came out of step
// (deliver). It names that request, which requestFailed does not name
// again for it.
type byRequest struct {
	corr int32
	err  error
}

func (e *byRequest) Error() string { return e.err.Error() }
func (e *byRequest) Unwrap() error { return e.err }

// BackoffError is Broker.Conn's answer while it waits out the reconnect
// backoff. It matches ErrBackoff and, through Err, the failure that started
// the backoff.
type BackoffError struct {
	Addr  string
	Until time.Time // the earliest time the next attempt is allowed
	Err   error     // why the last connection failed or ended
}

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%v: not reconnecting to %s before %s (last failure: %v)",
		ErrBackoff, e.Addr, e.Until.Format(time.RFC3339Nano), e.Err)
}

// Unwrap returns ErrBackoff and the last failure.
func (e *BackoffError) Unwrap() []error { return []error{ErrBackoff, e.Err} }

// AuthError is why a connection could not be secured or authenticated:
// the broker's certificate did not verify (unknown CA, expired, another
// host's) or the broker refused ours, or the broker refused the SASL
// credentials, or failed to prove it knows them, or the SASL mechanism
// judged the credentials it was given invalid. It matches
// ErrAuthentication and, through Err, the cause: for credentials the
// broker refused kerr.SaslAuthenticationFailed, for those the mechanism
// judged invalid sasl.ErrInvalidCredentials, for a certificate the x509
// or tls error. Its message never holds a secret, and quotes what the
// broker said in refusing, cut short: nothing has proven who said it.
type AuthError struct {
	Addr      string // the broker, host:port
	Mechanism string // "TLS", or the SASL mechanism's name
	Err       error
}

func (e *AuthError) Error() string {
	if e.Mechanism == mechanismTLS {
		return fmt.Sprintf("TLS handshake with broker %s failed: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("SASL %s authentication to broker %s failed: %v", e.Mechanism, e.Addr, e.Err)
}

// Unwrap returns ErrAuthentication and the cause.
func (e *AuthError) Unwrap() []error { return []error{ErrAuthentication, e.Err} }

// mechanismTLS is AuthError.Mechanism for a TLS failure.
const mechanismTLS = "TLS"
