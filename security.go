package producer

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/sasl"
)

// Security: TLS and SASL are the connection layer's (package conn); what
// the producer adds is failing records fast when a broker will not let it
// in, since retrying a refusal until DeliveryTimeout would hide the cause
// for minutes.

// ErrAuthentication: a broker connection could not be secured or
// authenticated: its certificate did not verify (unknown CA, expired,
// another host's), it refused ours, it refused the SASL credentials, or
// the SASL mechanism judged the credentials it was given invalid. The
// error is an *AuthError naming the broker, the mechanism and the reason;
// for credentials the broker refused it also matches
// kerr.SaslAuthenticationFailed, for those the mechanism judged invalid
// sasl.ErrInvalidCredentials. Records fail with it at once, not after
// DeliveryTimeout: those bound for the broker that refused, and those
// waiting for metadata or a producer id when no other broker may give it
// (one merely unreachable may); so do the transaction calls when every
// broker refuses, rather than look for their coordinator until their ctx
// ends.
// The producer goes on: once the brokers accept it again (a certificate
// or a password rotated), its records are sent.
var ErrAuthentication = conn.ErrAuthentication

// AuthError is the detail of ErrAuthentication.
type AuthError = conn.AuthError

// validateSecurity checks the TLS and SASL settings.
func (cfg *Config) validateSecurity() error {
	if _, ok := cfg.Dialer.(*tls.Dialer); ok && cfg.TLS != nil {
		return &ConfigError{Field: "TLS", Reason: "set with a *tls.Dialer as Dialer: TLS would be run twice; use one"}
	}
	if holdsNil(cfg.SASL) {
		// Its methods would read through it: Name and Validate here, a
		// connection's exchange later.
		return &ConfigError{Field: "SASL", Reason: fmt.Sprintf("a nil %T; leave SASL nil for no SASL", cfg.SASL)}
	}
	if cfg.SASL != nil && cfg.SASL.Name() == "" {
		return &ConfigError{Field: "SASL", Reason: "the mechanism has no name"}
	}
	// A mechanism that fails to start is retried until DeliveryTimeout,
	// as a passing fault: one that can never start is refused here.
	if v, ok := cfg.SASL.(sasl.Validator); ok {
		if err := v.Validate(); err != nil {
			return &ConfigError{Field: "SASL", Reason: err.Error(), Err: err}
		}
	}
	return nil
}

// authState remembers whether the last metadata refresh was refused, so
// that PartitionsFor callers woken by it can fail with the reason. Each
// refusal is a new *refusal: a caller compares the one it saw as it began
// with the latest, so an old refusal does not fail it, and one that came
// since, whenever the caller looks, does.
type authState struct {
	last atomic.Pointer[refusal]
}

type refusal struct{ err *conn.AuthError }

// refusedSince returns the error of a refusal newer than before, if any.
func (a *authState) refusedSince(before *refusal) error {
	if r := a.last.Load(); r != nil && r != before {
		return r.err
	}
	return nil
}

// noteRefresh looks at a metadata refresh's outcome. When it failed because
// the brokers refused to authenticate the producer, the records waiting
// for metadata and the PartitionsFor calls fail with that error now: the
// same credentials would be refused again. That is so only when no broker
// was merely unreachable (cluster.Refusal): one briefly down (restarting)
// may let the producer in, so the records wait for it, until MaxBlock at
// most, failing with the refusal in their error then (withRefreshFailure).
func (p *Producer) noteRefresh(err error) {
	if err == nil {
		p.refreshFailed.Store(nil)
	} else {
		p.refreshFailed.Store(&err)
	}
	refused := cluster.Refusal(err)
	switch {
	case err == nil:
		p.auth.last.Store(nil)
		p.held.admitted()
	case refused != nil:
		p.auth.last.Store(&refusal{refused})
		p.held.failWaiting(refused) // PartitionsFor callers learn of it from the cluster layer
	}
}

// failWaiting fails the records waiting for metadata with err, a refusal
// by every broker: those of topics without a drain, and those a drain set
// aside, which wait for a partition and, while the drain's round is held
// up (a record waiting for memory), for no turn of it. A drain's other
// records are its own: the drain fails those it reaches that would wait
// for metadata (refusalFor), woken by the update that tells of the refusal
// after this (noteRefresh), and appends the others, whose batches fail if
// their leader refuses the producer too.
func (w *held) failWaiting(err error) {
	var waiting, aside []heldRecord
	w.mu.Lock()
	w.refusal, w.refusedThrough, w.refusedIn = err, w.seq, w.p.cluster.Snapshot()
	for name, wt := range w.topics {
		if wt.draining {
			taken := wt.takeAside()
			w.fail(taken...)
			aside = append(aside, taken...)
			continue
		}
		waiting = append(waiting, wt.records...)
		w.fail(wt.records...)
		w.drop(name)
	}
	w.mu.Unlock()
	for _, h := range waiting {
		w.p.failHeld(h, err)
	}
	for _, h := range aside {
		// Worded as a record set aside that Close or an abort fails
		// (failTaken).
		w.p.failUnpooled(h, fmt.Errorf("%w: while the record waited for %s", err, h.wanted()))
	}
}

// admitted notes a metadata refresh that succeeded: the brokers let the
// producer in, and a drain's record waits for metadata again. refusalFor
// knows it already from the refresh's answer, published before this news;
// forgotten here, the refusal's metadata is not kept in memory until the
// next refusal.
func (w *held) admitted() {
	w.mu.Lock()
	w.refusal, w.refusedIn = nil, nil
	w.mu.Unlock()
}

// refusalFor is the refusal by every broker that came since h was held,
// if snap, the metadata h is judged with, is that of the refusal's moment:
// h, of a drain round, would wait for metadata that no broker will give,
// and fails with it instead. Metadata that came since ends the refusal
// for h, not only the news of a refresh that succeeded (admitted): the
// cluster layer publishes an answer before it tells of the refresh, and a
// drain that judged h with that answer in between failed it with the
// refusal the answer had ended. w.mu must be held.
func (w *held) refusalFor(h *heldRecord, snap *metadata.Snapshot) error {
	if w.refusal != nil && h.seq <= w.refusedThrough && snap == w.refusedIn {
		return w.refusal
	}
	return nil
}
