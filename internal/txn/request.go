package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/ctxerr"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// concurrentTransactionsBackoff is the longest wait before asking again
// after CONCURRENT_TRANSACTIONS: the coordinator is still writing the
// previous transaction's markers, which takes milliseconds, and the next
// transaction's first request meets it every time it follows a commit at
// once (transactions v1). The Java client waits 20 ms there too, rather than
// retry.backoff.ms.
const concurrentTransactionsBackoff = 20 * time.Millisecond

// call sends req to the coordinator of key, at a version within versions,
// until it gets an answer that check accepts, or a failure that will not
// heal, or ctx ends, or the producer closes or stops for good (a Produce
// answer fenced it, say: nothing the call asks for can commit then, and
// its error wraps the producer's ErrFatal; callToItsAnswer, for a
// commit's EndTxn, goes on, retries included). Retriable failures (no broker
// answered, NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// CONCURRENT_TRANSACTIONS) are retried with backoff; a coordinator that
// moved is looked up again. Once the producer has closed no broker will
// answer: retrying would only wait out ctx.
//
// A call also reports whether an attempt went unanswered: it was written
// and no answer came back (the request timed out, the connection broke, ctx
// ended while the answer was awaited). The coordinator may have acted on a
// failed call's req all the same, and may act on such an attempt even after
// a later one was answered: a broker handles a request it has read though
// the client gave up on it. An answer, even a refusal, leaves no such
// doubt, nor does an attempt that never left (conn.ErrNotSent): one no
// connection wrote, or that found no coordinator or no connection to it
// (see cluster.AskCoordinator). Counted unanswered, such an attempt left
// a commit whose EndTxn the coordinator then refused for good with its
// outcome unknown for ever, the abort refused.
func (m *Manager) call(ctx context.Context, kind cluster.CoordinatorKind, key string, req protocol.Request, versions protocol.VersionRange, check func(protocol.Response) error) (protocol.Response, bool, error) {
	return m.ask(ctx, m.live, kind, key, req, versions, check)
}

// callToItsAnswer is call for a request whose answer still matters once
// the producer has stopped for good: a commit's EndTxn, which may commit
// the transaction, and whose answer is how the commit says whether it did
// (see Commit). It stops only as call stops for a producer that has not.
func (m *Manager) callToItsAnswer(ctx context.Context, kind cluster.CoordinatorKind, key string, req protocol.Request, versions protocol.VersionRange, check func(protocol.Response) error) (protocol.Response, bool, error) {
	return m.ask(ctx, nil, kind, key, req, versions, check)
}

// ask is call, its request in flight and its waits before a retry ending
// with live too (the producer stopped for good), which gaveUp tells; a nil
// live never ends.
func (m *Manager) ask(ctx, live context.Context, kind cluster.CoordinatorKind, key string, req protocol.Request, versions protocol.VersionRange, check func(protocol.Response) error) (protocol.Response, bool, error) {
	asked, cancel := context.WithCancel(ctx)
	defer cancel()
	if live != nil {
		defer context.AfterFunc(live, cancel)()
	}
	unanswered := false
	for failures := 1; ; failures++ {
		resp, err := m.cfg.Coordinators.AskCoordinator(asked, kind, key, req, versions)
		if err != nil && !errors.Is(err, conn.ErrNotSent) {
			unanswered = true
		}
		if err == nil {
			err = check(resp)
		}
		if err == nil {
			return resp, unanswered, nil
		}
		if live != nil && live.Err() != nil {
			// The producer stopped for good meanwhile, which may be what
			// ended the request: the call fails of the stop (gaveUp).
			return nil, unanswered, m.gaveUp(ctx, live, req, err)
		}
		if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
			// The caller's ctx ended the request: the call fails as one
			// whose ctx ended (gaveUp), where the connection told the
			// ctx's cause alone.
			return nil, unanswered, m.gaveUp(ctx, live, req, err)
		}
		if coordinatorMoved(kind, err) {
			m.cfg.Coordinators.ForgetCoordinator(kind, key)
		}
		if !cluster.Retriable(err) && !errors.Is(err, errLeftOut) {
			switch {
			case cluster.NoVersionFits(err):
				err = noVersion(kind, key, versions, err)
			case resp != nil:
				err = &refusal{err} // the coordinator read req and refused it
			}
			return nil, unanswered, err
		}
		if gaveUp := m.gaveUp(ctx, live, req, err); gaveUp != nil {
			return nil, unanswered, gaveUp
		}
		wait := m.retry.Delay(failures)
		if errors.Is(err, kerr.ConcurrentTransactions) {
			wait = min(wait, concurrentTransactionsBackoff)
		}
		m.cfg.Logger.Debug("coordinator request failed; retrying", "api", req.Key(), "err", err, "retry_in", wait)
		t := m.cfg.Clock.NewTimer(wait)
		select {
		case <-t.C():
		case <-asked.Done():
		case <-m.cfg.Context.Done():
		}
		t.Stop()
		if gaveUp := m.gaveUp(ctx, live, req, err); gaveUp != nil {
			return nil, unanswered, gaveUp
		}
	}
}

// errLeftOut is a coordinator's answer that left out a partition the
// request named, which the request is sent again for: the Java client
// keeps such partitions pending, and sends them again.
var errLeftOut = errors.New("the coordinator's answer left out the partition")

// coordinatorMoved reports whether err, a coordinator's answer, says it may
// no longer be the coordinator, to be found again before a retry. A group
// coordinator's REQUEST_TIMED_OUT is its write of the offsets timing out,
// which a coordinator that lost its partition of the offsets log meets; the
// Java client's TxnOffsetCommit handler looks it up again for it too.
func coordinatorMoved(kind cluster.CoordinatorKind, err error) bool {
	return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) ||
		kind == cluster.GroupCoordinator && errors.Is(err, kerr.RequestTimedOut)
}

// gaveUp is the error of a call that stops retrying after err, its last
// failure: the producer closed, or stopped for good (live ended), whose
// fatal error (ErrFatal) it wraps, or the caller's ctx ended; nil while
// none has. The close and the stop are told first: the adder's ctx is the
// producer's, and the request's ends with the stop.
func (m *Manager) gaveUp(ctx, live context.Context, req protocol.Request, err error) error {
	switch {
	case m.cfg.Context.Err() != nil:
		return fmt.Errorf("%s: the producer closed (last failure: %w)", req.Key(), err)
	case live != nil && live.Err() != nil:
		return fmt.Errorf("%s: %w (last failure: %w)", req.Key(), m.stateErr(), err)
	case ctx.Err() == nil:
		return nil
	case errors.Is(err, ctx.Err()) && errors.Is(err, context.Cause(ctx)):
		// The caller gave up: its error says so, whichever failure the
		// call saw first (a connection broken as ctx ended).
		return err
	}
	return fmt.Errorf("%s: %w (last failure: %w)", req.Key(), ctxerr.Of(ctx), err)
}

// code is check for an answer with a single error code.
func code(api protocol.APIKey, c int16) error {
	if e := kerr.ForCode(c); e != nil {
		return fmt.Errorf("%s: %w", api, e)
	}
	return nil
}

// coordinatorEndsProducer reports a coordinator request's failure that
// ends the producer: another producer took over the transactional id (its
// epoch is older than the coordinator's), the id is denied, or the
// coordinator no longer knows it (INVALID_PRODUCER_ID_MAPPING, see
// forgotten); the producer's TransactionTimeout is over the broker's
// transaction.max.timeout.ms (INVALID_TRANSACTION_TIMEOUT, from
// InitProducerId: asked again with the same Config, it refuses again, and
// the Java client stops there too); or the request can go at no version
// the coordinator speaks (noVersionFits).
func coordinatorEndsProducer(err error) bool {
	return errors.Is(err, ErrFatal) || errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidTransactionTimeout) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.InvalidTxnState) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || noVersionFits(err)
}

// noVersionFits reports call's failure of a request that can go at no
// version the coordinator speaks, or of the FindCoordinator that finds
// it, at none any broker speaks: asked again, they would speak none
// either, and without the request no transaction can commit. The Java
// client stops on such a transactional request too (TransactionManager's
// TxnRequestHandler, on a version mismatch). Were it abortable, a loop
// that aborts as the docs say would abort every transaction for ever.
// Only call's mark (noVersion) says so, not a version error anywhere in
// err: the error of a ctx that ended while call retried keeps the last
// failure, whose brokers may include one speaking no version and one
// down, which may speak one once back. Nor is a broker speaking none
// beside one that refused the producer, which has not said what it
// speaks: call returns that failure as the refusal it is, to be called
// again once the producer is let in (cluster.NoVersionFits).
func noVersionFits(err error) bool {
	var none *noVersionError
	return errors.As(err, &none)
}

// noVersionError marks a failure call gave up on as one no version fits
// (see noVersionFits), with why, the words for it, if any.
type noVersionError struct {
	why string
	err error
}

func (e *noVersionError) Error() string {
	if e.why == "" {
		return e.err.Error()
	}
	return e.why + ": " + e.err.Error()
}

func (e *noVersionError) Unwrap() error { return e.err }

// noVersion marks err, a failure no version fits (cluster.NoVersionFits),
// and words it by the request that did not fit: FindCoordinator, which no
// broker speaks, or the request to the coordinator of key. A coordinator
// speaking only versions older than the caller allows shares those with
// the producer: the caller needs a newer one for a reason of its own,
// which it tells (a membership a group coordinator before Kafka 2.5
// cannot check: membershipUnchecked), and the words would mislead.
func noVersion(kind cluster.CoordinatorKind, key string, versions protocol.VersionRange, err error) error {
	var none *protocol.VersionError
	errors.As(err, &none)
	switch {
	case none.API == protocol.FindCoordinator:
		return &noVersionError{fmt.Sprintf("no broker shares a version of FindCoordinator with this producer, which needs it to find the %v of %q, and none will when asked again: upgrade the brokers or the producer, whichever is older", kind, key), err}
	case none.Theirs.Min <= none.Theirs.Max && none.Theirs.Max < versions.Min:
		return &noVersionError{"", err}
	}
	return &noVersionError{fmt.Sprintf("the %v and this producer share no version of %s, and will not when asked again: upgrade the older of the two", kind, none.API), err}
}

// forgotten says what INVALID_PRODUCER_ID_MAPPING means to the user, when
// err is one: the coordinator no longer maps the transactional id to the
// producer's id. It forgets an id idle for
// transactional.id.expiration.ms, that of an instance another one took
// over included. Getting a new id, as the Java client did from KIP-360
// until Kafka 4.0 (KAFKA-18019), would fence that other instance and let
// this one go on from where it thinks it is: processing again input the
// other one already did, a duplicate exactly-once forbids.
func forgotten(err error, transactionalID string) error {
	if !errors.Is(err, kerr.InvalidProducerIDMapping) {
		return err
	}
	return fmt.Errorf("the transaction coordinator no longer knows the transactional id %q: it expired, or another instance took it over; going on could repeat work another instance already did: create a new producer, whose InitTransactions fences any other instance: %w", transactionalID, err)
}

// asFenced is a coordinator's fencing answer as users match it: a
// coordinator's INVALID_PRODUCER_EPOCH (Kafka's group coordinator answers a
// fenced producer's TxnOffsetCommit so under transactions v2, older
// transaction coordinators every request) means what PRODUCER_FENCED means,
// as the Java client reports it; the broker's own error stays in the chain.
func asFenced(err error) error {
	if errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		return fmt.Errorf("%w: %w", kerr.ProducerFenced, err)
	}
	return err
}

// refusedForGood reports a call's failure that is the coordinator's
// answer: a code no retry heals, the request read and refused (a
// refusal). Not a failure call gave up on (the ctx ended, the producer
// closed or stopped: gaveUp), whose last failure a retry might have
// healed, nor one of reaching the coordinator, whose codes are not its
// answer: a broker that refused the producer's SASL credentials
// (SASL_AUTHENTICATION_FAILED) may let it in once they are rotated, and
// the producer goes on meanwhile (see the root package's security.go).
func refusedForGood(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// refusal is the error of a call the coordinator answered with a code no
// retry heals, worded as that answer's error.
type refusal struct{ err error }

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// cannotCommit reports an EndTxn(commit) answer that leaves the
// transaction to be aborted, as the Java client treats it: the coordinator
// met an error the transaction can only be aborted after
// (TRANSACTION_ABORTABLE, EndTxn v4+, KIP-890).
func cannotCommit(err error) bool {
	return errors.Is(err, kerr.TransactionAbortable)
}

// endsProducer reports a record's failure that ends the producer, as the
// Java client's TransactionManager.maybeTransitionToErrorState has them:
// fencing, the transactional id denied to the producer or unknown to its
// coordinator (INVALID_PRODUCER_ID_MAPPING, fatal since Kafka 4.0: see
// forgotten), or any other Produce answer that stopped it
// (accumulator.ErrProducerStopped, which every stop wraps: the cluster
// denied it, or the broker does not support its Produce); aborting would
// not let the producer write again. CLUSTER_AUTHORIZATION_FAILED and
// UNSUPPORTED_VERSION count only so: a record whose delivery timed out
// while its partition's last error was one (a broker refusing
// ApiVersions) leaves the transaction to abort, as any timeout does. A
// Produce answer's INVALID_PRODUCER_EPOCH is not one, as in the Java
// client: the coordinator may have bumped the epoch when it timed the
// transaction out, and the abort's EndTxn tells how that ends
// (Manager.Abort).
func endsProducer(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, accumulator.ErrProducerStopped)
}
