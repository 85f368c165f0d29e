// Package sasl owns the client's half of a SASL mechanism (RFC 4422): the
// messages it sends to a broker and how it judges the broker's answers. It
// knows nothing of Kafka's framing: package conn carries each message in a
// SaslAuthenticate request after a SaslHandshake that names the mechanism,
// on every new connection and again before the broker's session expires
// (KIP-368).
//
// The subpackages implement the mechanisms Kafka brokers offer: plain
// (PLAIN), scram (SCRAM-SHA-256 and SCRAM-SHA-512) and oauthbearer
// (OAUTHBEARER). Any other, such as a cloud provider's, plugs in by
// implementing Mechanism.
//
// Secrets: a mechanism keeps its password or token in unexported fields and
// prints itself without them, so that neither a log line nor the %v of a
// configuration that holds it shows a secret. Errors never quote a secret
// either.
package sasl

import (
	"context"
	"errors"
)

// Mechanism is one SASL mechanism with the credentials to use it.
// Implementations must be safe for concurrent use: every connection starts
// its own Session.
type Mechanism interface {
	// Name is the mechanism's registered name, sent in SaslHandshake:
	// "PLAIN", "SCRAM-SHA-512", "OAUTHBEARER".
	Name() string
	// Start begins one authentication of a connection to broker
	// ("host:port"). ctx ends with the exchange, and at the latest the
	// producer's RequestTimeout after Start is called: a mechanism that
	// fetches a token uses it to bound the fetch. Each Step gets a ctx of
	// its own, bounded alike. A call still running when its ctx ends is
	// abandoned: the exchange fails without it, and the call's result,
	// whenever it comes, is dropped. An error is taken for a passing fault
	// (an identity provider briefly unreachable): nothing reached the
	// broker, so the connection is tried again after the reconnect
	// backoff, until the records' delivery timeout, rather than fail them
	// as refused. The exception is an error that wraps
	// ErrInvalidCredentials, the mechanism's own judgement that the
	// credentials it was given can never be sent: that is a refusal, and
	// fails the records at once. A configuration that can never start
	// belongs in Validator. A panic in Start, or in a Step, is recovered
	// and logged, and taken for the call's error.
	Start(ctx context.Context, broker string) (Session, error)
}

// Validator is implemented by a Mechanism that can tell, before any
// connection, that its configuration will never start (an OAUTHBEARER
// mechanism without a token provider). The producer's New refuses such a
// configuration with Validate's error, which must not quote a secret;
// otherwise each Start would fail, and be retried, until the records'
// delivery timeout.
type Validator interface {
	Validate() error
}

// Session is one authentication exchange. The client speaks first in
// every mechanism Kafka uses.
type Session interface {
	// Step is given the broker's last message (nil before the first) and
	// returns the client's next one. done reports that the exchange is
	// complete and the broker's last message was accepted: nothing more is
	// sent. An error ends the exchange; it must not quote a secret.
	Step(ctx context.Context, challenge []byte) (msg []byte, done bool, err error)
}

// ErrServerVerification: the broker failed to prove that it knows the
// credentials (a SCRAM server signature that does not verify), so it may not
// be the broker it claims to be. The connection is refused.
var ErrServerVerification = errors.New("broker failed SASL verification")

// ErrProtocol: the broker's message does not follow the mechanism's format.
var ErrProtocol = errors.New("malformed SASL message from broker")

// ErrInvalidCredentials: the mechanism judged the credentials it was given
// unfit to send (an OAUTHBEARER token that is not a b64token, an extension
// name that is not letters only). Sending them again would be judged alike,
// so a Start whose error wraps it fails the connection as refused, and the
// records bound for it at once, where any other failure of Start is retried
// as a passing fault.
var ErrInvalidCredentials = errors.New("invalid SASL credentials")
