package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
)

// Bounds on the end of a run. After Ctrl-C, buffered records get flushGrace
// to be acknowledged; closing the producer gets closeGrace in any case.
const (
	flushGrace = 5 * time.Second
	closeGrace = 10 * time.Second
)

// workload is what perf and produce differ in: which records they hand to
// the producer. produce returns when it has no more records or ctx is done;
// an error it returns is reported after the summary and makes the run fail.
type workload struct {
	mode    string // "perf" or "produce", for the summary
	shards  int    // producing goroutines, for the meter
	total   int64  // records expected, or -1 when unknown (stdin)
	about   string // one line for stderr: what is about to be produced
	produce func(ctx context.Context, p *producer.Producer, m *meter) error
}

// execute runs a workload from start to summary: the embedded broker if no
// --brokers was given, the topic, the producer, progress, the produce phase
// and its flush, and the report. It returns nil when every record was
// acknowledged, a *failedError when some were not or the run was
// interrupted, a *usageError for flags the library rejects.
func execute(cmd *cobra.Command, e *env, o *commonOptions, w workload) error {
	ctx, stopSignals := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	go func() {
		// After the first signal, a second one kills the process as usual.
		<-ctx.Done()
		stopSignals()
	}()

	brokers := o.brokerList()
	embedded := len(brokers) == 0
	partitions := o.partitions
	if embedded {
		b, err := startEmbeddedBroker(ctx, e.stderr)
		if err != nil {
			return fmt.Errorf("starting the embedded broker: %w", err)
		}
		defer b.stop()
		brokers = b.addrs
		fmt.Fprintf(e.stderr, "%s: embedded broker at %s\n", programName, joinComma(brokers))
		if partitions == 0 {
			partitions = defaultEmbeddedPartitions
		}
	}
	if partitions == 0 {
		partitions = -1 // the broker's num.partitions
	}

	cfg := o.producerConfig(brokers)
	p, err := newProducer(cfg)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			cctx, cancel := context.WithTimeout(context.Background(), closeGrace)
			_ = p.Close(cctx)
			cancel()
		}
	}()

	t := topicSpec{name: o.topic, partitions: partitions, replicationFactor: o.replicationFactor}
	if err := ensureTopic(ctx, cfg, t, e.stderr); err != nil {
		return err
	}
	// Start the clock with the topic's metadata known, as a long-running
	// service would have it: the run measures producing, not bootstrap.
	wait := cfg.MaxBlock
	if wait <= 0 {
		wait = producer.DefaultMaxBlock
	}
	mctx, cancelMeta := context.WithTimeout(ctx, wait)
	_, err = p.PartitionsFor(mctx, o.topic)
	cancelMeta()
	if err != nil {
		return fmt.Errorf("metadata for topic %s: %w", o.topic, err)
	}

	m := newMeter(w.shards)
	fmt.Fprintf(e.stderr, "%s: producing %s to topic %s\n", programName, w.about, o.topic)
	prog := startProgress(e.stderr, o.progress, w.total, m)

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0 := cpuTime(), time.Now()

	produceErr := w.produce(ctx, p, m)
	interrupted := ctx.Err() != nil
	if !interrupted {
		// Every record has its outcome within MaxBlock (waiting for
		// metadata) plus DeliveryTimeout; a flush that outlasts both is a
		// bug, reported rather than waited for forever.
		limit := producer.DefaultMaxBlock + cfg.DeliveryTimeout + flushGrace
		fctx, cancel := context.WithTimeout(ctx, limit)
		if err := p.Flush(fctx); err != nil && ctx.Err() == nil {
			prog.note(fmt.Sprintf("%s: flush: %v", programName, err))
		}
		cancel()
		interrupted = ctx.Err() != nil
	}
	if interrupted {
		prog.note(fmt.Sprintf("%s: interrupted: flushing buffered records (at most %v)", programName, flushGrace))
		fctx, cancel := context.WithTimeout(context.Background(), flushGrace)
		_ = p.Flush(fctx)
		cancel()
	}

	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	runtime.ReadMemStats(&ms1)
	stats := p.Stats()

	// Close fails whatever the flush left, so every record has its outcome
	// before the counts are read. After Ctrl-C the flush has had its few
	// seconds: Close then fails the rest at once rather than wait again.
	grace := closeGrace
	if interrupted {
		grace = 0
	}
	cctx, cancel := context.WithTimeout(context.Background(), grace)
	_ = p.Close(cctx)
	cancel()
	closed = true
	prog.stop()

	s := newSummary(summaryInput{
		mode:        w.mode,
		topic:       o.topic,
		brokers:     brokers,
		embedded:    embedded,
		compression: cfg.Compression.String(),
		interrupted: interrupted,
		meter:       m,
		stats:       stats,
		elapsed:     elapsed,
		cpu:         cpu,
		mallocs:     ms1.Mallocs - ms0.Mallocs,
	})
	if err := s.write(e.stdout, o.json); err != nil {
		return err
	}
	reportErrorExamples(e.stderr, m)
	if produceErr != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", programName, produceErr)
		return &failedError{}
	}
	if interrupted || s.RecordsFailed > 0 || s.RecordsAcked != s.RecordsSent {
		return &failedError{}
	}
	return nil
}

// reportErrorExamples prints one example of each kind of failure, so that
// the counts in the summary come with the text that explains them.
func reportErrorExamples(w interface{ Write([]byte) (int, error) }, m *meter) {
	count, first := m.errors()
	for _, name := range sortedKeys(count) {
		fmt.Fprintf(w, "%s: %d record(s) failed with %s, e.g.: %v\n", programName, count[name], name, first[name])
	}
}
