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
	"github.com/gokafka/producer/internal/slot"
	"github.com/gokafka/producer/metadata"
)

// ErrDeliveryTimeout is wrapped by the error of a batch that had no outcome
// within the delivery timeout.
var ErrDeliveryTimeout = errors.New("delivery timeout")

// ErrClosed is wrapped by Append's error after Abort, and by the error of
// batches that fail because of it; both read as Abort's error.
var ErrClosed = errors.New("accumulator closed")

// ErrMaybeWritten is wrapped by the error of a batch that was sent in a
// request that got no answer (it timed out, or its connection broke), or
// an error the leader gives after appending (see Retry.MaybeWritten), and
// that was never resolved since: the broker may have written its records.
// A batch whose error does not wrap it was certainly not written.
var ErrMaybeWritten = errors.New("the records may have been written: a request carrying them went unanswered or failed after the leader appended them")

// ErrBatchRefused is wrapped by the error of a record whose batch a broker
// refused for good for other records of it, which it named (KIP-467 record
// errors, see Refuse): this record was not named, and this attempt did not
// write it (an earlier one may have: then the error wraps ErrMaybeWritten
// too).
var ErrBatchRefused = errors.New("batch refused for other records in it")

// ErrProducerStopped is wrapped by every error with which a broker's
// answer stopped the producer for good (Fatal), and so by the error of
// every batch failed for it: the broker's error alone would not say so
// (CLUSTER_AUTHORIZATION_FAILED or UNSUPPORTED_VERSION end an idempotent
// producer only when a Produce answer carries them, not when a record's
// delivery timeout quotes them as its partition's last error).
var ErrProducerStopped = errors.New("the producer stopped")

// Fenced is Fatal's why for a producer whose id another producer took
// over: PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH under its current epoch.
const Fenced = "it was fenced (another producer took over its id)"

// TopicPartition names one partition.
type TopicPartition = metadata.TopicPartition

// Result is the outcome of one record, handed to Config.Deliver.
type Result struct {
	Topic     string
	Partition int32
	Offset    int64 // -1 when unknown (errors, acks=0, some duplicates)
	Timestamp int64 // ms: the record's, or the broker's LogAppendTime
	KeySize   int32 // -1 for a nil key
	ValueSize int32 // -1 for a nil value
	Err       error
	// Sent is when the record's batch was first sent; zero if it never
	// was. The producer's hooks tell a record's time in the queue by it.
	Sent time.Time
}

// Config holds what the accumulator needs from the producer's settings.
type Config struct {
	BatchSize       int
	Linger          time.Duration
	DeliveryTimeout time.Duration
	MaxBlock        time.Duration // longest wait for buffer memory
	Codec           compression.Codec
	Level           int
	// Idempotent gives every batch a producer id, epoch and sequence number
	// when it is first drained, so that the broker writes each batch once
	// and in order, whatever is retried.
	Idempotent bool
	// Transactional marks every batch as part of a transaction, and leaves
	// epochs to the transaction coordinator: a partition whose sequences
	// must restart waits for SetProducerID, after calling NeedProducerID,
	// instead of bumping the epoch itself.
	Transactional bool
	// Admit, if set, is asked under a partition's lock before the
	// partition's first batch leaves, and again before the first to leave
	// after each EndTransaction (a new epoch alone does not ask again: a
	// transactional producer gets one only as its transaction ends, which
	// EndTransaction then tells): false holds the partition's batches
	// until Wake is called for it (a transaction must add the partition
	// first); a refusal fails the partition's batches never sent with it
	// (the transaction can no longer commit, so they would wait for its
	// abort, and a Flush with them). It must not block or call the
	// accumulator.
	Admit func(tp TopicPartition) (admitted bool, refused error)
	// EpochNeeded, if set, is told instead of NeedProducerID that a
	// transactional producer's partition must restart its sequences, and
	// why (its last failure, or nil): only the coordinator gives the new
	// epoch, once the transaction is aborted. It is called under the
	// partition's lock, once until SetProducerID: it must not block or
	// call the accumulator.
	EpochNeeded func(tp TopicPartition, cause error)
	// Failed, if set, is told of every batch that fails, with its partition
	// and its error, as the failure is decided: before the batch's
	// callbacks are queued. The error, like a Result's, does not name the
	// partition; whoever shows it says which, once. A transaction missing a
	// record must not commit, and a commit called from a callback waits for
	// no outcome queued behind that callback (AwaitBatches), so the
	// transaction cannot wait to learn of a failure from its callback. It
	// is called under the partition's lock: it must not block or call the
	// accumulator.
	Failed func(tp TopicPartition, err error)
	// MaxInFlight is how many batches of one partition may await an
	// answer at once; 1 keeps strict order without idempotence. At most 5
	// with Idempotent (the brokers remember the last five batches of each
	// producer to recognise duplicates).
	MaxInFlight int
	Pool        *bufferpool.Pool
	Clock       clock.Clock
	// Deliver runs a record's callback; cb is the value given to Append. It
	// runs on the accumulator's delivery goroutine, one record at a time. r
	// is the accumulator's until Deliver returns: it is filled again for the
	// next record of the batch rather than copied for each.
	Deliver func(cb any, r *Result)
	// NeedProducerID is called, without blocking, when a batch is ready but
	// the producer has no id yet; the answer comes through SetProducerID.
	NeedProducerID func()
	// TopicErr, if set, is the latest metadata's error for topic (a
	// denied authorization, say), or nil: a batch that times out never
	// sent, with no error of its own or of its partition, names it. It is
	// called under a partition's lock: it must not block or call the
	// accumulator.
	TopicErr func(topic string) error
	// LeaderErr, if set, says why the latest metadata gives tp no leader
	// (tp is not in it, or it names none), or is nil: a batch that times
	// out never sent, with no error of its own, of its partition or of its
	// topic, names it. It is called as TopicErr is.
	LeaderErr func(tp TopicPartition) error
	// Wake is called when a partition may be drained again after something
	// other than its leader's sender changed it: a retry was scheduled, or
	// requests to another broker were answered. It must not block.
	Wake func(tp TopicPartition)

	// What the producer's hooks are told, each optional (observe.go).
	//
	// Settled runs on the delivery goroutine when a batch's outcome is
	// known, before its records' Deliver calls.
	Settled func(b *Batch)
	// Restarted is called when a partition's sequences restart under id
	// (KIP-360), with the number of sent batches numbered again. It runs on
	// a sender's goroutine under the partition's lock: it must not block.
	Restarted func(tp TopicPartition, id ProducerID, renumbered int)
}

// Accumulator holds the batches of every partition.
type Accumulator struct {
	cfg Config

	// topics maps a topic's name to its *topicPartitions. A record finds
	// its topic on the slot of the topic's metadata (partitionVia), not
	// here; a lookup by name serves the first record of each metadata
	// topic and the drain. A sync.Map, a concurrent hash-trie, adds a
	// topic without copying the others, where a map copied on write cost
	// every new topic a copy of all the topics before it: n² for n topics
	// (50,000 new topics spent most of their CPU copying).
	topics sync.Map
	// topicsMu orders the adding of a topic's partitions, which are copied
	// on write so that their lookups take no lock, and of the brokers'
	// resolved lists (led.go); topics are added without it (LoadOrStore).
	topicsMu sync.Mutex
	owner    slot.Owner // of its handles in the topics' metadata slots
	// added counts the partitions added, so that a broker's list resolved
	// before (led) looks up those it missed.
	added atomic.Uint64
	led   ledBy

	// expiring holds every partition that may have a batch whose records
	// await their outcome, for Expire, which would otherwise walk every
	// partition ever produced to: an append that starts a batch adds its
	// partition, Expire drops those it finds with none. A partition is in
	// it whenever partition.expiring is set, which only changes under the
	// partition's lock; expiringMu is taken after it, never before.
	expiringMu sync.Mutex
	expiring   map[*partition]struct{}
	// expiringPeak is the most partitions expiring held since it was last
	// made anew (expiringNow).
	expiringPeak int

	flushing atomic.Int32 // Flush calls under way: everything is ready
	closing  atomic.Bool  // Close under way: everything is ready
	aborted  atomic.Bool  // Abort called: appends fail, retries fail
	// abortedBy is Abort's error, set before aborted: a retry it refuses
	// says who closed, in the caller's words (closedBy).
	abortedBy atomic.Pointer[closedBy]
	fatal     atomic.Pointer[error]

	// txnAbort is why the transaction under way is being aborted, from
	// AbortTransaction to EndTransaction: nothing more of it may be sent.
	txnAbort atomic.Pointer[error]
	// transactions counts the transactions ended (EndTransaction): a
	// partition admitted under another count must ask Config.Admit again.
	transactions atomic.Uint64

	ids identity

	// incomplete holds every batch created and not yet delivered, for Flush.
	incMu      sync.Mutex
	incomplete map[*Batch]struct{}
	changed    notify.Notifier // a batch got its outcome or was delivered
	serial     atomic.Uint64   // creation order of batches

	// earlier tells the expiry loop that a record appended with a Since
	// brought its batch's deadline forward, maybe before its next pass.
	earlier notify.Notifier

	deliveries deliveries
	stats      counters

	// visits counts the partitions whose lock Ready and Drain took, for
	// the tests that pin how few they visit.
	visits atomic.Uint64
}

type topicPartitions struct {
	partitions atomic.Pointer[[]*partition]
}

// New returns an empty accumulator and starts its delivery goroutine, which
// Close stops.
func New(cfg Config) *Accumulator {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1
	}
	if cfg.Wake == nil {
		cfg.Wake = func(TopicPartition) {}
	}
	a := &Accumulator{cfg: cfg, incomplete: make(map[*Batch]struct{}), expiring: make(map[*partition]struct{})}
	a.ids.init()
	a.deliveries.start(a)
	return a
}

// partition returns tp's state, creating it on first use.
func (a *Accumulator) partition(tp TopicPartition) *partition { return a.partitionVia(nil, tp) }

// partitionVia is partition with the slot of tp's topic's metadata
// (metadata.Topic.Slot), where the accumulator keeps its handle on the
// topic so that an append finds it without a lookup by name. A nil slot
// finds it by name. Topics are never dropped from the accumulator, so a
// handle never goes stale.
func (a *Accumulator) partitionVia(topic *slot.Slot, tp TopicPartition) *partition {
	// Held inlines, Of does not: Of runs only for the first record of a
	// topic's metadata.
	tps, ok := topic.Held(&a.owner).(*topicPartitions)
	if !ok {
		tps = slot.Of(topic, &a.owner, tp.Topic, a.topic)
	}
	if parts := *tps.partitions.Load(); tp.Partition >= 0 && int(tp.Partition) < len(parts) && parts[tp.Partition] != nil {
		return parts[tp.Partition]
	}
	return a.addPartition(tps, tp)
}

// topic returns the named topic's partitions, adding the topic on first
// use.
func (a *Accumulator) topic(name string) *topicPartitions {
	if tps := a.topicNamed(name); tps != nil {
		return tps
	}
	tps := &topicPartitions{}
	empty := []*partition{}
	tps.partitions.Store(&empty)
	v, _ := a.topics.LoadOrStore(name, tps)
	return v.(*topicPartitions)
}

// topicNamed returns the named topic's partitions, or nil if no record
// has been appended to it.
func (a *Accumulator) topicNamed(name string) *topicPartitions {
	if v, ok := a.topics.Load(name); ok {
		return v.(*topicPartitions)
	}
	return nil
}

// eachTopic calls f for every topic, in no order, until f returns false.
func (a *Accumulator) eachTopic(f func(name string, tps *topicPartitions) bool) {
	a.topics.Range(func(k, v any) bool { return f(k.(string), v.(*topicPartitions)) })
}

// addPartition adds tp's partition to its topic's, tps, unless another
// goroutine just did, and returns it.
func (a *Accumulator) addPartition(tps *topicPartitions, tp TopicPartition) *partition {
	a.topicsMu.Lock()
	defer a.topicsMu.Unlock()
	parts := *tps.partitions.Load()
	if int(tp.Partition) < len(parts) && parts[tp.Partition] != nil {
		return parts[tp.Partition]
	}
	grown := make([]*partition, max(len(parts), int(tp.Partition)+1))
	copy(grown, parts)
	p := newPartition(tp)
	grown[tp.Partition] = p
	tps.partitions.Store(&grown)
	a.added.Add(1)
	return p
}

// lookup returns tp's state or nil, without locking.
func (a *Accumulator) lookup(tp TopicPartition) *partition {
	tps := a.topicNamed(tp.Topic)
	if tps == nil || tp.Partition < 0 {
		return nil
	}
	parts := *tps.partitions.Load()
	if int(tp.Partition) >= len(parts) {
		return nil
	}
	return parts[tp.Partition]
}

// eachPartition calls f for every partition.
func (a *Accumulator) eachPartition(f func(*partition)) {
	a.eachTopic(func(_ string, tps *topicPartitions) bool {
		for _, p := range *tps.partitions.Load() {
			if p != nil {
				f(p)
			}
		}
		return true
	})
}

// InUse returns the partitions with batches whose outcome is not known
// yet (open, waiting to be sent, in flight, or sent back for a retry),
// which need a leader, and so their topic's metadata, until then; and, in
// used, their topics and the topics an append started a batch of at or
// after since, whose metadata the producer keeps for its next records
// (Config.MetadataMaxIdle). A batch whose records have their outcome
// needs no leader once its request, if one is in flight, is answered,
// though it stays for its sequence numbers (partition.go): the next batch
// of its partition, which may never come, restarts them. Partitions, not
// topics, are buffered: a partition a lagging broker's answer left out has
// batches and no leader, and the metadata loop asks again for it as the
// Java client does for the partitions of its ready batches without a known
// leader. It takes each partition's lock in turn and walks no batch list
// (each partition counts the batches it keeps): the metadata loop asks at
// every refresh.
func (a *Accumulator) InUse(since time.Time) (buffered []TopicPartition, used []string) {
	a.eachTopic(func(name string, tps *topicPartitions) bool {
		isUsed := false
		for _, p := range *tps.partitions.Load() {
			if p == nil {
				continue
			}
			p.mu.Lock()
			isBuffered := len(p.batches) > p.settled || p.inFlight > 0
			isUsed = isUsed || isBuffered || !p.started.Before(since)
			p.mu.Unlock()
			if isBuffered {
				buffered = append(buffered, p.tp)
			}
		}
		if isUsed {
			used = append(used, name)
		}
		return true
	})
	return buffered, used
}

// fatalErr is the error that stopped the producer for good, or nil.
func (a *Accumulator) fatalErr() error {
	if e := a.fatal.Load(); e != nil {
		return *e
	}
	return nil
}
