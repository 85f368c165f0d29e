package otelhooks

import (
	"context"
	"errors"

	"github.com/gokafka/producer"
)

// Hooks returns the hooks to put in producer.Config.Hooks, once, in one
// producer's Config: listed twice (Hooks appended twice, or the Telemetry
// beside them), they would start two spans per record and end one, and
// count every record twice, which producer.New refuses, as it refuses
// them given to a second producer (see AttachProducer).
func (t *Telemetry) Hooks() []producer.Hook {
	switch {
	case t.noSpans:
		return []producer.Hook{t}
	case t.noTraces:
		return []producer.Hook{t, counts{t}}
	}
	return []producer.Hook{t, records{t}}
}

// errTaken is why a Telemetry refuses a second producer.
var errTaken = errors.New("its otelhooks.Telemetry serves another producer already: make one Telemetry per producer")

// AttachProducer takes the Telemetry for p, the first producer offered
// it, and refuses any other, whether or not the first was closed or the
// Telemetry closed: each measurement names one producer's client id, and
// the buffer gauges read one producer's Stats, so a second producer's
// records would be counted under the first's name, or the first's under
// the second's. producer.New fails for the producer refused.
func (t *Telemetry) AttachProducer(*producer.Producer) error {
	if !t.taken.CompareAndSwap(false, true) {
		return errTaken
	}
	return nil
}

// OnNewProducer keeps the producer, whose Stats the buffer gauges read
// and whose client id every measurement names.
func (t *Telemetry) OnNewProducer(p *producer.Producer) {
	t.series.Store(newSeries(p, t.constAttrs))
	t.producer.Store(p)
}

// OnBatchWritten records the batch's time in the queue and its size on
// the wire.
func (t *Telemetry) OnBatchWritten(e producer.BatchWritten) {
	ctx, topic := context.Background(), t.series.Load().topic(e.Topic).batches
	t.queueTime.Record(ctx, e.QueueTime.Seconds(), topic)
	t.batchSize.Record(ctx, float64(e.CompressedBytes), topic)
}

// OnBatchRetried counts a retry's records, or a split (whose records the
// Java client does not count as retried).
func (t *Telemetry) OnBatchRetried(e producer.BatchRetried) {
	topic := t.series.Load().topic(e.Topic).batches
	if e.Split {
		t.splits.Add(context.Background(), 1, topic)
		return
	}
	t.retries.Add(context.Background(), int64(e.Records), topic)
}

// OnRequestAnswered records an answer's latency and its throttle time,
// 0 included, as the Java client's average has it; a request that failed,
// or was not to be answered (acks=0), has neither.
func (t *Telemetry) OnRequestAnswered(e producer.RequestAnswered) {
	if e.Err == nil && !e.Unanswered {
		ctx, broker := context.Background(), t.series.Load().node(e.Broker)
		t.latency.Record(ctx, e.Latency.Seconds(), broker)
		t.throttle.Record(ctx, e.Throttle.Seconds(), broker)
	}
}

// OnConnectionOpened counts the connection, unless the attempt failed.
func (t *Telemetry) OnConnectionOpened(e producer.ConnectionOpened) {
	if e.Err == nil {
		t.connOpened.Add(context.Background(), 1, t.series.Load().node(e.Broker))
	}
}

// OnConnectionClosed counts the connection's close.
func (t *Telemetry) OnConnectionClosed(e producer.ConnectionClosed) {
	t.connClosed.Add(context.Background(), 1, t.series.Load().node(e.Broker))
}
