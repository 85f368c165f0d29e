// Package promhooks exports a producer's metrics to Prometheus: a hook
// (producer.Hook) that counts what the producer does, and gauges that read
// its Stats at scrape time.
//
//	metrics, err := promhooks.New(prometheus.DefaultRegisterer, promhooks.Options{})
//	p, err := producer.New(producer.Config{Brokers: brokers, Hooks: metrics.Hooks()})
//
// Metric names are the Java client's where it has one, in Prometheus's
// form: the namespace (default "kafka_producer"), then the Java name with
// '-' as '_'. Java's -total metrics are counters (its -rate is Prometheus's
// rate() of them); its -avg/-max pairs are histograms, in seconds for
// times (Java's are in ms), whose _sum/_count give the average. Per-topic
// metrics have a "topic" label, per-broker ones a "node_id" label, as the
// Java client's producer-topic-metrics and producer-node-metrics:
//
//	record_send_total{topic}            records the brokers wrote, once each (record-send-total, see below)
//	record_error_total{topic}           records that failed, in Produce too (record-error-total)
//	record_retry_total{topic}           records sent again (record-retry-total)
//	batch_split_total{topic}            batches split in two, refused as too large (batch-split-total)
//	record_queue_time_seconds           a batch's first record to its first send (record-queue-time-avg/max)
//	batch_size_bytes                    a written batch on the wire (batch-size-avg/max)
//	compression_rate                    compressed / uncompressed size of a batch (compression-rate-avg)
//	records_per_request                 records in a ProduceRequest (records-per-request-avg)
//	request_size_bytes                  record bytes in a ProduceRequest (request-size-avg/max)
//	request_total{node_id}              ProduceRequests written (request-total)
//	response_total{node_id}             answers received, none with acks=0 (response-total)
//	request_error_total{node_id}        requests that failed as a whole (no Java name)
//	request_latency_seconds{node_id}    from a request's handing to its connection to its answer (request-latency-avg/max, see below)
//	produce_throttle_time_seconds{node_id}  each answer's throttle time, 0 if none (produce-throttle-time-avg/max)
//	connection_creation_total{node_id}  connections opened (connection-creation-total)
//	connection_close_total{node_id}     connections closed (connection-close-total)
//	connection_failure_total{node_id}   failed connection attempts (no Java name)
//	connection_count                    connections open (connection-count)
//	sequence_restart_total{topic}       idempotent sequences restarted, KIP-360 (no Java name)
//	producer_epoch                      the idempotent or transactional producer's epoch (no Java name)
//	buffer_total_bytes                  BufferMemory (buffer-total-bytes)
//	buffer_available_bytes              free buffer memory (buffer-available-bytes)
//	waiting_threads                     waits for buffer memory (waiting-threads)
//	batches_buffered                    batches whose callbacks have not all run (no Java name)
//
// connection_count keeps the Java client's name (connection-count) on
// purpose, as the other metrics keep theirs, for the dashboards built on
// them, though Prometheus's linter (promlint) warns of a "_count" suffix
// on a metric that is neither a histogram nor a summary.
//
// record_send_total is not quite Java's record-send-total, which counts a
// batch's records at each send, a retry's included, written or not:
// record_send_total counts each record once, when a broker wrote it (with
// acks=0, when its batch was written to the socket). Java's count is
// near record_send_total + record_retry_total, which leaves out the last
// send of a record that then failed for good.
//
// request_latency_seconds runs as producer.RequestAnswered.Latency does,
// from a ProduceRequest's handing to its connection to its answer: a wait
// for one of the connection's MaxInFlight slots and the request's write
// are in it, then the broker's time to answer.
//
// record_error_total counts every record whose callback got an error, one
// Produce refused at once included (too large, invalid, the producer
// closed), as the Java client counts the errors of send(); such a record's
// topic label is its topic as given, "" for a nil record, and "<invalid>"
// for a topic no broker would take as a name (producer.ValidateTopicName),
// so that the callers' bad names make one series rather than one each.
//
// The record counters that need each record's outcome (record_error_total)
// make the producer track records, which costs a small allocation per
// record; Options.NoRecordMetrics leaves them out.
//
// A Metrics serves one producer, for good: make one per producer, with
// ConstLabels (a client_id, say) to tell them apart on one registry.
// producer.New refuses a producer whose Hooks come from a Metrics another
// producer has (even one closed since, or unregistered), and Hooks listed
// twice in one Config (or beside the Metrics itself), which would count
// every event twice.
package promhooks

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gokafka/producer"
)

// Options configures New. The zero value is the Java client's names under
// the namespace "kafka_producer".
type Options struct {
	// Namespace prefixes every metric. Default "kafka_producer".
	Namespace string
	// ConstLabels are added to every metric: a client_id, say, to tell
	// several producers in one process apart.
	ConstLabels prometheus.Labels
	// NoRecordMetrics leaves out the metrics that need every record's
	// outcome (record_error_total), so that the producer does not track
	// records: what it costs per record is then nothing.
	NoRecordMetrics bool
}

// Metrics counts what one producer does: put its Hooks in that producer's
// Config.Hooks, and in no other producer's (New refuses a second one).
type Metrics struct {
	noRecords bool

	// reg and collectors are what New registered, for Unregister.
	reg        prometheus.Registerer
	collectors []prometheus.Collector

	// taken: a producer was offered the Metrics and got it
	// (AttachProducer); producer is that producer, from OnNewProducer.
	taken    atomic.Bool
	producer atomic.Pointer[producer.Producer]

	recordSend, recordError, recordRetry *prometheus.CounterVec
	batchSplit                           *prometheus.CounterVec
	queueTime, batchSize, compression    prometheus.Histogram
	recordsPerRequest, requestSize       prometheus.Histogram
	requests, responses, requestErrors   *prometheus.CounterVec
	latency, throttle                    *prometheus.HistogramVec
	connCreated, connClosed, connFailed  *prometheus.CounterVec
	connOpen                             prometheus.Gauge
	restarts                             *prometheus.CounterVec
	epoch                                prometheus.Gauge
}

// Buckets for times (seconds), from 0.5ms to 16s, and sizes (bytes), from
// 256 B to 2 MiB.
var (
	timeBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)
	sizeBuckets = prometheus.ExponentialBuckets(256, 2, 14)
)

// New makes the metrics and registers them with reg. It fails if reg
// already has metrics of these names (another Metrics without distinct
// ConstLabels, say), with an error that says so and matches client_golang's
// prometheus.AlreadyRegisteredError (errors.As).
func New(reg prometheus.Registerer, opts Options) (*Metrics, error) {
	ns := opts.Namespace
	if ns == "" {
		ns = "kafka_producer"
	}
	f := factory{ns: ns, labels: opts.ConstLabels}
	m := &Metrics{
		recordSend:        f.counter("record_send_total", "Records the brokers wrote (acknowledged), once each: not each send, as the Java client counts them.", "topic"),
		recordRetry:       f.counter("record_retry_total", "Records sent again after a failed attempt.", "topic"),
		batchSplit:        f.counter("batch_split_total", "Batches split in two after a broker refused them as too large.", "topic"),
		queueTime:         f.histogram("record_queue_time_seconds", "Time from a batch's first record to its first send.", timeBuckets),
		batchSize:         f.histogram("batch_size_bytes", "Size of a written batch on the wire, after compression.", sizeBuckets),
		compression:       f.histogram("compression_rate", "Compressed size over uncompressed size of a written batch.", prometheus.LinearBuckets(0.1, 0.1, 10)),
		recordsPerRequest: f.histogram("records_per_request", "Records in a ProduceRequest.", prometheus.ExponentialBuckets(1, 2, 16)),
		requestSize:       f.histogram("request_size_bytes", "Record batch bytes in a ProduceRequest.", sizeBuckets),
		requests:          f.counter("request_total", "ProduceRequests written.", "node_id"),
		responses:         f.counter("response_total", "Answers to ProduceRequests.", "node_id"),
		requestErrors:     f.counter("request_error_total", "ProduceRequests that failed as a whole: a broken connection, a timeout.", "node_id"),
		latency:           f.histogramVec("request_latency_seconds", "Time from a ProduceRequest's handing to its connection to its answer: any wait for an in-flight slot, the write, the broker's time.", timeBuckets, "node_id"),
		throttle:          f.histogramVec("produce_throttle_time_seconds", "Throttle times brokers reported.", timeBuckets, "node_id"),
		connCreated:       f.counter("connection_creation_total", "Connections opened.", "node_id"),
		connClosed:        f.counter("connection_close_total", "Connections closed or broken.", "node_id"),
		connFailed:        f.counter("connection_failure_total", "Connection attempts that failed.", "node_id"),
		connOpen:          f.gauge("connection_count", "Connections open."), // Java's name, kept: see the package doc
		restarts:          f.counter("sequence_restart_total", "Idempotent sequence restarts under a new epoch (KIP-360).", "topic"),
		epoch:             f.gauge("producer_epoch", "The idempotent or transactional producer's epoch; -1 before it has an id."),
	}
	m.epoch.Set(-1)
	m.noRecords = opts.NoRecordMetrics
	if !opts.NoRecordMetrics {
		m.recordError = f.counter("record_error_total", "Records that failed.", "topic")
	}
	stats := func(read func(producer.Stats) float64) func() float64 {
		return func() float64 {
			if p := m.producer.Load(); p != nil {
				return read(p.Stats())
			}
			return 0
		}
	}
	f.gaugeFunc("buffer_total_bytes", "Buffer memory in all (BufferMemory).", stats(func(s producer.Stats) float64 { return float64(s.BufferTotalBytes) }))
	f.gaugeFunc("buffer_available_bytes", "Buffer memory free.", stats(func(s producer.Stats) float64 { return float64(s.BufferAvailableBytes) }))
	f.gaugeFunc("waiting_threads", "Waits for buffer memory: Produce calls, and appends of records that waited for metadata.", stats(func(s producer.Stats) float64 { return float64(s.BufferWaiters) }))
	f.gaugeFunc("batches_buffered", "Batches whose callbacks have not all run yet.", stats(func(s producer.Stats) float64 { return float64(s.BufferedBatches) }))
	if err := f.register(reg); err != nil {
		return nil, err
	}
	m.reg, m.collectors = reg, f.all
	return m, nil
}

// Unregister takes the metrics out of the registerer New put them in, so
// that a process which replaces a producer (a new one per configuration,
// say) can make new Metrics of the same names, and the gauges no longer
// keep the old producer reachable. Call it after the producer's Close:
// what the producer does afterwards is still counted, but no one scrapes
// it. It reports whether every metric was still registered. The Metrics
// is done with: a new producer needs a new one.
func (m *Metrics) Unregister() bool {
	all := true
	for _, c := range m.collectors {
		all = m.reg.Unregister(c) && all
	}
	m.producer.Store(nil)
	return all
}

// factory makes collectors with one namespace and set of labels, and
// remembers them for register.
type factory struct {
	ns     string
	labels prometheus.Labels
	all    []prometheus.Collector
}

func (f *factory) add(c prometheus.Collector) { f.all = append(f.all, c) }

func (f *factory) counter(name, help string, label string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: f.ns, Name: name, Help: help, ConstLabels: f.labels}, []string{label})
	f.add(c)
	return c
}

func (f *factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: f.ns, Name: name, Help: help, ConstLabels: f.labels})
	f.add(g)
	return g
}

func (f *factory) gaugeFunc(name, help string, read func() float64) {
	f.add(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: f.ns, Name: name, Help: help, ConstLabels: f.labels}, read))
}

func (f *factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: f.ns, Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets})
	f.add(h)
	return h
}

func (f *factory) histogramVec(name, help string, buckets []float64, label string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: f.ns, Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets}, []string{label})
	f.add(h)
	return h
}

// register registers every collector, or none. A name reg has already is
// most often a second producer's Metrics made like the first: client_golang
// says only "duplicate metrics collector registration attempted", and the
// error says what tells them apart.
func (f *factory) register(reg prometheus.Registerer) error {
	for i, c := range f.all {
		if err := reg.Register(c); err != nil {
			for _, done := range f.all[:i] {
				reg.Unregister(done)
			}
			if errors.As(err, new(prometheus.AlreadyRegisteredError)) {
				return fmt.Errorf("promhooks: %w (the registry has these metrics already, another producer's Metrics, say): give each producer's Metrics Options.ConstLabels of its own, such as client_id, or Unregister the old one first", err)
			}
			return err
		}
	}
	return nil
}
