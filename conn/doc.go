// Package conn owns the network step of a request's path: after the sender
// (or the metadata refresher) has built a request, and before its decoded
// response comes back to it. It keeps one TCP connection per broker and does
// everything the Kafka protocol asks of a connection: the ApiVersions
// handshake (KIP-35/KIP-511) that fixes which version of each API to speak,
// TLS, SASL authentication (KIP-152) and re-authentication before the
// session expires (KIP-368), size-prefixed framing, correlation ids,
// pipelining up to max.in.flight.requests.per.connection, request timeouts,
// and reconnecting with exponential backoff.
//
// It is its own package because two clients share it: the metadata refresher
// and the per-broker sender both talk to brokers, and neither should know how
// bytes reach one.
//
// Concurrency: a request is encoded and written on the caller's goroutine,
// under a write lock, so that requests reach the socket in the order their
// correlation ids were assigned. One reader goroutine per connection reads
// responses, which Kafka sends in request order, matches each to the oldest
// request awaiting one, decodes it and calls the request's callback. One
// timer goroutine per connection watches the oldest request's deadline; a
// SASL connection whose session expires has one more, which re-authenticates
// in time. Close stops them all and waits for them.
//
// On Linux (amd64 and arm64) a TCP connection, beneath Config.TLS too (not
// beneath a *tls.Conn a Config.Dial returns), reads and writes with system
// calls the Go scheduler is not told of (rawio_linux.go): each asks the
// kernel not to wait for the socket, and moves at most 64 KiB, while each
// call the scheduler is told of, once the process has been idle, sets its
// monitor thread polling every 20µs. Under the race detector connections
// use net's own reads and writes, which the detector follows.
//
// It is the producer's own machinery rather than an API for users, taking
// types of the module's internal packages (a clock.Clock): package
// producer sets it up from its Config, and names the errors of it a user
// meets (ErrAuthentication, AuthError).
package conn
