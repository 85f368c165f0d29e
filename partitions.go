package producer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/gokafka/producer/internal/notify"
	"github.com/gokafka/producer/protocol/kerr"
)

// PartitionsFor returns how many partitions topic has, fetching its
// metadata and waiting for it if the producer does not know it yet (Java:
// partitionsFor). Produce never waits for metadata; calling PartitionsFor
// first lets a caller that wants to know the topic exists, or to start with
// metadata warm, do so explicitly.
func (p *Producer) PartitionsFor(ctx context.Context, topic string) (int, error) {
	if p.closed.Load() {
		return 0, ErrClosed
	}
	if err := validTopic(topic); err != nil {
		return 0, err
	}
	p.wanted.add(topic)
	defer p.wanted.done(topic)
	for {
		updated := p.wanted.updated()
		refused := p.auth.last.Load()
		if t := p.cache.Snapshot().Topic(topic); t != nil {
			if len(t.Partitions) > 0 {
				return len(t.Partitions), nil
			}
			if t.Err != nil && !kerr.IsRetriable(t.Err) {
				return 0, &PartitionError{Topic: topic, Partition: -1, Err: t.Err}
			}
		}
		p.requestRefresh("partitions wanted for " + topic)
		select {
		case <-updated:
			if err := p.auth.refusedSince(refused); err != nil {
				return 0, &PartitionError{Topic: topic, Partition: -1, Err: err}
			}
		case <-ctx.Done():
			return 0, &PartitionError{Topic: topic, Partition: -1, Err: fmt.Errorf("%w %q: %w", ErrUnknownTopic, topic, ctx.Err())}
		case <-p.ctx.Done():
			return 0, ErrClosed
		}
	}
}

// wanted is the topics PartitionsFor calls wait for, with how many wait
// for each, kept in every metadata request while someone waits (a topic
// that arrives stays in the requests through the cache), and a signal of
// each metadata update for those waiting.
type wanted struct {
	mu      sync.Mutex
	topics  map[string]int
	updates notify.Notifier
}

func (w *wanted) add(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.topics == nil {
		w.topics = make(map[string]int)
	}
	w.topics[topic]++
}

// done forgets topic once nobody waits for it, so a topic that never came
// is not asked for ever after.
func (w *wanted) done(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.topics[topic]--; w.topics[topic] <= 0 {
		delete(w.topics, topic)
	}
}

func (w *wanted) names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Collect(maps.Keys(w.topics))
}

// updated returns a channel closed by the next metadata update.
func (w *wanted) updated() <-chan struct{} { return w.updates.C() }

// signal wakes those waiting for a metadata update.
func (w *wanted) signal() { w.updates.Notify() }
