package producer

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/producer/internal/ctxerr"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/protocol/kerr"
)

// PartitionsFor returns how many partitions topic has, fetching its
// metadata and waiting for it if the producer does not know it yet (Java:
// partitionsFor), no longer than MaxBlock from the call or ctx: an invalid
// name fails at once with ErrInvalidRecord, a topic that does not exist with
// ErrUnknownTopic then, wrapping the broker's last answer for it (such as
// kerr.UnknownTopicOrPartition, which Kafka calls retriable, so that
// kerr.IsRetriable holds for it as for a record's error at MaxBlock and as
// the Java client's TimeoutException is retriable), and one whose metadata
// the broker refuses (a denied authorization) at once with that refusal,
// from an answer naming the topic that came during the call. A refusal
// cached before the call is not trusted, since access may have been granted
// since: the call waits for the next answer, and if MaxBlock or ctx ends
// first, its ErrUnknownTopic wraps the cached refusal too. A malformed
// answer (metadata.ErrMalformed) is no refusal: the call waits, and its
// ErrUnknownTopic names the answer if no later one replaced it. Produce
// never waits for metadata; calling PartitionsFor first lets a caller that
// wants to know the topic exists, or to start with metadata warm, do so
// explicitly.
func (p *Producer) PartitionsFor(ctx context.Context, topic string) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if err := validTopic(topic); err != nil {
		return 0, &PartitionError{Topic: topic, Partition: -1, Err: err}
	}
	// MaxBlock counts from the call: the deadline is read before the topic
	// is wanted, and the timer armed at it. Once the topic is wanted the
	// metadata loop may fetch its answer before the arming, and a clock
	// moved meanwhile (a test's Advance on seeing that answer) pushed a
	// timer armed for MaxBlock back by as much: for ever, on a fake clock
	// moved no more.
	// A refusal to let the producer in fails the call only if it is newer
	// than the one cached as the call began. Read once, here: read again
	// before each wait, it took a refusal that came between one wait and
	// the next, or while the call set up, for an old one, and the call
	// waited for the next refresh instead of failing with it.
	refused := p.auth.last.Load()
	deadline := p.cfg.clock.Now().Add(p.cfg.MaxBlock)
	defer p.cluster.Want(topic)()
	maxBlock := p.cfg.clock.NewTimerAt(deadline)
	defer maxBlock.Stop()
	// A refusal is trusted only from an answer that named the topic
	// since the call began, as the Java client's partitionsFor fetches
	// metadata before it throws: access may have been granted since the
	// cached one. Not from any update: a refresh that failed, or a leader
	// hint for another topic, tells waiters too.
	cached := p.cluster.Snapshot().Peek(topic)
	asked := false
	for {
		updated := p.cluster.Changed()
		t := p.cluster.Snapshot().Topic(topic)
		if t != nil && len(t.Partitions) > 0 {
			return len(t.Partitions), nil
		}
		if t.RefusedSince(cached) {
			return 0, &PartitionError{Topic: topic, Partition: -1, Err: t.Err}
		}
		// Looked at after updated is taken: a refusal noted later wakes
		// the wait below, since the metadata loop tells waiters of a
		// failed refresh only after noting it (noteRefresh).
		if err := p.auth.refusedSince(refused); err != nil {
			return 0, &PartitionError{Topic: topic, Partition: -1, Err: err}
		}
		if !asked {
			// Once: the metadata loop polls, with backoff, for a topic
			// wanted without partitions. Asked after every update, it
			// refreshed every RetryBackoff for as long as the call waited.
			p.cluster.RequestRefresh("partitions wanted for " + topic)
			asked = true
		}
		select {
		case <-updated:
		case <-maxBlock.C():
			return 0, p.notFound(topic, fmt.Errorf("no metadata within MaxBlock (%v)", p.cfg.MaxBlock))
		case <-ctx.Done():
			return 0, p.notFound(topic, ctxerr.Of(ctx))
		case <-p.ctx.Done():
			return 0, ErrClosed
		}
	}
}

// notFound is the error of a PartitionsFor whose wait for topic's
// metadata ended for why. A refusal the metadata holds, cached before the
// call and not answered again since, is named: the caller learns what the
// producer knows, though access may have been granted since; so is a
// malformed answer, which no later one replaced.
func (p *Producer) notFound(topic string, why error) error {
	err := fmt.Errorf("%w: %w", ErrUnknownTopic, why)
	t := p.cluster.Snapshot().Peek(topic)
	switch {
	case t.Refused():
		err = fmt.Errorf("%w; the last answer refused it: %w", err, t.Err)
	case t != nil && errors.Is(t.Err, metadata.ErrMalformed):
		err = fmt.Errorf("%w; the last answer was malformed: %w", err, t.Err)
	case t != nil && t.Err != nil:
		// The broker's answer, as a record's error at MaxBlock names it
		// (heldTooLong).
		err = p.withAutoCreateHint(fmt.Errorf("%w: %w", err, t.Err), t.Err)
	}
	return &PartitionError{Topic: topic, Partition: -1, Err: p.withRefreshFailure(err)}
}

// withAutoCreateHint adds to err, the error of a wait for a topic's
// metadata that came to nothing, that AllowAutoTopicCreation is off, when
// it is and the last answer called the topic unknown (topicErr): the Java
// producer always lets the broker create a topic, and a user coming from
// that client, against a broker that would create the topic, learns which
// setting differs.
func (p *Producer) withAutoCreateHint(err, topicErr error) error {
	if p.cfg.AllowAutoTopicCreation || !errors.Is(topicErr, kerr.UnknownTopicOrPartition) {
		return err
	}
	return fmt.Errorf("%w (AllowAutoTopicCreation is off)", err)
}
