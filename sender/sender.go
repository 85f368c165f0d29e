// Package sender turns ready batches into ProduceRequests: one goroutine per
// broker node (not per partition, nor per connection: it outlives reconnects
// and a change of the broker's address, until the broker leaves the cluster's
// metadata) drains the batches of the partitions that broker leads, packs them
// into one request up to MaxRequestSize, sends it pipelined (up to MaxInFlight
// awaiting answers, though a request goes behind one in flight only for a full
// batch, a retry, a batch an earlier request had no room for, a Flush or a
// wait for memory: accumulator.Drain), and reports each broker's answer, batch
// by batch, to the accumulator: written, retry, split, or failed. The answers
// are read on the sender's goroutine: connection callbacks only hand them over
// a channel. No user code runs here; callbacks run on the accumulator's
// delivery goroutine.
//
// It is the producer's own machinery rather than an API for users, taking
// types of the module's internal packages (a clock.Clock): package
// producer sets it up from its Config.
package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/wire"
)

// Conn is the part of a broker connection the sender uses; conn.Conn
// implements it, tests fake it. SendVersion calls done exactly once, and
// once done has run and SendVersion has returned it keeps nothing of req:
// the sender builds a later request in the same memory.
type Conn interface {
	SendVersion(ctx context.Context, req protocol.Request, version int16, done func(protocol.Response, error))
	Version(api protocol.APIKey) (int16, error)
	// Paused says that the broker will read nothing from the connection
	// for d (throttle.go): the requests awaiting answers on it, and a write
	// in progress, get d more before they time out. The sender calls it
	// inside done, on the goroutine the connection calls done on.
	Paused(d time.Duration)
}

// Hooks are how the sender asks the rest of the producer for help, without
// importing it.
type Hooks struct {
	// Partitions returns the partitions this broker leads now: a list
	// never written again once returned (see accumulator.Ready).
	Partitions func() []accumulator.TopicPartition
	// Connect returns a live connection to this broker.
	Connect func(ctx context.Context) (Conn, error)
	// NextAttempt returns when Connect may dial the broker again: after a
	// failed connection, the end of the broker's reconnect backoff
	// (conn.Broker.NextAttempt), which alone paces the sender's attempts.
	// Nil is a time already past.
	NextAttempt func() time.Time
	// RefreshMetadata asks for a metadata refresh: a leader moved, a topic
	// vanished, or the broker could not be reached.
	RefreshMetadata func(reason string)
	// LeaderHint applies a KIP-951 current-leader hint from a response and
	// reports whether it told something new (a newer leader epoch).
	// topicID is the id the metadata gave the topic when the request was
	// built, whatever the Produce version, or the zero id when it gave
	// none: a hint about an incarnation of the topic the metadata no
	// longer describes tells nothing.
	LeaderHint func(topic string, topicID wire.UUID, partition, leader, epoch int32, endpoint *protocol.ProduceResponseNodeEndpoint) bool

	// TopicID returns a topic's id in the current metadata, or the zero id
	// when it has none, for Produce v13+ (KIP-516) and for the leader
	// hints in any answer. It is asked once per topic of a request; nil
	// means no id is known, and requests name their topics (v12).
	TopicID func(topic string) wire.UUID
}

// Config is the sender's share of the producer's settings.
type Config struct {
	Node            int32
	Acks            int16
	Timeout         time.Duration // the ProduceRequest's TimeoutMs
	MaxRequestSize  int
	MaxInFlight     int
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	// TransactionalID is sent with every request of a transactional
	// producer; nil otherwise.
	TransactionalID *string
	// TransactionsV2 reports whether the transaction under way speaks
	// transactions v2 (KIP-890), which may change from one transaction to
	// the next: only then may a transactional producer
	// send Produce v12+, whose requests add their partitions to the
	// transaction themselves.
	TransactionsV2 func() bool
	Accumulator    *accumulator.Accumulator
	Hooks          Hooks
	Clock          clock.Clock
	// Logger logs the sender's events; it carries the broker's node id
	// already (the producer's gives it as "node"), so the lines here do
	// not add it again.
	Logger *slog.Logger
	// Counters, if set, is incremented as requests and retries happen.
	Counters *Counters

	// Events tell the producer's hooks what happens (events.go).
	Events Events
}

// Sender drains and sends for one broker.
type Sender struct {
	cfg          Config
	acc          *accumulator.Accumulator
	retryBackoff backoff.Exponential
	wake         chan struct{}
	results      chan *flight // answered requests, from the connection
	landed       []*flight    // flights handled, for the next requests
	answers      answers      // the answer being handled, by partition
	inFlight     int
	start        int       // fairness: where the next drain begins
	pausedUntil  time.Time // the broker's quota pause (throttle.go)

	version int16 // the Produce version of the last request, for the log
}

// New returns a sender; Run starts it.
func New(cfg Config) *Sender {
	return &Sender{
		cfg:          cfg,
		acc:          cfg.Accumulator,
		retryBackoff: backoff.Exponential{Base: cfg.RetryBackoff, Max: cfg.RetryBackoffMax},
		wake:         make(chan struct{}, 1),
		results:      make(chan *flight, cfg.MaxInFlight+1),
	}
}

// Wake makes the sender look at the accumulator again; it never blocks.
func (s *Sender) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run drains and sends until ctx ends, then waits for the answers (or the
// connection failures) of the requests still in flight, so that every batch
// it drained gets an outcome before Run returns.
func (s *Sender) Run(ctx context.Context) {
	// One timer serves every wait, rearmed: a pass per request or answer
	// would otherwise allocate one. It is Run's, not the Sender's, so
	// that nothing of a wait is shared beyond the Run that waits.
	var timer clock.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		// One reading of ctx per pass: a cancellation between two readings
		// could leave await's select with nothing to wake it.
		stopping := ctx.Err() != nil
		if stopping && s.inFlight == 0 {
			return
		}
		now, wait, sent := s.pass(ctx, stopping)
		if sent {
			continue
		}
		s.await(ctx, stopping, now, wait, &timer)
	}
}

// pass looks at the accumulator once and, if a batch is ready, connects,
// then drains and sends, or books the connection's failure. stopping is
// Run's one reading of ctx for the pass. It returns the wait until the
// next pass and the now it counts from, and whether a request went: then
// Run passes again at once, for another may be ready behind it.
func (s *Sender) pass(ctx context.Context, stopping bool) (now time.Time, wait time.Duration, sent bool) {
	// The pass waits until now+wait, the now it read wait against: a
	// timer armed for the duration alone would count it again from the
	// arming, and wait out twice the time that passed in between (on
	// a fake clock, a test's Advance).
	wait = time.Duration(1<<63 - 1)
	ready := false
	if s.inFlight < s.cfg.MaxInFlight && !stopping {
		now = s.cfg.Clock.Now()
		if pause := s.paused(now); pause > 0 {
			wait = pause
		} else {
			// Like the Java client, connect only when there is something
			// to send: a broker that leads nothing of ours gets no
			// connection, and a dead one no metadata refreshes on our
			// account.
			ready, wait = s.acc.Ready(s.cfg.Node, s.cfg.Hooks.Partitions(), s.inFlight > 0, now)
		}
	}
	if !ready {
		return now, wait, false
	}
	c, err := s.cfg.Hooks.Connect(ctx)
	if err != nil {
		return now, s.connectFailed(ctx, err, now), false
	}
	f := s.takeOff()
	now = s.cfg.Clock.Now()
	f.batches, wait, s.start = s.acc.Drain(f.batches, s.cfg.Node, s.cfg.Hooks.Partitions(), s.start, s.cfg.MaxRequestSize, s.inFlight > 0, now)
	if len(f.batches) > 0 {
		s.send(ctx, c, f)
		return now, wait, true
	}
	s.land(f)
	return now, wait, false
}

// connectFailed handles a Connect that failed, asked at now, and returns
// the wait until the next pass (untilNextAttempt).
func (s *Sender) connectFailed(ctx context.Context, err error, now time.Time) time.Duration {
	// Nothing is drained while the broker is unreachable: the batches wait
	// in the accumulator, where they can still move to a new leader or
	// expire. Unless it refused to authenticate us: then they fail now.
	s.failUnauthenticated(err)
	s.noteUnreachable(ctx, err)
	wait := s.untilNextAttempt(now)
	s.cfg.Logger.Debug("broker unreachable", "err", err)
	// Only a connection attempt that failed is news: within the reconnect
	// backoff Connect fails at once, and the attempt that started the
	// backoff has asked already. Asked on every pass, each refresh's wake
	// would ask for the next, one every RetryBackoff while the broker
	// stays down (the Java client asks once per failed connection too).
	if !errors.Is(err, conn.ErrBackoff) {
		s.cfg.Hooks.RefreshMetadata("broker unreachable")
	}
	return wait
}

// await waits for what may change the next pass: a Wake, the end of wait
// after now (none if wait is the longest Duration, which Ready and Drain
// report when only an answer or a wake can change anything), an answer,
// which it handles, or ctx's end, unless the sender is stopping already.
// timer is Run's one timer, made at the first wait and rearmed after.
func (s *Sender) await(ctx context.Context, stopping bool, now time.Time, wait time.Duration, timer *clock.Timer) {
	var fire <-chan time.Time
	switch {
	case wait == time.Duration(1<<63-1):
		if *timer != nil {
			(*timer).Stop()
		}
	case *timer == nil:
		*timer = s.cfg.Clock.NewTimerAt(now.Add(wait))
		fire = (*timer).C()
	default:
		(*timer).ResetAt(now.Add(wait))
		fire = (*timer).C()
	}
	done := ctx.Done()
	if stopping {
		done = nil // only in-flight answers matter now
	}
	select {
	case <-s.wake:
	case <-fire:
	case f := <-s.results:
		s.inFlight--
		s.handle(f)
		s.notePause(f)
		s.land(f)
	case <-done:
	}
}

// retryConnectAtLeast bounds below the wait after a failed connection
// whose broker named no attempt later than the pass that asked: one due
// already (the broker moved, or another caller reconnected meanwhile), or
// none coming (the broker was closed). Retried at once, a Connect that
// keeps failing so would spin.
const retryConnectAtLeast = 10 * time.Millisecond

// untilNextAttempt is how long after asked, the time of the pass whose
// Connect failed, the sender waits: until the broker's reconnect backoff
// allows the next attempt, so that it alone paces them, as the Java
// client's poll waits the node's connection delay. A refusal within the
// backoff is no failure and waits for the same end: counted as one, every
// wake within the backoff (a record starting a batch, a metadata update)
// would push the next attempt back. Measured from asked, not from when
// Connect returned, an attempt that fell due meanwhile is made at once.
func (s *Sender) untilNextAttempt(asked time.Time) time.Duration {
	var next time.Time
	if s.cfg.Hooks.NextAttempt != nil {
		next = s.cfg.Hooks.NextAttempt()
	}
	if !next.After(asked) {
		return retryConnectAtLeast
	}
	return next.Sub(asked)
}

// noteUnreachable books why the broker could not be reached as the last
// error of the partitions it leads: a batch that times out waiting for it
// then names the broker and the failure, not only that it was sent 0
// times. Within the broker's reconnect backoff the failure is the one that
// started the backoff, which says more than the wait does. A connection
// given up because the sender is stopping, or the broker closed, is no
// failure of the broker's.
func (s *Sender) noteUnreachable(ctx context.Context, err error) {
	if ctx.Err() != nil || errors.Is(err, conn.ErrClosed) {
		return
	}
	var be *conn.BackoffError
	if errors.As(err, &be) && be.Err != nil {
		err = be.Err
	}
	// conn's errors name the address; the node id is ours to add.
	s.acc.Unreachable(s.cfg.Hooks.Partitions(), fmt.Errorf("broker %d unreachable: %w", s.cfg.Node, err))
}
