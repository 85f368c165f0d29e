package conn

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gokafka/producer/protocol"
)

// Conn is one connection to one broker, after a successful handshake. It is
// safe for concurrent use. Once broken or closed it stays dead: Broker makes
// a new one.
type Conn struct {
	addr string
	cfg  Config
	nc   net.Conn
	// writev: nc writes several buffers in one system call (plain TCP), so
	// a Produce request's batches are written from where they are. On TLS,
	// net.Buffers would write each as a record of its own: the request is
	// copied into one buffer there.
	writev   bool
	log      *slog.Logger
	clientID *string

	// versions is what the broker speaks. The handshake sets it before the
	// Conn is returned by Dial, and nothing writes it afterwards.
	versions protocol.BrokerVersions
	// features is the cluster's finalized feature levels (KIP-584), as the
	// broker told them in ApiVersions; set with versions.
	features map[string]int16
	// featuresEpoch is the epoch of features, which rises with each
	// change a controller makes to them; -1 if the broker told none.
	featuresEpoch int64

	// slots holds one token per request awaiting a response; its capacity
	// is MaxInFlight, so a full channel is what makes Send block.
	slots chan struct{}
	// writeLock is a mutex made of a channel so that a Send waiting for it
	// can give up when its context ends.
	writeLock chan struct{}
	// nextCorr is the next correlation id; guarded by writeLock, so ids
	// reach the wire in increasing order.
	nextCorr int32
	// splices and iov are the room of the last request written, kept for
	// the next (guarded by writeLock): where its batches go into the
	// frame, and the buffers of its writev. iovLeft is what the writev
	// has still to write, which it consumes.
	splices      []protocol.Splice
	iov, iovLeft net.Buffers

	mu      sync.Mutex
	pending []*pending // awaiting a response, oldest first (wire order)
	// writeDeadline is when the write in progress times out; zero if none.
	writeDeadline time.Time
	// pausedUntil is when the broker's last quota pause ends (Paused).
	pausedUntil time.Time
	err         error // why the connection died; nil while alive

	dead chan struct{} // closed when err is set
	// kick wakes the timeout watcher when the oldest deadline may have
	// changed; one buffered token is enough to make it look again.
	kick        chan struct{}
	readerDone  chan struct{} // closed when the reader goroutine exits
	watcherDone chan struct{} // closed when the timeout watcher exits
	// reauthDone is closed when the re-authentication goroutine exits; nil
	// while there is none. Dial sets it before the Conn is shared.
	reauthDone chan struct{}

	// opened: Dial returned the Conn and told Events.Dialed, so its end
	// goes to Events.Closed. Guarded by mu.
	opened bool
}

// pending is a request written, or being written, that awaits a response.
type pending struct {
	corr     int32
	req      protocol.Request
	version  int16
	done     func(protocol.Response, error)
	deadline time.Time
	auth     bool // part of the authentication exchange: holds no slot
}

// newConn wraps an established net.Conn and starts its goroutines.
func newConn(nc net.Conn, addr string, cfg Config) *Conn {
	nc = withRawIO(nc)
	clientID := cfg.ClientID
	c := &Conn{
		addr:        addr,
		cfg:         cfg,
		nc:          nc,
		writev:      isTCP(nc),
		log:         cfg.Logger.With("addr", addr),
		clientID:    &clientID,
		slots:       make(chan struct{}, cfg.MaxInFlight),
		writeLock:   make(chan struct{}, 1),
		dead:        make(chan struct{}),
		kick:        make(chan struct{}, 1),
		readerDone:  make(chan struct{}),
		watcherDone: make(chan struct{}),
	}
	go c.readLoop()
	go c.watchTimeouts()
	return c
}

// isTCP reports whether nc is a plain TCP connection.
func isTCP(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, buffersWriter:
		return true
	}
	return false
}

// buffersWriter is a connection that writes a list of buffers itself
// (rawTCPConn), where net.Buffers' WriteTo would write them one by one.
type buffersWriter interface {
	writeBuffers(v *net.Buffers) error
}

// Addr is the address this connection was dialed at.
func (c *Conn) Addr() string { return c.addr }

// Version returns the highest version of api that both this client and the
// broker speak, or a *protocol.VersionError naming the API and both ranges.
func (c *Conn) Version(api protocol.APIKey) (int16, error) {
	return c.versions.For(api)
}

// VersionWithin is Version for a caller that may send only the versions in
// allowed: its error's range for us is narrowed to allowed.
func (c *Conn) VersionWithin(api protocol.APIKey, allowed protocol.VersionRange) (int16, error) {
	return c.versions.Within(api, allowed)
}

// FinalizedFeature returns the level the cluster finalized for a feature
// (KIP-584), as this broker said in ApiVersions; false if it named none
// (older brokers, or the feature is off).
func (c *Conn) FinalizedFeature(name string) (int16, bool) {
	level, ok := c.features[name]
	return level, ok
}

// FinalizedFeaturesEpoch is the epoch of the features FinalizedFeature
// tells (KIP-584): of two connections', the higher is the newer, as a
// connection keeps what the broker said when it was dialed. -1 if the
// broker told none.
func (c *Conn) FinalizedFeaturesEpoch() int64 { return c.featuresEpoch }

// InFlight is the number of requests awaiting a response.
func (c *Conn) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Done is closed when the connection dies, by Close or by breaking.
func (c *Conn) Done() <-chan struct{} { return c.dead }

// Err returns why the connection died, or nil while it is alive.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and fails every request awaiting a response
// with an error wrapping ErrClosed. It is idempotent, always returns nil, and
// returns only once the connection's goroutines have exited. Because it
// waits for the reader goroutine, a done callback (which runs on that
// goroutine) must not call Close synchronously; it can hand the close to
// another goroutine.
func (c *Conn) Close() error {
	c.fail(fmt.Errorf("%w: %s", ErrClosed, c.addr))
	<-c.watcherDone
	<-c.readerDone
	if c.reauthDone != nil {
		<-c.reauthDone
	}
	return nil
}

// fail kills the connection with err, once: later calls do nothing. Every
// pending request completes with err, on the calling goroutine.
func (c *Conn) fail(err error) {
	c.tearDown(c.kill(err))
}

// teardown is what is left to do of a connection kill marked dead: close
// its transport, tell Events.Closed, and complete its pending requests.
type teardown struct {
	err    error
	failed []*pending
	opened bool
}

// kill marks the connection dead of err, once, and returns the teardown
// that tearDown finishes; nil if it was dead already. From then on nothing
// more is written: enqueue refuses, and whoever waits for a slot or the
// write lock leaves (dead), each request unwritten (ErrNotSent). It runs
// no code but this package's, so a writer can kill the connection before
// it lets go of the write lock, and tear it down after.
func (c *Conn) kill(err error) *teardown {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	c.err = err
	failed := c.pending
	c.pending = nil
	close(c.dead)
	return &teardown{err: err, failed: failed, opened: c.opened}
}

// tearDown finishes what kill began (nothing if td is nil). It runs the
// callers' code, Events.Closed and the requests' done callbacks, on the
// calling goroutine.
func (c *Conn) tearDown(td *teardown) {
	if td == nil {
		return
	}
	if td.opened && c.cfg.Events.Closed != nil {
		c.cfg.Events.Closed(c.cfg.NodeID, c.addr, td.err)
	}

	closeTransport(c.nc) // unblocks the reader and any write in progress
	c.log.Debug("kafka connection closed", "reason", td.err, "failed_requests", len(td.failed))
	for _, p := range td.failed {
		if !p.auth {
			<-c.slots
		}
		p.done(nil, requestFailed(p.req.Key(), p.version, p.corr, td.err))
	}
}

// wake tells the timeout watcher to look at the deadlines again.
func (c *Conn) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// ctxErr says that a request was not sent because its context ended.
func (c *Conn) ctxErr(ctx context.Context, req protocol.Request) error {
	return fmt.Errorf("%s to %s: %w: %w", req.Key(), c.addr, ErrNotSent, context.Cause(ctx))
}

// notSent says that a request of api was not sent because the connection
// had died of err, which names the connection (and the request that
// brought it down, if one did).
func notSent(api protocol.APIKey, err error) error {
	return fmt.Errorf("%s: %w: %w", api, ErrNotSent, err)
}
