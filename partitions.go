package producer

import (
	"context"
	"fmt"
)

// PartitionsFor returns how many partitions topic has, fetching its
// metadata and waiting for it if the producer does not know it yet (Java:
// partitionsFor), no longer than MaxBlock or ctx: a topic that does not
// exist fails with ErrUnknownTopic then, and one whose metadata the broker
// refuses (a denied authorization) at once with that refusal, from an
// answer the call waited for. Produce never waits for metadata; calling
// PartitionsFor first lets a caller that wants to know the topic exists,
// or to start with metadata warm, do so explicitly.
func (p *Producer) PartitionsFor(ctx context.Context, topic string) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if err := validTopic(topic); err != nil {
		return 0, err
	}
	defer p.cluster.Want(topic)()
	maxBlock := p.cfg.clock.NewTimer(p.cfg.MaxBlock)
	defer maxBlock.Stop()
	// A refusal is trusted only from an answer this call waited for, as
	// the Java client's partitionsFor fetches metadata before it throws:
	// access may have been granted since the cached one.
	answered := false
	for {
		updated := p.cluster.Changed()
		refused := p.auth.last.Load()
		if t := p.cluster.Snapshot().Topic(topic); t != nil {
			if len(t.Partitions) > 0 {
				return len(t.Partitions), nil
			}
			if answered && t.Refused() {
				return 0, &PartitionError{Topic: topic, Partition: -1, Err: t.Err}
			}
		}
		p.cluster.RequestRefresh("partitions wanted for " + topic)
		select {
		case <-updated:
			answered = true
			if err := p.auth.refusedSince(refused); err != nil {
				return 0, &PartitionError{Topic: topic, Partition: -1, Err: err}
			}
		case <-maxBlock.C():
			return 0, &PartitionError{Topic: topic, Partition: -1, Err: p.withRefreshFailure(fmt.Errorf("%w %q: no metadata within MaxBlock (%v)", ErrUnknownTopic, topic, p.cfg.MaxBlock))}
		case <-ctx.Done():
			return 0, &PartitionError{Topic: topic, Partition: -1, Err: p.withRefreshFailure(fmt.Errorf("%w %q: %w", ErrUnknownTopic, topic, ctx.Err()))}
		case <-p.ctx.Done():
			return 0, ErrClosed
		}
	}
}
