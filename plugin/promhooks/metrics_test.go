package promhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/internal/fakebroker"
	"github.com/gokafka/producer/plugin/promhooks"
	"github.com/gokafka/producer/protocol"
)

// wait bounds every wait: generous for a loaded machine under -race.
const wait = 30 * time.Second

func startCluster(t *testing.T) *embedded.Cluster {
	t.Helper()
	c, err := embedded.Start(embedded.Options{Topics: map[string]int32{"events": 3}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// value sums the samples of the metric family name whose labels include
// want, and fails the test when there is none: a metric never registered,
// or under other labels, would otherwise read as 0.
func value(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	v, found := lookup(t, reg, name, want)
	require.True(t, found, "no sample of %s with labels %v", name, want)
	return v
}

// lookup sums the samples of the metric family name whose labels include
// want; found is false when there is no such sample.
func lookup(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (v float64, found bool) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, w := range want {
				if labels[k] != w {
					continue samples
				}
			}
			found = true
			v += sampleValue(m)
		}
	}
	return v, found
}

// sampleValue is a counter's or gauge's value, or a histogram's count.
func sampleValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// The metrics after a real produce (one refused request, retried) are
// what happened: every record sent once written, the retry, requests,
// answers and their latencies, connections opened and closed, the buffer
// gauges read from the producer; and a scrape shows them.
func TestMetricsAfterAProduce(t *testing.T) {
	c := startCluster(t)
	c.FailNextProduce(1, 19) // NOT_ENOUGH_REPLICAS: retriable
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{ConstLabels: prometheus.Labels{"client_id": "test"}})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), RetryBackoff: 10 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	const n = 200
	for i := range n {
		p.Produce(ctx, &producer.Record{Topic: "events", Key: []byte{byte(i)}, Value: []byte("value")}, func(_ producer.RecordMetadata, err error) {
			assert.NoError(t, err) // not require: a callback runs on the producer's goroutine
		})
	}
	require.NoError(t, p.Flush(ctx))
	total := value(t, reg, "kafka_producer_buffer_total_bytes", nil)
	require.Equal(t, float64(producer.DefaultBufferMemory), total)
	free := value(t, reg, "kafka_producer_buffer_available_bytes", nil)
	require.Equal(t, total, free, "every batch's memory is back after Flush")
	open := value(t, reg, "kafka_producer_connection_count", nil)
	require.Positive(t, open)
	require.NoError(t, p.Close(ctx))

	sent := value(t, reg, "kafka_producer_record_send_total", map[string]string{"topic": "events", "client_id": "test"})
	require.Equal(t, float64(n), sent, "each record counted once, when written")
	retried := value(t, reg, "kafka_producer_record_retry_total", map[string]string{"topic": "events"})
	require.Positive(t, retried, "the refused request's records were retried")
	_, failed := lookup(t, reg, "kafka_producer_record_error_total", nil)
	require.False(t, failed, "no record failed")

	requests := value(t, reg, "kafka_producer_request_total", nil)
	responses := value(t, reg, "kafka_producer_response_total", nil)
	latencies := value(t, reg, "kafka_producer_request_latency_seconds", nil)
	require.Positive(t, requests)
	require.Equal(t, requests, responses, "every request answered")
	require.Equal(t, responses, latencies, "one latency per answer")
	perRequest := value(t, reg, "kafka_producer_records_per_request", nil)
	require.Equal(t, requests, perRequest)
	batches := value(t, reg, "kafka_producer_batch_size_bytes", nil)
	queued := value(t, reg, "kafka_producer_record_queue_time_seconds", nil)
	require.Positive(t, batches)
	require.Equal(t, batches, queued, "one queue time per written batch")

	// The seed broker's connection (node -1) and the broker's (node 0),
	// each closed under the node it was opened to.
	for _, node := range []string{"-1", "0"} {
		created := value(t, reg, "kafka_producer_connection_creation_total", map[string]string{"node_id": node})
		closed := value(t, reg, "kafka_producer_connection_close_total", map[string]string{"node_id": node})
		require.Positive(t, created, "node %s", node)
		require.Equal(t, created, closed, "Close closed every connection, node %s", node)
	}
	open = value(t, reg, "kafka_producer_connection_count", nil)
	require.Zero(t, open)
	epoch := value(t, reg, "kafka_producer_producer_epoch", nil)
	require.Zero(t, epoch, "idempotent, first epoch")

	body := scrape(t, reg)
	require.Contains(t, body, `kafka_producer_record_send_total{client_id="test",topic="events"} 200`)
	require.Contains(t, body, "# TYPE kafka_producer_request_latency_seconds histogram")
}

// Each gauge read from the producer's Stats reads its own figure: while a
// batch is open, holding memory, and no Produce waits for memory,
// buffer_available_bytes is below buffer_total_bytes, batches_buffered is
// 1 and waiting_threads 0. The other tests read them at rest, where the
// memory available is the total and both counts are 0, or with both
// counts 1: a gauge reading another's figure would pass them, and show a
// producer short of memory as having all of it free.
func TestEachGaugeReadsItsOwnFigureOfTheStats(t *testing.T) {
	c := startCluster(t)
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	// Linger keeps the batch open, its memory taken, until Close sends it.
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), Linger: time.Hour})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	defer p.Close(ctx)
	// With the topic's metadata in, Produce appends the record at once,
	// rather than holding it for metadata on another goroutine.
	_, err = p.PartitionsFor(ctx, "events")
	require.NoError(t, err)
	p.Produce(ctx, &producer.Record{Topic: "events", Value: []byte("x")}, nil)
	stats := p.Stats()
	require.Less(t, stats.BufferAvailableBytes, stats.BufferTotalBytes, "the open batch's memory")
	require.Equal(t, 1, stats.BufferedBatches)
	require.Zero(t, stats.BufferWaiters)

	for name, want := range map[string]float64{
		"kafka_producer_buffer_total_bytes":     float64(stats.BufferTotalBytes),
		"kafka_producer_buffer_available_bytes": float64(stats.BufferAvailableBytes),
		"kafka_producer_batches_buffered":       1,
		"kafka_producer_waiting_threads":        0,
	} {
		got, found := lookup(t, reg, name, nil)
		require.True(t, found, name)
		require.Equal(t, want, got, name)
	}
}

// With acks=0 no broker answers: the requests are counted, but no answer
// and no latency, as the Java client counts them. Each request counted an
// answer and observed a latency of 0.
func TestAcksNoneCountsNoAnswers(t *testing.T) {
	c := startCluster(t)
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), Acks: producer.AcksNone, DisableIdempotence: true})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range 20 {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("value")})
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(ctx)) // the hooks have heard all by then

	requests := value(t, reg, "kafka_producer_request_total", nil)
	require.Positive(t, requests)
	_, answered := lookup(t, reg, "kafka_producer_response_total", nil)
	require.False(t, answered, "no answer came")
	_, timed := lookup(t, reg, "kafka_producer_request_latency_seconds", nil)
	require.False(t, timed, "no latency to observe")
	_, failed := lookup(t, reg, "kafka_producer_request_error_total", nil)
	require.False(t, failed)
}

// A transactional producer's epoch shows in producer_epoch, as an
// idempotent producer's does: it stayed -1, the coordinator's ids never
// reaching HookProducerID.
func TestProducerEpochOfATransactionalProducer(t *testing.T) {
	c := startCluster(t)
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), TransactionalID: "tx"})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	require.NoError(t, p.InitTransactions(ctx))
	require.NoError(t, p.BeginTransaction())
	_, err = p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("value")})
	require.NoError(t, err)
	require.NoError(t, p.CommitTransaction(ctx))
	require.NoError(t, p.Close(ctx)) // the hooks have heard all by then

	epoch := value(t, reg, "kafka_producer_producer_epoch", nil)
	require.GreaterOrEqual(t, epoch, 0.0, "the epoch from InitTransactions, or a later one a commit bumped")
}

// A record that fails is counted by topic; with NoRecordMetrics there is no
// such counter, and the producer does not track records.
func TestRecordErrors(t *testing.T) {
	c := startCluster(t)
	for _, noRecords := range []bool{false, true} {
		reg := prometheus.NewRegistry()
		m, err := promhooks.New(reg, promhooks.Options{NoRecordMetrics: noRecords})
		require.NoError(t, err)
		require.Len(t, m.Hooks(), map[bool]int{false: 2, true: 1}[noRecords])
		p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), MaxBlock: 200 * time.Millisecond})
		require.NoError(t, err)
		_, err = p.Send(context.Background(), &producer.Record{Topic: "no-such-topic", Value: []byte("v")})
		require.ErrorIs(t, err, producer.ErrUnknownTopic)
		require.NoError(t, p.Close(context.Background()))
		errs, found := lookup(t, reg, "kafka_producer_record_error_total", map[string]string{"topic": "no-such-topic"})
		require.Equal(t, !noRecords, found)
		if found {
			require.Equal(t, 1.0, errs)
		}
	}
}

// A record Produce refuses at once (too large, an invalid topic, a nil
// record) is counted as failed by topic, as the Java client counts the
// errors of send(): a nil record's under "", and every topic no broker
// would take as a name under "<invalid>", one series however many bad
// names the callers make up (one Prometheus could not take as a label
// value, not UTF-8, included, rather than a panic in Produce).
func TestRecordErrorsCountRecordsRefusedInProduce(t *testing.T) {
	c := startCluster(t)
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks(), MaxRequestSize: 1 << 10})
	require.NoError(t, err)
	defer p.Close(context.Background())
	refused := 0
	produce := func(r *producer.Record) {
		p.Produce(context.Background(), r, func(_ producer.RecordMetadata, err error) {
			if err != nil {
				refused++
			}
		})
	}
	produce(&producer.Record{Topic: "events", Value: make([]byte, 4<<10)})
	produce(&producer.Record{Topic: "events", Timestamp: time.Unix(-1, 0)})
	produce(&producer.Record{Topic: ""})
	produce(nil)
	produce(&producer.Record{Topic: "bad\xfftopic"})
	produce(&producer.Record{Topic: "orders/2024-06-01"})
	require.Equal(t, 6, refused, "every callback ran in Produce, with an error")
	for topic, want := range map[string]float64{"events": 2, "": 1, "<invalid>": 3} {
		got, found := lookup(t, reg, "kafka_producer_record_error_total", map[string]string{"topic": topic})
		require.True(t, found, "topic %q", topic)
		require.Equal(t, want, got, "topic %q", topic)
	}
}

// Two Metrics on one registry need distinct labels: the error says so,
// rather than client_golang's bare "duplicate metrics collector
// registration attempted", and is still its AlreadyRegisteredError.
func TestNewRefusesADuplicate(t *testing.T) {
	reg := prometheus.NewRegistry()
	first := promhooks.Options{ConstLabels: prometheus.Labels{"client_id": "first"}}
	_, err := promhooks.New(reg, first)
	require.NoError(t, err)
	_, err = promhooks.New(reg, first)
	var already prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &already)
	require.ErrorContains(t, err, "ConstLabels")
	require.ErrorContains(t, err, "client_id")
	_, err = promhooks.New(reg, promhooks.Options{ConstLabels: prometheus.Labels{"client_id": "second"}})
	require.NoError(t, err, "other values of the labels do not clash")
}

// A New that fails on a name the registry has already leaves the registry
// as it found it: the metrics it registered before the clash are taken out
// again. Left in, no one could take them out (New returned no Metrics to
// Unregister), and every later New of these names would fail on them,
// even once the clash was gone.
func TestAFailedNewLeavesTheRegistryAsItWas(t *testing.T) {
	reg := prometheus.NewRegistry()
	// One of the last metrics New registers, there already: another
	// client's exporter in the process may use the same namespace.
	clash := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "kafka_producer", Name: "connection_count", Help: "Connections open."})
	require.NoError(t, reg.Register(clash))
	_, err := promhooks.New(reg, promhooks.Options{})
	require.Error(t, err)
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.Equal(t, []string{"kafka_producer_connection_count"}, names, "the clash alone")

	require.True(t, reg.Unregister(clash))
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err, "nothing of the failed New in the way")
	m.Unregister()
}

// One Metrics listed twice, its Hooks appended twice, would count every
// event twice: producer.New refuses it.
func TestAProducerRefusesMetricsListedTwice(t *testing.T) {
	m, err := promhooks.New(prometheus.NewRegistry(), promhooks.Options{})
	require.NoError(t, err)
	_, err = producer.New(producer.Config{Brokers: []string{"127.0.0.1:9092"}, Hooks: append(m.Hooks(), m.Hooks()...)})
	var ce *producer.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Reason, "Hooks[0] and Hooks[2]")
}

// After Unregister the registry has none of the metrics, and new Metrics
// of the same names can take their place.
func TestUnregisterMakesRoomForNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	require.True(t, m.Unregister())
	families, err := reg.Gather()
	require.NoError(t, err)
	assert.Empty(t, families)
	assert.False(t, m.Unregister(), "a second Unregister finds nothing to take out")

	again, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err, "the names are free again")
	epoch, found := lookup(t, reg, "kafka_producer_producer_epoch", nil)
	assert.True(t, found)
	assert.Equal(t, -1.0, epoch)
	again.Unregister()
}

// Unregister takes out every metric still registered even when one was
// taken out already, and reports false: client_golang takes out a metric
// for any collector of the same name and labels, so another piece of code
// may have done it. Stopping at the one missing would leave the rest in
// the registry, where no one could take them out and a new Metrics of
// these names would fail on them. The metric taken out is the first New
// registers, so that every other one comes after it.
func TestUnregisterTakesOutTheRestWhenOneIsGone(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	taken := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "kafka_producer", Name: "record_send_total", Help: "Another's."}, []string{"topic"})
	require.True(t, reg.Unregister(taken), "record_send_total, taken out")

	require.False(t, m.Unregister(), "one was gone already")
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Empty(t, families, "the rest taken out all the same")
	again, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err, "the names are free again")
	again.Unregister()
}

// scrape is what Prometheus reads from the registry over HTTP.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// A batch split after MESSAGE_TOO_LARGE counts in batch_split_total (the
// Java client's batch-split-total), not as records retried, which the Java
// client does not count it as either.
func TestASplitBatchCountsAsASplitNotARetry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	m.OnBatchRetried(producer.BatchRetried{Topic: "events", Records: 4, Attempt: 1, Split: true})
	m.OnBatchRetried(producer.BatchRetried{Topic: "events", Records: 2, Attempt: 2})
	splits := value(t, reg, "kafka_producer_batch_split_total", map[string]string{"topic": "events"})
	require.Equal(t, 1.0, splits)
	retried := value(t, reg, "kafka_producer_record_retry_total", map[string]string{"topic": "events"})
	require.Equal(t, 2.0, retried, "the retried batch's records only")
}

// The throttle histogram observes every answer's throttle time, 0
// included, as the Java client's produce-throttle-time-avg averages over
// every answer: of two answers, one throttled 100 ms, the average is 50
// ms. Before, only throttled answers were observed, and _sum/_count gave
// the average throttle of the throttled ones (100 ms).
func TestThrottleTimeAveragesOverEveryAnswer(t *testing.T) {
	c, err := fakebroker.Start(fakebroker.Options{Topics: map[string]int32{"events": 1}})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	var n atomic.Int64
	c.OnProduce(func(int32, *protocol.ProduceRequest) fakebroker.Action {
		if n.Add(1) == 1 {
			return fakebroker.Action{Throttle: 100 * time.Millisecond}
		}
		return fakebroker.Action{}
	})
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	p, err := producer.New(producer.Config{Brokers: c.Addrs(), Hooks: m.Hooks()})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for range 2 {
		_, err := p.Send(ctx, &producer.Record{Topic: "events", Value: []byte("v")})
		require.NoError(t, err)
	}
	require.NoError(t, p.Close(ctx))
	responses := value(t, reg, "kafka_producer_response_total", nil)
	require.Equal(t, 2.0, responses)
	throttles := value(t, reg, "kafka_producer_produce_throttle_time_seconds", nil)
	require.Equal(t, responses, throttles, "one throttle time per answer")
	require.InDelta(t, 0.1, histogramSum(t, reg, "kafka_producer_produce_throttle_time_seconds"), 1e-9)
}

// histogramSum is the sum of the histogram family name's samples.
func histogramSum(t *testing.T, reg *prometheus.Registry, name string) (sum float64) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetHistogram().GetSampleSum()
			}
		}
	}
	return sum
}

// Each hook records its figures in the units its metric's name promises,
// fed events directly: queue time and latency in seconds, sizes in bytes
// on the wire (compressed), the compression rate as compressed over
// uncompressed, with no rate for a batch of 0 bytes, a request's records
// as records (not its batches, which the event counts too), and failed
// connections and sequence restarts counted under their node and topic.
// A dashboard built on these names reads them without conversion.
func TestEachHookRecordsItsFiguresInTheUnitsItsMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	m.OnBatchWritten(producer.BatchWritten{Topic: "events", Records: 3, Bytes: 1000, CompressedBytes: 250, QueueTime: 1500 * time.Millisecond})
	m.OnBatchWritten(producer.BatchWritten{Topic: "events", Records: 1})
	m.OnRequestWritten(producer.RequestWritten{Broker: 1, Batches: 2, Records: 3, Bytes: 4321})
	m.OnRequestAnswered(producer.RequestAnswered{Broker: 1, Latency: 2 * time.Second})
	m.OnConnectionOpened(producer.ConnectionOpened{Broker: 2, Err: errors.New("connection refused")})
	m.OnSequenceRestart(producer.SequenceRestart{Topic: "events"})

	for name, want := range map[string]float64{
		"kafka_producer_record_queue_time_seconds": 1.5,
		"kafka_producer_batch_size_bytes":          250,
		"kafka_producer_compression_rate":          0.25,
		"kafka_producer_request_size_bytes":        4321,
		"kafka_producer_records_per_request":       3,
		"kafka_producer_request_latency_seconds":   2,
	} {
		require.InDelta(t, want, histogramSum(t, reg, name), 1e-9, name)
	}
	rates := value(t, reg, "kafka_producer_compression_rate", nil)
	require.Equal(t, 1.0, rates, "compression rates observed: a batch of 0 bytes has none")
	failed := value(t, reg, "kafka_producer_connection_failure_total", map[string]string{"node_id": "2"})
	require.Equal(t, 1.0, failed, "failed connections to node 2")
	restarts := value(t, reg, "kafka_producer_sequence_restart_total", map[string]string{"topic": "events"})
	require.Equal(t, 1.0, restarts, "sequence restarts of topic events")
}

// A failed connection attempt counts in connection_failure_total alone,
// neither as a connection created nor as one open: an attempt that never
// opened never closes, so connection_count would climb with every refused
// attempt and never come down, and a broker refusing every connection
// would look like one with many.
func TestAFailedConnectionIsNeitherCreatedNorOpen(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := promhooks.New(reg, promhooks.Options{})
	require.NoError(t, err)
	m.OnConnectionOpened(producer.ConnectionOpened{Broker: 1})
	m.OnConnectionOpened(producer.ConnectionOpened{Broker: 2, Err: errors.New("connection refused")})

	created := value(t, reg, "kafka_producer_connection_creation_total", nil)
	require.Equal(t, 1.0, created, "node 1's connection alone")
	open := value(t, reg, "kafka_producer_connection_count", nil)
	require.Equal(t, 1.0, open, "node 1's connection alone")
	failed := value(t, reg, "kafka_producer_connection_failure_total", map[string]string{"node_id": "2"})
	require.Equal(t, 1.0, failed)
}
