package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
)

// Bounds on the end of a run. After Ctrl-C, buffered records get flushGrace
// to be acknowledged, and the callbacks of those Close then fails
// outcomesGrace to run; closing the producer gets closeGrace in any case.
const (
	flushGrace    = 5 * time.Second
	outcomesGrace = 2 * time.Second
	closeGrace    = 10 * time.Second
)

// workload is what perf and produce differ in: which records they hand to
// the producer.
type workload struct {
	mode   string // "perf" or "produce", for the summary
	shards int    // producing goroutines, for the meter
	total  int64  // records expected, or -1 when unknown (stdin)
	about  string // one line for stderr: what is about to be produced
	// interactive: a person types the records, so rates and per-record
	// costs measure the typist and are left out of the summary.
	interactive bool
	// paced: --throughput paces the records, and a record's latency
	// starts at its due time if it went out late (see worker.run).
	paced bool
	// checkPartitions, if set, refuses a topic of n partitions before
	// the first record: produce's --partition past the last one would
	// have every record wait --max-block for a partition that will not
	// come.
	checkPartitions func(n int) error
	// produce hands records to p until it has no more or stop is done
	// (Ctrl-C, or the producer can send nothing more). It gives Produce
	// and Send produceCtx, not stop: a record waiting for buffer memory at
	// Ctrl-C is then buffered and flushed like the others rather than
	// failed, and a transaction that a record fills is committed if it can
	// be within the flush's grace. An error it returns is reported after
	// the summary and makes the run fail. p is the producer, or the
	// transactions around it; con is stderr.
	produce func(stop, produceCtx context.Context, p recordSink, m *meter, con *console) error
}

// execute runs a workload from start to summary: the embedded broker if
// asked for, the topic, the producer, progress, the produce phase and its
// flush, and the report. It returns nil when every record was acknowledged,
// a *failedError when some were not or the run was interrupted, a
// *usageError for settings the library rejects.
func execute(cmd *cobra.Command, e *env, o *commonOptions, w workload) error {
	stop := notifyInterrupts(cmd.Context())
	defer stop.stopListening()
	con := newConsole(e.stderr)
	last := &lastCause{}
	// running ends with stop, or when the embedded broker exits on its
	// own: its records can then go nowhere, and the run would fail them
	// one DeliveryTimeout at a time, for as long as it lasts.
	running, endRun := context.WithCancelCause(stop)
	defer endRun(nil)

	cfg := o.cfg
	var broker *embeddedBroker
	if o.useEmbedded {
		b, err := startWatchedBroker(stop, con, endRun)
		if err != nil {
			return err
		}
		defer b.stop()
		broker, cfg.Brokers = b, b.Addrs
	}
	var debug io.Writer
	if o.debug {
		debug = con
	}
	cfg.Logger = newLibraryLogger(last, debug)
	cfg.TLS, cfg.SASL = o.tlsConf, o.saslMech
	p, err := newProducer(cfg, o.sources)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			closeProducer(p, closeGrace)
		}
	}()
	partitions, err := awaitTopic(running, p, cfg, o.topicSpec(cmd), con)
	if err != nil {
		return o.sources.saidFrom(err)
	}
	if w.checkPartitions != nil {
		if err := w.checkPartitions(partitions); err != nil {
			return err
		}
	}
	m := newMeter(w.shards)
	m.errCause = last.get
	var tx *transactions
	if cfg.TransactionalID != "" {
		if tx, err = startTransactions(running, p, o.txn, cfg, m); err != nil {
			return err
		}
		w.about += fmt.Sprintf(" in transactions of %s (transactional id %s)", plural(tx.size, "record"), cfg.TransactionalID)
	}

	con.line("producing %s to topic %s", w.about, o.topic)
	acked, _ := successWords(cfg.Acks.String())
	prog := startProgress(con, progressModeFor(o.progress, e.stderr), w.total, acked, m)
	ph := runPhase(running, con, p, tx, m, cfg, w)
	stats := p.Stats()
	settleOutcomes(p, m, ph)
	closed = true
	prog.stop()
	// Stopped here, not only when execute returns, so that how it ended is
	// known, and said, before the summary: a broker that died as Ctrl-C
	// came may not have been waited for yet.
	broker.stop()
	// A Ctrl-C that came once the produce phase was over, every record
	// handed over already, still makes the run an interrupted one; one
	// after this kills kprod.
	if stop.stopListening() && !ph.endedEarly() {
		ph.lateInterrupt = true
		con.line("interrupted once every record had its outcome")
	}
	return report(e, con, o, w, cfg, ph, stats, m, tx)
}

// awaitTopic makes sure the topic exists as asked and that the producer
// knows its partitions, and returns how many it has: the run's clock then
// starts as a long-running service's would, and measures producing, not
// bootstrap.
func awaitTopic(ctx context.Context, p *producer.Producer, cfg producer.Config, t topicSpec, con *console) (int, error) {
	if err := ensureTopic(ctx, cfg, t, con); err != nil {
		return 0, brokerExitOr(ctx, "topic "+t.name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.MaxBlock)
	defer cancel()
	n, err := p.PartitionsFor(ctx, t.name)
	if err != nil {
		what := "metadata for topic " + t.name
		return 0, brokerExitOr(ctx, what, fmt.Errorf("%s: %w", what, err))
	}
	return n, nil
}

// settleOutcomes closes p after the produce phase: Close fails whatever the
// flush left, so that every record has its outcome before the counts are
// read. After Ctrl-C, or the broker's exit, the flush has had its few
// seconds: Close then fails the rest at once rather than wait again, and
// their callbacks get outcomesGrace to run.
func settleOutcomes(p *producer.Producer, m *meter, ph phase) {
	if !ph.endedEarly() {
		closeProducer(p, closeGrace)
		return
	}
	closeProducer(p, 0)
	m.awaitOutcomes(outcomesGrace)
}

// closeProducer closes p within grace; what is left then fails.
func closeProducer(p *producer.Producer, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	_ = p.Close(ctx)
}
