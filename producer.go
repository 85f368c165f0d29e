// Package producer is a Kafka producer written from the wire protocol up.
//
// A record handed to Produce goes through four steps, each its own package:
// the partitioner picks its partition from the metadata cache; the
// accumulator encodes it into that partition's batch, in memory from the
// buffer pool; the sender of the partition's leader drains ready batches into
// ProduceRequests; the connection to that broker (package conn) writes them
// and reads the answers, which the sender reports to the accumulator: a batch
// answered for good is complete, and each record's callback runs with its
// offset or its error. DESIGN.md follows one record through all of it.
//
//	p, err := producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}})
//	...
//	md, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("hello")})
//	...
//	p.Produce(ctx, rec, func(md producer.RecordMetadata, err error) { ... })
//	...
//	err = p.Close(ctx)
package producer

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gokafka/producer/accumulator"
	"github.com/gokafka/producer/bufferpool"
	"github.com/gokafka/producer/internal/cluster"
	"github.com/gokafka/producer/internal/txn"
	"github.com/gokafka/producer/metadata"
	"github.com/gokafka/producer/partitioner"
	"github.com/gokafka/producer/record"
	"github.com/gokafka/producer/sender"
)

// Producer publishes records to Kafka. It is safe for concurrent use by any
// number of goroutines.
type Producer struct {
	cfg      Config
	pool     *bufferpool.Pool
	acc      *accumulator.Accumulator
	cluster  *cluster.Cluster         // brokers, metadata, coordinators
	observer partitioner.Observer     // cfg.Partitioner, when it wants to know what went where
	loads    partitioner.LoadReporter // cfg.Partitioner, when it steers by queue load
	forgets  partitioner.Forgetter    // cfg.Partitioner, when it drops a forgotten topic's state
	// loadReports holds, per topic name, when its load was last reported
	// (an *atomic.Int64 of Unix nanoseconds; load.go), until the metadata
	// forgets the topic (topicsForgotten).
	loadReports sync.Map

	senders  senders
	held     held
	txn      *txn.Manager // nil unless TransactionalID is set
	counters sender.Counters
	auth     authState // the last metadata refresh's refusal, if any
	hooks    hooks     // Config.Hooks by event (hooks_run.go)

	// plainRecordBytes is the most key and value bytes a record without
	// headers may have and still fit both MaxRequestSize and BufferMemory,
	// whatever its varints take (plain, and check's own shortcut).
	plainRecordBytes int

	// refreshFailed is why the last metadata refresh failed (no broker
	// answered), nil once one succeeds: a record or a PartitionsFor call
	// that waited for metadata in vain says so, where "no metadata" alone
	// would leave the user to guess between the topic and the brokers.
	refreshFailed atomic.Pointer[error]

	idCh      chan struct{} // asks for a producer id (producerid.go)
	closed    atomic.Bool
	closeDone chan struct{} // closed when the first Close returns, with closeErr
	closeErr  error
	ctx       context.Context // background work's; cancelled by Close
	cancel    context.CancelFunc
	bg        sync.WaitGroup // the metadata, expiry and producer id loops
	loopsMu   sync.Mutex     // orders New's start of the loops with Close's cancel (startLoops)
}

// Callback receives a record's outcome: where it landed, or why it did not.
// A callback that panics on the producer's delivery goroutine ends the
// process, as a panic on any goroutine the caller cannot recover from
// does: the producer does not swallow a bug in it (a callback of a record
// refused inside Produce runs on the caller's goroutine, and its panic is
// the caller's). The same holds for hooks. A record whose Partitioner
// panicked in Produce gets no callback: that panic, the caller's, is its
// outcome (see Produce).
type Callback = func(RecordMetadata, error)

// New validates cfg and returns a producer. It does no I/O: brokers are
// contacted in the background, and records wait (within MaxBlock) for the
// metadata they need.
func New(cfg Config) (*Producer, error) {
	given := cfg
	cfg = cfg.WithDefaults()
	if err := cfg.validate(&given); err != nil {
		return nil, err
	}
	p := &Producer{
		cfg: cfg,
		// validate bounds BufferMemory by math.MaxInt: the int holds it.
		pool:      bufferpool.New(int(cfg.BufferMemory), cfg.BatchSize, cfg.clock),
		idCh:      make(chan struct{}, 1),
		closeDone: make(chan struct{}),
	}
	_ = sortHooks(cfg.Hooks, &p.hooks) // validate checked them
	// Before anything starts a goroutine: a refused producer is only
	// dropped.
	if err := attachHooks(cfg.Hooks, p); err != nil {
		return nil, err
	}
	p.plainRecordBytes = int(min(int64(cfg.MaxRequestSize), cfg.BufferMemory)) - record.BatchHeaderSize - record.MaxRecordOverhead
	p.observer, _ = cfg.Partitioner.(partitioner.Observer)
	p.loads, _ = cfg.Partitioner.(partitioner.LoadReporter)
	p.forgets, _ = cfg.Partitioner.(partitioner.Forgetter)
	inFlight := cfg.MaxInFlight
	if !cfg.DisableIdempotence {
		inFlight = min(inFlight, MaxIdempotentInFlight)
	}
	p.acc = accumulator.New(accumulator.Config{
		BatchSize:       cfg.BatchSize,
		Linger:          cfg.lingerInEffect(),
		DeliveryTimeout: cfg.DeliveryTimeout,
		MaxBlock:        cfg.MaxBlock,
		Codec:           cfg.Compression,
		Level:           cfg.CompressionLevel,
		Idempotent:      !cfg.DisableIdempotence,
		Transactional:   cfg.TransactionalID != "",
		MaxInFlight:     inFlight,
		Pool:            p.pool,
		Clock:           cfg.clock,
		Deliver:         deliver,
		NeedProducerID:  p.needProducerID,
		TopicErr:        p.topicErr,
		LeaderErr:       p.leaderErr,
		Wake: func(tp metadata.TopicPartition) {
			p.wakeLeader(p.cluster.Snapshot(), tp)
		},
		Settled:   p.settledHook(),
		Restarted: p.restartedHook(),
	})
	p.cluster = cluster.New(cluster.Config{
		Seeds:                  cfg.Brokers,
		Conn:                   p.connConfig(),
		RetryBackoff:           cfg.RetryBackoff,
		RetryBackoffMax:        cfg.RetryBackoffMax,
		MetadataMaxAge:         cfg.MetadataMaxAge,
		AllowAutoTopicCreation: cfg.AllowAutoTopicCreation,
		Clock:                  cfg.clock,
		Logger:                 cfg.Logger,
		NodeJoined:             p.nodeJoined,
		NodeLeft:               p.nodeLeft,
		Updated:                p.metadataUpdated,
		Applied:                p.metadataApplied,
		Forgot:                 p.topicsForgotten,
		Refreshed:              p.noteRefresh,
		InUse:                  p.acc.InUse,
		MaxIdle:                cfg.MetadataMaxIdle,
	})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if cfg.TransactionalID != "" {
		p.txn = p.newTransactionManager()
	}
	p.pool.OnWait(p.wakeAll) // a record waiting for memory makes every batch ready
	p.held.init(p)
	// Before the loops start: no other event can come before this one.
	for _, h := range p.hooks.newProducer {
		h.OnNewProducer(p)
	}
	p.startLoops()
	return p, nil
}

// startLoops starts the metadata, expiry and producer id loops, unless
// Close has stopped them already: an OnNewProducer hook may close the
// producer, or hand it to a goroutine that does, before New gets here, and
// that Close's wait for the loops (bg) counts only those started before
// its cancel. Deciding under loopsMu, which Close's cancel takes too, puts
// the start wholly before the cancel or after it, so that once Close has
// returned no loop runs, nor starts.
func (p *Producer) startLoops() {
	p.loopsMu.Lock()
	defer p.loopsMu.Unlock()
	if p.ctx.Err() != nil {
		return // closed: the loops would only see ctx ended, and return
	}
	p.bg.Add(3)
	go func() {
		defer p.bg.Done()
		p.cluster.Run(p.ctx)
	}()
	go p.expiryLoop()
	go p.producerIDLoop()
}

// ClientID is the producer's Config.ClientID, or its default: the name the
// brokers know it by, by which a metrics hook tells its measurements from
// other producers'. Two producers may share it (the default is the same
// for all).
func (p *Producer) ClientID() string { return p.cfg.ClientID }
