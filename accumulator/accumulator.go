// Package accumulator collects records into per-partition batches until they
// are ready to send: the step between choosing a partition and the sender.
//
// A record is encoded into its partition's open batch when it is appended,
// straight into a buffer from the buffer pool, so the caller's slices are not
// retained. A batch becomes ready when it is full, when Linger has passed
// since its first record, while a Flush or Close is under way, or while
// goroutines wait for buffer memory (sending is the only way to free it).
// Each broker's sender drains the ready batches of the partitions it leads,
// fairly, and reports back through Complete, Reenqueue or Split. Callbacks
// flow back as opaque values handed to Config.Complete, so this package never
// imports the public API above it.
package accumulator

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/compression"
	"github.com/gokafka/producer/internal/clock"
	"github.com/gokafka/producer/internal/notify"
)

// ErrDeliveryTimeout is wrapped by the error of a batch that had no outcome
// within the delivery timeout.
var ErrDeliveryTimeout = errors.New("delivery timeout")

// ErrClosed is returned by Append after Close, and wrapped by the error of
// batches aborted at close.
var ErrClosed = errors.New("accumulator closed")

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Result is the outcome of one record, handed to Config.Complete.
type Result struct {
	Topic     string
	Partition int32
	Offset    int64 // -1 when unknown (errors, acks=0)
	Timestamp int64 // ms: the record's, or the broker's LogAppendTime
	KeySize   int32 // -1 for a nil key
	ValueSize int32 // -1 for a nil value
	Err       error
}

// Config holds what the accumulator needs from the producer's settings.
type Config struct {
	BatchSize       int
	Linger          time.Duration
	DeliveryTimeout time.Duration
	MaxBlock        time.Duration // longest wait for buffer memory
	Codec           compression.Codec
	Level           int
	// StrictOrder keeps at most one batch per partition in flight, so that
	// a retried batch cannot be overtaken (MaxInFlight == 1).
	StrictOrder bool
	Pool        *bufferpool.Pool
	Clock       clock.Clock
	// Complete runs a record's callback; cb is the value given to Append.
	Complete func(cb any, r Result)
}

// Accumulator holds the batches of every partition.
type Accumulator struct {
	cfg Config

	// topics maps a topic to its partitions' queues. It is copied on write
	// (a new topic or more partitions), so the per-record lookup takes no
	// lock and allocates nothing.
	topics   atomic.Pointer[map[string]*topicQueues]
	topicsMu sync.Mutex

	flushing atomic.Int32 // Flush calls under way: everything is ready
	closing  atomic.Bool  // Close under way: everything is ready
	aborted  atomic.Bool  // Abort called: appends fail

	// incomplete holds every batch created and not yet completed, for Flush.
	incMu      sync.Mutex
	incomplete map[*Batch]struct{}
	completed  notify.Notifier // a batch left incomplete
	batchSeq   atomic.Uint64

	stats counters
}

type topicQueues struct {
	partitions atomic.Pointer[[]*queue]
}

// New returns an empty accumulator.
func New(cfg Config) *Accumulator {
	a := &Accumulator{cfg: cfg, incomplete: make(map[*Batch]struct{})}
	empty := map[string]*topicQueues{}
	a.topics.Store(&empty)
	return a
}

// queue returns tp's queue, creating it on first use.
func (a *Accumulator) queue(tp TopicPartition) *queue {
	if q := a.lookup(tp); q != nil {
		return q
	}
	a.topicsMu.Lock()
	defer a.topicsMu.Unlock()
	m := *a.topics.Load()
	tq := m[tp.Topic]
	if tq == nil {
		next := make(map[string]*topicQueues, len(m)+1)
		for k, v := range m {
			next[k] = v
		}
		tq = &topicQueues{}
		empty := []*queue{}
		tq.partitions.Store(&empty)
		next[tp.Topic] = tq
		a.topics.Store(&next)
	}
	parts := *tq.partitions.Load()
	if int(tp.Partition) < len(parts) && parts[tp.Partition] != nil {
		return parts[tp.Partition]
	}
	n := len(parts)
	if int(tp.Partition) >= n {
		n = int(tp.Partition) + 1
	}
	grown := make([]*queue, n)
	copy(grown, parts)
	q := &queue{tp: tp}
	grown[tp.Partition] = q
	tq.partitions.Store(&grown)
	return q
}

// lookup returns tp's queue or nil, without locking.
func (a *Accumulator) lookup(tp TopicPartition) *queue {
	tq := (*a.topics.Load())[tp.Topic]
	if tq == nil || tp.Partition < 0 {
		return nil
	}
	parts := *tq.partitions.Load()
	if int(tp.Partition) >= len(parts) {
		return nil
	}
	return parts[tp.Partition]
}

// eachQueue calls f for every queue.
func (a *Accumulator) eachQueue(f func(*queue)) {
	for _, tq := range *a.topics.Load() {
		for _, q := range *tq.partitions.Load() {
			if q != nil {
				f(q)
			}
		}
	}
}
