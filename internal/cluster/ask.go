package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// ErrNoBroker heads the error of a request no broker answered.
var ErrNoBroker = errors.New("no broker answered")

// AskAny sends a request to the first broker that takes it: known nodes,
// those connected first and those dialling or backing off last, then the
// seeds, each in random order (see brokers). A broker that cannot be
// reached, or whose connection fails the request, is passed over; an
// answer, whatever its error codes, is the caller's to read. Its error
// lists each broker's, which names the request and the broker. A seed at
// the address of a node that let the request time out is not asked.
func (c *Cluster) AskAny(ctx context.Context, req protocol.Request) (protocol.Response, error) {
	resp, _, err := c.askAny(ctx, req, protocol.AllVersions)
	return resp, err
}

// askAny is AskAny for a request that may go only at the versions in
// versions, also reporting the version the answer was read at.
func (c *Cluster) askAny(ctx context.Context, req protocol.Request, versions protocol.VersionRange) (protocol.Response, int16, error) {
	cands := c.brokers()
	var errs []error
	var timedOut []string // addresses of brokers that let a request time out
	for _, b := range cands {
		// A seed at a node's address is that node under a handle of its
		// own. Once the broker has let req time out on a connection it
		// took (req's own timeout, or an older request's that failed it),
		// asking it again would cost another RequestTimeout and list it
		// twice; any other failure may be the node's handle alone (backing
		// off, closed, its new connection refused or its authentication
		// slow) where the seed's connection can still answer.
		if slices.Contains(timedOut, b.Addr()) {
			continue
		}
		resp, v, err := askVersion(ctx, b, req, versions)
		if err == nil {
			return resp, v, nil
		}
		if sent := (*sentAndFailed)(nil); errors.As(err, &sent) && errors.Is(err, conn.ErrRequestTimeout) {
			timedOut = append(timedOut, b.Addr())
		}
		errs = append(errs, err)
	}
	return nil, 0, fmt.Errorf("%w: %w", ErrNoBroker, brokersFailed(errs))
}

// brokersFailed is why each broker AskAny asked did not answer, one error
// per broker, worded as errors.Join words them.
type brokersFailed []error

func (e brokersFailed) Error() string   { return errors.Join(e...).Error() }
func (e brokersFailed) Unwrap() []error { return e }

// mayAnswer reports whether asking again may get an answer: there was no
// broker to ask, or a broker's connection failed (it was unreachable,
// restarting, or timed out), where one that refused to let the producer in,
// or speaks no common version, would refuse alike.
func (e brokersFailed) mayAnswer() bool {
	return len(e) == 0 || slices.ContainsFunc(e, conn.IsRetriable)
}

// Refusal returns the refusal to let the producer in (a *conn.AuthError)
// in err, AskAny's failure, when it speaks for the cluster: no broker in
// it may answer if asked again (see mayAnswer). A broker that refused
// while another could not be reached (a rolling restart) does not: the
// other may let the producer in once it is back, and Refusal returns nil,
// as it does for an error without a refusal.
func Refusal(err error) *conn.AuthError {
	var unanswered brokersFailed
	var refused *conn.AuthError
	if !errors.As(err, &unanswered) || unanswered.mayAnswer() || !errors.As(err, &refused) {
		return nil
	}
	return refused
}

// NoVersionFits reports a request that was not sent because the broker
// speaks no version of it the caller may send (conn.ErrNotSent with a
// *protocol.VersionError): asked again, it would speak none either. For
// AskAny's failure every broker asked must have said so: one that could
// not be reached, or was not asked before ctx ended, may speak a version
// once asked; so may one that refused to let the producer in, which has
// not said what it speaks.
func NoVersionFits(err error) bool {
	var unanswered brokersFailed
	if !errors.As(err, &unanswered) {
		var none *protocol.VersionError
		return errors.Is(err, conn.ErrNotSent) && errors.As(err, &none)
	}
	for _, e := range unanswered {
		if !NoVersionFits(e) {
			return false
		}
	}
	return len(unanswered) > 0
}

// askVersion sends req to one broker, at the highest version both sides
// speak within versions, and waits for its answer; it reports the version
// too. With no such version (the broker's oldest is above the newest
// versions allows, say) req is not sent, and the error, which says so
// (conn.ErrNotSent), names the API and both ranges. Its error names the
// request and the broker once each: the connection's errors name both; one
// of reaching the broker names the broker, and gets the request's name; one
// of versions names the request, and gets the broker's address.
func askVersion(ctx context.Context, b *conn.Broker, req protocol.Request, versions protocol.VersionRange) (protocol.Response, int16, error) {
	cn, err := b.Conn(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", req.Key(), err)
	}
	v, err := cn.VersionWithin(req.Key(), versions)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w: %w", b.Addr(), conn.ErrNotSent, err)
	}
	resp, err := cn.RequestVersion(ctx, req, v)
	if err != nil {
		return nil, 0, &sentAndFailed{err}
	}
	return resp, v, nil
}

// sentAndFailed is the error of a request a broker's connection took and
// failed, worded as the connection's error: AskAny tells by it that the
// broker itself let the request time out, where an error of reaching the
// broker (a backoff whose last failure was a timeout, an authentication
// that outlasted RequestTimeout) says nothing of the broker's answers.
type sentAndFailed struct{ err error }

func (e *sentAndFailed) Error() string { return e.err.Error() }
func (e *sentAndFailed) Unwrap() error { return e.err }

// ApplyLeaderHint applies a KIP-951 current-leader hint from a Produce
// answer at once, so that a retry goes to the new leader without waiting
// for a metadata round trip. It reports whether the hint told something
// new; a stale one asks for a refresh instead.
func (c *Cluster) ApplyLeaderHint(topic string, topicID wire.UUID, partition, leader, epoch int32, endpoint *metadata.Broker) bool {
	if !c.cache.ApplyLeaderHint(topic, topicID, partition, leader, epoch, endpoint) {
		c.RequestRefresh("stale leader hint for " + topic)
		return false
	}
	c.updated(false) // a hint names one broker, not the cluster
	return true
}
