package promhooks

import (
	"context"
	"errors"
	"strconv"

	"github.com/gokafka/producer"
)

// Hooks returns the hooks to put in producer.Config.Hooks. Metrics itself
// hears the events it counts, the records' aside; the record hook, which
// costs a small allocation per record, is there unless
// Options.NoRecordMetrics. List them once, in one producer's Config:
// producer.New refuses them listed twice (or beside the Metrics itself),
// which would count every event twice, and given to a second producer
// (see AttachProducer).
func (m *Metrics) Hooks() []producer.Hook {
	if m.noRecords {
		return []producer.Hook{m}
	}
	return []producer.Hook{m, recordHook{m}}
}

// recordHook counts records' failures: those acknowledged with an error,
// and those Produce refused at once, which no acknowledgement tells of.
type recordHook struct{ m *Metrics }

func (h recordHook) OnRecordAcknowledged(_ context.Context, a producer.RecordAcknowledged) {
	if a.Err != nil {
		h.m.recordError.WithLabelValues(a.Metadata.Topic).Inc()
	}
}

// OnRecordRefused counts the record under its topic, "" for a nil record.
// A topic no broker would take as a name, refused as invalid, is counted
// under invalidTopic: the callers' bad names would each be a series of
// their own, without bound (and one not UTF-8, which Prometheus refuses in
// a label value, would panic in Produce).
func (h recordHook) OnRecordRefused(_ context.Context, r producer.Record, err error) {
	topic := r.Topic
	if !errors.Is(err, producer.ErrNilRecord) && producer.ValidateTopicName(topic) != nil {
		topic = invalidTopic
	}
	h.m.recordError.WithLabelValues(topic).Inc()
}

// invalidTopic is the topic label of records refused for their topic's
// name; no topic is named so, '<' being no character of a topic's name.
const invalidTopic = "<invalid>"

// errTaken is why a Metrics refuses a second producer.
var errTaken = errors.New("its promhooks.Metrics serves another producer already: make one Metrics per producer (promhooks.New, with ConstLabels such as client_id to tell them apart on one registry)")

// AttachProducer takes the Metrics for p, the first producer offered it,
// and refuses any other, whether or not the first was closed or the
// Metrics unregistered: its gauges read one producer's Stats, and its
// counters would add up two producers' events with nothing to tell them
// apart. producer.New fails for the producer refused.
func (m *Metrics) AttachProducer(*producer.Producer) error {
	if !m.taken.CompareAndSwap(false, true) {
		return errTaken
	}
	return nil
}

// OnNewProducer keeps the producer, whose Stats the gauges read.
func (m *Metrics) OnNewProducer(p *producer.Producer) { m.producer.Store(p) }

// OnBatchWritten counts the batch's records as sent and observes its time
// in the queue, its size on the wire and its compression rate.
func (m *Metrics) OnBatchWritten(e producer.BatchWritten) {
	m.recordSend.WithLabelValues(e.Topic).Add(float64(e.Records))
	m.queueTime.Observe(e.QueueTime.Seconds())
	m.batchSize.Observe(float64(e.CompressedBytes))
	if e.Bytes > 0 {
		m.compression.Observe(float64(e.CompressedBytes) / float64(e.Bytes))
	}
}

// OnBatchRetried counts a retry's records, or a split (whose records the
// Java client does not count as retried).
func (m *Metrics) OnBatchRetried(e producer.BatchRetried) {
	if e.Split {
		m.batchSplit.WithLabelValues(e.Topic).Inc()
		return
	}
	m.recordRetry.WithLabelValues(e.Topic).Add(float64(e.Records))
}

// OnRequestWritten counts the request and observes its records and bytes.
func (m *Metrics) OnRequestWritten(e producer.RequestWritten) {
	m.requests.WithLabelValues(node(e.Broker)).Inc()
	m.recordsPerRequest.Observe(float64(e.Records))
	m.requestSize.Observe(float64(e.Bytes))
}

// OnRequestAnswered counts the answer and observes its latency and
// throttle time, or counts the request's failure; acks=0 has no answer.
func (m *Metrics) OnRequestAnswered(e producer.RequestAnswered) {
	id := node(e.Broker)
	if e.Err != nil {
		m.requestErrors.WithLabelValues(id).Inc()
		return
	}
	if e.Unanswered {
		// acks=0: the write was the request's end; there is no answer
		// to count and no latency to observe.
		return
	}
	m.responses.WithLabelValues(id).Inc()
	m.latency.WithLabelValues(id).Observe(e.Latency.Seconds())
	// Every answer's, 0 included, as the Java client's average has it.
	m.throttle.WithLabelValues(id).Observe(e.Throttle.Seconds())
}

// OnConnectionOpened counts the connection as created and open, or counts
// the failed attempt.
func (m *Metrics) OnConnectionOpened(e producer.ConnectionOpened) {
	if e.Err != nil {
		m.connFailed.WithLabelValues(node(e.Broker)).Inc()
		return
	}
	m.connCreated.WithLabelValues(node(e.Broker)).Inc()
	m.connOpen.Inc()
}

// OnConnectionClosed counts the connection as closed, no longer open.
func (m *Metrics) OnConnectionClosed(e producer.ConnectionClosed) {
	m.connClosed.WithLabelValues(node(e.Broker)).Inc()
	m.connOpen.Dec()
}

// OnProducerID sets producer_epoch to the producer's new epoch.
func (m *Metrics) OnProducerID(e producer.ProducerID) { m.epoch.Set(float64(e.Epoch)) }

// OnSequenceRestart counts the restart under the partition's topic.
func (m *Metrics) OnSequenceRestart(e producer.SequenceRestart) {
	m.restarts.WithLabelValues(e.Topic).Inc()
}

// node is a broker id as a label value; seed brokers, before metadata
// names them, have negative ids.
func node(id int32) string { return strconv.Itoa(int(id)) }
