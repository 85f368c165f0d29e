package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/brokertext"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// CoordinatorKind says which coordinator a key has: a consumer group's, or
// a transactional id's.
type CoordinatorKind int8

const (
	GroupCoordinator       = CoordinatorKind(protocol.CoordinatorKeyGroup)
	TransactionCoordinator = CoordinatorKind(protocol.CoordinatorKeyTransaction)
)

func (k CoordinatorKind) String() string {
	if k == TransactionCoordinator {
		return "transaction coordinator"
	}
	return "group coordinator"
}

// coordinators caches which broker coordinates a key, found with
// FindCoordinator and forgotten when the broker says it no longer does.
type coordinators struct {
	mu    sync.Mutex
	known map[coordinatorKey]*conn.Broker
	// extra are connection handles of coordinators the metadata does not
	// name (yet): FindCoordinator gives their address.
	extra  map[int32]*conn.Broker
	closed bool // by close: a handle made after it is closed at once
}

type coordinatorKey struct {
	kind CoordinatorKind
	key  string
}

func (cs *coordinators) init() {
	cs.known = make(map[coordinatorKey]*conn.Broker)
	cs.extra = make(map[int32]*conn.Broker)
}

func (cs *coordinators) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.closed = true
	for _, b := range cs.extra {
		b.Close()
	}
}

// Coordinator returns the broker coordinating key, asking any broker with
// FindCoordinator unless it is known already. A retriable failure (no
// broker answered, COORDINATOR_NOT_AVAILABLE while the coordinator moves)
// wraps a retriable error; the caller backs off and asks again.
func (c *Cluster) Coordinator(ctx context.Context, kind CoordinatorKind, key string) (*conn.Broker, error) {
	ck := coordinatorKey{kind, key}
	c.coordinators.mu.Lock()
	b := c.coordinators.known[ck]
	c.coordinators.mu.Unlock()
	if b != nil {
		return b, nil
	}
	id, addr, err := c.findCoordinator(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	b = c.brokerFor(id, addr)
	c.coordinators.mu.Lock()
	c.coordinators.known[ck] = b
	c.coordinators.mu.Unlock()
	return b, nil
}

// KnownCoordinator returns the broker known to coordinate key, without
// asking anyone: false if none is.
func (c *Cluster) KnownCoordinator(kind CoordinatorKind, key string) (*conn.Broker, bool) {
	c.coordinators.mu.Lock()
	defer c.coordinators.mu.Unlock()
	b := c.coordinators.known[coordinatorKey{kind, key}]
	return b, b != nil
}

// ForgetCoordinator drops what is known of key's coordinator: it answered
// NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE, or could not be reached.
// The next Coordinator call finds it again.
func (c *Cluster) ForgetCoordinator(kind CoordinatorKind, key string) {
	c.coordinators.mu.Lock()
	delete(c.coordinators.known, coordinatorKey{kind, key})
	c.coordinators.mu.Unlock()
}

// AskCoordinator sends req to key's coordinator, at the highest version
// both sides speak within versions (protocol.AllVersions: no limit), and
// returns its answer, whose error codes are the caller's to read (and, for
// NOT_COORDINATOR, to call ForgetCoordinator). A coordinator that cannot be
// reached is forgotten, and the error returned. An error of a request that
// never reached a connection (no coordinator found, none dialled) matches
// conn.ErrNotSent, as one a connection did not write does: only a request
// a connection took may have reached the coordinator, whose caller cannot
// know whether it acted on it (a transaction's commit, whose outcome is
// then unknown).
func (c *Cluster) AskCoordinator(ctx context.Context, kind CoordinatorKind, key string, req protocol.Request, versions protocol.VersionRange) (protocol.Response, error) {
	b, err := c.Coordinator(ctx, kind, key)
	if err != nil {
		return nil, &notSent{err}
	}
	resp, _, err := askVersion(ctx, b, req, versions)
	if err != nil {
		c.ForgetCoordinator(kind, key)
		err = fmt.Errorf("%v for %q: %w", kind, key, err)
		if sent := (*sentAndFailed)(nil); !errors.As(err, &sent) {
			err = &notSent{err}
		}
		return nil, err
	}
	return resp, nil
}

// notSent is the error of a request that never reached a connection,
// worded as how it failed: it matches conn.ErrNotSent too.
type notSent struct{ err error }

func (e *notSent) Error() string   { return e.err.Error() }
func (e *notSent) Unwrap() []error { return []error{e.err, conn.ErrNotSent} }

// findCoordinator asks any broker which node coordinates key.
func (c *Cluster) findCoordinator(ctx context.Context, kind CoordinatorKind, key string) (int32, string, error) {
	req := &protocol.FindCoordinatorRequest{CoordinatorKey: key, KeyType: int8(kind), CoordinatorKeys: []string{key}}
	versions := protocol.AllVersions
	if kind != GroupCoordinator {
		// v0 has no KeyType (it came in v1, with transactions, KIP-98):
		// sent at v0, the lookup would find the coordinator of a group
		// named as the key. A broker speaking v0 alone is not asked.
		versions.Min = 1
	}
	resp, _, err := c.askAny(ctx, req, versions)
	if err != nil {
		return 0, "", err
	}
	r, ok := resp.(*protocol.FindCoordinatorResponse)
	if !ok {
		return 0, "", fmt.Errorf("FindCoordinator: unexpected answer %T", resp)
	}
	return coordinatorIn(r, kind, key)
}

// coordinatorIn is the node, and its address, that r names as the
// coordinator of key, or r's error. The broker's message and the host it
// names are its text, quoted and cut short (brokertext) in the errors
// that name them.
func coordinatorIn(r *protocol.FindCoordinatorResponse, kind CoordinatorKind, key string) (int32, string, error) {
	code, msg, id, host, port := r.ErrorCode, r.ErrorMessage, r.NodeID, r.Host, r.Port
	if len(r.Coordinators) > 0 { // v4+: one entry per key
		e := r.Coordinators[0]
		code, msg, id, host, port = e.ErrorCode, e.ErrorMessage, e.NodeID, e.Host, e.Port
	}
	if e := kerr.ForCode(code); e != nil {
		err := fmt.Errorf("FindCoordinator: %v for %q: %w", kind, key, e)
		if msg != nil && *msg != "" {
			err = fmt.Errorf("%w (%s)", err, brokertext.Quote(*msg))
		}
		return 0, "", err
	}
	if host == "" || id < 0 {
		return 0, "", fmt.Errorf("FindCoordinator: %v for %q: %w", kind, key, kerr.CoordinatorNotAvailable)
	}
	return id, brokertext.HostPort(host, port), nil
}

// brokerFor is the connection handle of node id at addr: the node's own if
// the metadata names it, else one kept for coordinators alone.
func (c *Cluster) brokerFor(id int32, addr string) *conn.Broker {
	if n := c.Node(id); n != nil {
		return n.Broker // the metadata's address is the one to trust
	}
	c.coordinators.mu.Lock()
	defer c.coordinators.mu.Unlock()
	b := c.coordinators.extra[id]
	switch {
	case b == nil && c.coordinators.closed:
		// A lookup that answered as the producer closed: its request
		// fails with ErrClosed rather than dial a connection nothing
		// would close.
		b = conn.NewBroker(id, addr, c.cfg.Conn)
		b.Close()
	case b == nil:
		b = conn.NewBroker(id, addr, c.cfg.Conn)
		c.coordinators.extra[id] = b
	case b.Addr() != addr:
		b.SetAddr(addr)
	}
	return b
}

// Retriable reports whether a coordinator request's failure may heal by
// asking again after a backoff: no broker answered, the coordinator moved
// or is loading, or another transaction of the id is still ending. When
// no broker answered, only if one of them could not be reached: brokers
// that all refused to let the producer in (conn.ErrAuthentication) refuse
// it alike the next time.
func Retriable(err error) bool {
	var unanswered brokersFailed
	if errors.As(err, &unanswered) {
		return unanswered.mayAnswer()
	}
	var code *kerr.Error
	if errors.As(err, &code) {
		return code.Retriable || errors.Is(code, kerr.ConcurrentTransactions)
	}
	return conn.IsRetriable(err)
}
