package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/internal/backoff"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// RequestRefresh asks the metadata loop for a refresh soon; it never
// blocks, and many requests before the loop runs make one refresh.
func (c *Cluster) RequestRefresh(reason string) {
	select {
	case c.refreshCh <- struct{}{}:
		c.cfg.Logger.Debug("metadata refresh requested", "reason", reason)
	default:
	}
}

// refreshOnBreak is a connection's Closed event that asks for a refresh
// when the connection broke, then tells closed (the producer's hooks), if
// any. A broker hangs up on a request it will not answer: with acks=0,
// Kafka closes the connection of a Produce it refused (a partition it no
// longer leads, or does not know), "so that the producer client will know
// that some error has happened and will refresh its metadata"
// (KafkaApis). Nothing fails then, since nothing awaits an answer; unasked,
// the sender would redial the old leader and lose every record until
// MetadataMaxAge. Like the Java client, which asks on every disconnect,
// any connection that broke asks, whatever it carried (even one a broker
// closed as idle, after its connections.max.idle.ms): the loop makes one
// refresh of many asks, at most every RetryBackoff, and reconnecting is
// paced by the reconnect backoff. One closed here (conn.ErrClosed: the
// producer's Close, a node that left) says nothing of the metadata.
func (c *Cluster) refreshOnBreak(closed func(node int32, addr string, err error)) func(int32, string, error) {
	return func(node int32, addr string, err error) {
		if !errors.Is(err, conn.ErrClosed) {
			c.RequestRefresh(fmt.Sprintf("connection to broker %d broke", node))
		}
		if closed != nil {
			closed(node, addr, err)
		}
	}
}

// Run keeps the metadata fresh until ctx ends: at once, every
// MetadataMaxAge, and when asked (an unknown topic, a moved leader, a dead
// connection), but never more often than every RetryBackoff, so a storm of
// errors makes one request, not thousands; after a refresh that failed,
// not before RetryBackoff doubled by each refresh in a row that failed, up
// to RetryBackoffMax. While awaited topics have no partitions, awaited
// partitions are not in the metadata, partitions with batches buffered
// have no leader (their topic called unknown, or left out of an answer),
// or known partitions have no leader, it polls with backoff (doubled by
// each refresh in a row that failed or left something awaited).
func (c *Cluster) Run(ctx context.Context) {
	clk := c.cfg.Clock
	retry := backoff.Exponential{Base: c.cfg.RetryBackoff, Max: c.cfg.RetryBackoffMax}
	failures := 0 // refreshes in a row that failed or left something awaited: the polls' backoff
	failed := 0   // refreshes in a row that failed: the floor of a requested one
	// next is when the next refresh is due, the first at once. The loop
	// waits for deadlines, not for the time left to them, which, read and
	// then armed, would count again whatever passed in between (on a fake
	// clock, a test's Advance): after the floor's pause, say, by as much
	// as the Advance that ended it overshot.
	next := clk.Now()
	for {
		if !c.awaitRefresh(ctx, next) {
			return
		}
		started := clk.Now()
		err := c.refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		if c.cfg.Refreshed != nil {
			c.cfg.Refreshed(err)
		}
		if err != nil {
			c.updates.Notify() // waiters learn of the failure too
		}
		var wait time.Duration
		switch {
		case err != nil:
			failed++
			failures++
			wait = retry.Delay(failures)
			c.cfg.Logger.Warn("metadata refresh failed", "err", err, "retry_in", wait)
		case c.awaiting():
			failed = 0
			failures++
			wait = retry.Delay(failures)
		default:
			failed, failures = 0, 0
			wait = c.cfg.MetadataMaxAge
		}
		ended := clk.Now()
		next = ended.Add(wait)
		// A requested refresh may come early, but not earlier than
		// RetryBackoff after this one began, nor, after failed ones, before
		// their backoff is over: with no broker answering, the senders'
		// requests made a Metadata request (and a Warn line) every
		// RetryBackoff for as long as it lasted. An answer, even one that
		// changes nothing, keeps the floor at RetryBackoff, so that a moved
		// leader is looked for as soon as ever; and only failures count
		// towards it, not the polls for something awaited, so that one
		// passing failure among such polls does not hold the next
		// requested refresh back for RetryBackoffMax.
		floor := started.Add(c.cfg.RetryBackoff)
		if err != nil {
			floor = started.Add(max(c.cfg.RetryBackoff, retry.Delay(failed)))
		}
		if floor.After(ended) {
			if !pause(ctx, clk.NewTimerAt(floor)) {
				return
			}
		}
	}
}

// awaitRefresh waits until next, or for a refresh asked for, and reports
// false, at once, if ctx ends first. One asked for while the last refresh
// ran, or before the first, starts the refresh without a timer: the loop
// arms its wait (MetadataMaxAge, say) only when nothing is asked, so that
// an armed wait means the loop is at rest. When the timer wakes it, a
// request pending too is taken with it: the refresh that follows reads
// what to ask for after the request, and so answers it. Left in the
// channel when the timer won the wake (the first refresh, due at once,
// and a record's request for its unknown topic, both ready), it made a
// second Metadata request RetryBackoff after the first, asking the same.
func (c *Cluster) awaitRefresh(ctx context.Context, next time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.refreshCh:
		return true
	default:
	}
	timer := c.cfg.Clock.NewTimerAt(next)
	defer timer.Stop()
	select {
	case <-timer.C():
		select {
		case <-c.refreshCh:
		default:
		}
		return true
	case <-c.refreshCh:
		return true
	case <-ctx.Done():
		return false
	}
}

// pause waits for t, reporting false, at once, if ctx ends first.
func pause(ctx context.Context, t clock.Timer) bool {
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}

// refresh fetches metadata for every topic the producer has use for and
// applies it.
func (c *Cluster) refresh(ctx context.Context) error {
	topics, idle := c.topics()
	req := &protocol.MetadataRequest{
		Topics:                 make([]protocol.MetadataRequestTopic, len(topics)),
		AllowAutoTopicCreation: c.cfg.AllowAutoTopicCreation,
	}
	for i := range topics {
		req.Topics[i].Name = &topics[i]
	}
	resp, version, err := c.askAny(ctx, req, protocol.AllVersions)
	if err != nil {
		return err
	}
	mr, ok := resp.(*protocol.MetadataResponse)
	if !ok {
		return fmt.Errorf("metadata: unexpected answer %T", resp)
	}
	if err := kerr.ForCode(mr.ErrorCode); err != nil {
		// An error for the whole answer (Metadata v13+, KIP-1102): its
		// brokers and topics describe nothing, so the cache keeps what it has.
		return fmt.Errorf("metadata: %w", err)
	}
	c.cache.ApplyTelling(mr, version, topics, c.cfg.Clock.Now(), c.cfg.Applied)
	if len(idle) > 0 {
		// Idleness is judged again now: records produced during the round
		// trip went into batches against the cached metadata, and their
		// topic, forgotten under them, would leave them without a leader
		// until a later refresh.
		if _, idle = c.topics(); len(idle) > 0 {
			forgotten := c.cache.Forget(idle)
			c.cfg.Logger.Debug("metadata forgot idle topics", "topics", idle, "max_idle", c.cfg.MaxIdle)
			if len(forgotten) > 0 && c.cfg.Forgot != nil {
				c.cfg.Forgot(forgotten)
			}
		}
	}
	c.updated(true)
	return nil
}

// updated spreads a new snapshot: to the node set, to the producer, and to
// those waiting for a change.
func (c *Cluster) updated(prune bool) {
	snap := c.sync(prune)
	if c.cfg.Updated != nil {
		c.cfg.Updated(snap)
	}
	c.updates.Notify()
}

// Changed returns a channel closed by the next metadata update, or the end
// of the next refresh that failed.
func (c *Cluster) Changed() <-chan struct{} { return c.updates.C() }

// topics is every topic the producer has use for: those cached with
// partitions or refused, those awaited, and those it still has batches of.
// A cached topic unknown (or deleted) is asked for only while awaited or
// buffered: asked for ever after, it could be auto-created long after
// everyone gave up on it. A refused one (a denied authorization) is asked
// for while in use, as one with partitions is, and as Java's Metadata
// keeps a used topic in its requests: asked for only while awaited, its
// refusal stayed cached after access was granted, the answer to every
// later PartitionsFor and to records held meanwhile. The list is never
// nil, even when empty: a nil list would ask for, and be applied as, every
// topic of the cluster, and the cache would drop the topics it does not
// name.
//
// idle is the cached topics not used for MaxIdle: not buffered, no batch
// started, not awaited. They are not asked for, and the refresh forgets
// them.
func (c *Cluster) topics() (ask, idle []string) {
	seen := map[string]bool{}
	ask = []string{}
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			ask = append(ask, name)
		}
	}
	since := c.cfg.Clock.Now().Add(-c.cfg.MaxIdle)
	buffered, used := c.inUse(since)
	var inUse map[string]bool
	if c.cfg.MaxIdle > 0 {
		inUse = make(map[string]bool, len(used))
		for _, names := range [][]string{used, c.wantedSince(since)} {
			for _, name := range names {
				inUse[name] = true
			}
		}
	}
	snap := c.cache.Snapshot()
	for _, name := range snap.Topics() {
		switch t := snap.Peek(name); {
		case inUse != nil && !inUse[name]:
			idle = append(idle, name)
		case t != nil && len(t.Partitions) > 0, t.Refused():
			add(name)
		}
	}
	for _, name := range c.wantedTopics() {
		add(name)
	}
	for _, tp := range buffered {
		add(tp.Topic)
	}
	return ask, idle
}

// inUse is Config.InUse, or nothing in use without it.
func (c *Cluster) inUse(since time.Time) (buffered []metadata.TopicPartition, used []string) {
	if c.cfg.InUse == nil {
		return nil, nil
	}
	return c.cfg.InUse(since)
}

// awaiting reports whether something is worth polling for: a topic
// awaited and not known (again) yet, or a partition awaited that its topic
// does not have yet (CreatePartitions), a partition with batches buffered and
// no leader in the metadata (its topic called unknown, or left out of an
// answer that listed fewer partitions: the batches have no sender until a
// broker names its leader), or a known partition without a usable leader,
// whose records cannot move until one is elected.
func (c *Cluster) awaiting() bool {
	snap := c.cache.Snapshot()
	for _, name := range c.wantedTopics() {
		if t := snap.Peek(name); t == nil || len(t.Partitions) == 0 {
			return true
		}
	}
	for _, tp := range c.partitionsWanted() {
		if t := snap.Peek(tp.Topic); t == nil || int(tp.Partition) >= len(t.Partitions) {
			return true
		}
	}
	buffered, _ := c.inUse(c.cfg.Clock.Now())
	for _, tp := range buffered {
		if _, _, ok := snap.Leader(tp.Topic, tp.Partition); !ok {
			return true
		}
	}
	for _, name := range snap.Topics() {
		if t := snap.Peek(name); t != nil && len(t.View.Available) < len(t.Partitions) {
			return true
		}
	}
	return false
}
