package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/internal/clock"
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

// phase is what the produce phase measured.
type phase struct {
	interrupted bool
	// lateInterrupt: Ctrl-C came once the phase was over, which it cut
	// short in nothing; the run is still an interrupted one.
	lateInterrupt bool
	// brokerExited is the embedded broker's exit that ended the run, as
	// Ctrl-C would have; nil if it did not.
	brokerExited *brokerExitedError
	// elapsed runs from the first record to the end of the final flush, or
	// to the interrupt or the broker's exit: the flush after it is not
	// part of the measurement, and flushed is how long it took.
	elapsed, flushed time.Duration
	// rated are the counts the rates are computed from, at the end of
	// elapsed.
	rated      counts
	cpu        time.Duration
	mallocs    uint64 // heap allocations
	produceErr error
	// stoppedBy is the failure that said the producer can send nothing
	// more, after which no record was handed over; nil if none did.
	stoppedBy error
	// cutShort: stoppedBy came while records were still being handed
	// over, and ended that; one that came during the flush, every record
	// handed over already, left none unsent.
	cutShort bool
}

// endedEarly says whether Ctrl-C or the broker's exit ended the run, which
// then had its flush's grace.
func (ph *phase) endedEarly() bool { return ph.interrupted || ph.brokerExited != nil }

// runPhase produces, flushes, and measures. With transactions (tx not
// nil), the records go through them, and the last one is ended before the
// flush. stop ends with Ctrl-C, or with the embedded broker's exit, which
// runPhase meets as it meets Ctrl-C.
func runPhase(stop context.Context, con *console, p *producer.Producer, tx *transactions, m *meter, cfg producer.Config, w workload) phase {
	var sink recordSink = p
	if tx != nil {
		sink = tx
	}
	produceCtx, cancelProduce := context.WithCancel(context.Background())
	defer cancelProduce()
	// At Ctrl-C, or the broker's exit: note the moment and the counts, and
	// let a Produce waiting for buffer memory, or ending a transaction,
	// wait until the flush's grace is over, no longer.
	interrupt := make(chan sample, 1)
	stopWatch := context.AfterFunc(stop, func() {
		interrupt <- sample{at: time.Now(), c: m.counts()}
		time.AfterFunc(flushGrace, cancelProduce)
	})
	defer stopWatch()

	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0 := cpuTime(), time.Now()
	// A producer that can send nothing more fails every record handed to
	// it at once, for as long as the run would last (a paced run, an open
	// stdin): its first such failure stops the handing over, as Ctrl-C
	// does, and the run flushes and reports as if the records had run out.
	halt, cancelHalt := context.WithCancel(stop)
	defer cancelHalt()
	m.whenStopped(cancelHalt)
	ph := phase{produceErr: w.produce(halt, produceCtx, sink, m, con)}
	ph.cutShort = halt.Err() != nil && stop.Err() == nil
	if stop.Err() == nil {
		// Every record has its outcome within MaxBlock (waiting for
		// metadata) plus DeliveryTimeout; a flush that outlasts both is a
		// bug, reported rather than waited for forever. The last
		// transaction ends within produceCtx, as every other does: Ctrl-C
		// during its commit leaves it the flush's grace, where stop would
		// cut it at once and abort its records.
		bound := outcomesWithin(cfg)
		tctx, cancel := context.WithTimeout(produceCtx, bound)
		ph.endTransactions(tctx, tx)
		cancel()
		fctx, cancel := context.WithTimeout(stop, bound)
		if err := p.Flush(fctx); err != nil && stop.Err() == nil {
			con.line("flush: %v", err)
		}
		cancel()
	}
	ph.elapsed, ph.rated = time.Since(t0), m.counts()
	if stop.Err() != nil {
		at := <-interrupt
		if !errors.As(context.Cause(stop), &ph.brokerExited) {
			ph.interrupted = true
			con.line("interrupted: flushing buffered records (at most %v)", flushGrace)
		}
		// The grace runs from Ctrl-C, not from produce's return, which
		// may have taken some of it to end a transaction.
		fctx, cancel := context.WithDeadline(context.Background(), at.at.Add(flushGrace))
		ph.endTransactions(fctx, tx)
		_ = p.Flush(fctx)
		cancel()
		ph.elapsed, ph.rated, ph.flushed = at.at.Sub(t0), at.c, time.Since(at.at)
	}
	ph.stoppedBy = m.stopped()
	ph.cpu = cpuTime() - cpu0
	runtime.ReadMemStats(&ms1)
	ph.mallocs = ms1.Mallocs - ms0.Mallocs
	return ph
}

// outcomesWithin bounds the wait for every record's outcome under cfg:
// MaxBlock waiting for metadata, then DeliveryTimeout (as the library sets
// it: the user may have left it to follow Linger + RequestTimeout), and
// the flush's grace. The sum saturates: both as long as a Duration holds
// (a user's "forever") wrapped it to a bound that passed at once, or in
// seconds.
func outcomesWithin(cfg producer.Config) time.Duration {
	eff := cfg.WithDefaults()
	return clock.AddSaturating(clock.AddSaturating(eff.MaxBlock, eff.DeliveryTimeout), flushGrace)
}

// endTransactions ends the last transaction, if any, and keeps the first
// failure of any transaction as the run's error.
func (ph *phase) endTransactions(ctx context.Context, tx *transactions) {
	if tx == nil {
		return
	}
	if err := tx.finish(ctx); err != nil && ph.produceErr == nil {
		ph.produceErr = err
	}
}

// report prints the summary and the examples of each failure, and returns
// the run's verdict.
func report(e *env, con *console, o *commonOptions, w workload, cfg producer.Config, ph phase, stats producer.Stats, m *meter, tx *transactions) error {
	var txns *txnCounts
	if tx != nil {
		txns = tx.summary()
	}
	s := newSummary(summaryInput{
		txns:        txns,
		mode:        w.mode,
		topic:       o.topic,
		brokers:     cfg.Brokers,
		embedded:    o.useEmbedded,
		compression: cfg.Compression.String(),
		acks:        cfg.Acks.String(),
		idempotent:  !cfg.DisableIdempotence,
		interactive: w.interactive,
		paced:       w.paced,
		meter:       m,
		stats:       stats,
		phase:       ph,
	})
	s.Error = stopReason(ph)
	if err := s.write(e.stdout, o.json); err != nil {
		return err
	}
	if c := m.counts(); ph.brokerExited != nil && c.sent > c.acked {
		con.line("%s the embedded broker had not acknowledged failed", plural(c.sent-c.acked, "record"))
	}
	reportErrorExamples(con, m, s.Errors)
	if ph.cutShort {
		reportStoppedEarly(con, m, ph.stoppedBy)
	}
	if ph.produceErr != nil {
		con.line("%v", ph.produceErr)
		return &failedError{}
	}
	if ph.endedEarly() || ph.lateInterrupt || ph.stoppedBy != nil || s.RecordsFailed > 0 || s.RecordsAcked != s.RecordsSent {
		return &failedError{}
	}
	return nil
}

// reportErrorExamples prints one example of each kind of failure, so that
// the counts in the summary come with the text that explains them. A
// timeout names its partition's last error only if it had one (a batch
// waiting for metadata has none): the last error the library had logged
// when the first one happened goes with it. The counts are the summary's,
// so that the two agree.
func reportErrorExamples(con *console, m *meter, count map[string]int64) {
	first := m.examples()
	for _, name := range sortedKeys(count) {
		if first[name] == nil {
			// UNRESOLVED: no callback ran, so there is no error to
			// show; TRANSACTION_NOT_ENDED: the transaction's failure
			// is reported after these.
			continue
		}
		cause := ""
		if text := m.cause(name); timeoutErrors[name] && text != "" {
			cause = "; the last error the producer logged was " + text
		}
		con.line("%s failed with %s, e.g.: %v%s", plural(count[name], "record"), name, first[name], cause)
	}
}

// stoppedEarlyLine starts what kprod says when the producer can send
// nothing more.
const stoppedEarlyLine = "stopped early: the producer can send nothing more"

// stopReason is why the run stopped before its end, for the JSON summary,
// which stderr alone said: the embedded broker's exit, the producer that
// can send nothing more, then the produce phase's error. "" if none.
func stopReason(ph phase) string {
	var reasons []string
	if ph.brokerExited != nil {
		reasons = append(reasons, ph.brokerExited.Error())
	}
	if ph.cutShort && ph.stoppedBy != nil {
		reasons = append(reasons, fmt.Sprintf("%s: %v", stoppedEarlyLine, ph.stoppedBy))
	}
	if ph.produceErr != nil {
		reasons = append(reasons, ph.produceErr.Error())
	}
	return strings.Join(reasons, "; ")
}

// reportStoppedEarly says that the run stopped handing records over
// because the producer can send nothing more, and why: by the example just
// printed if that is the failure that stopped it, else in full.
func reportStoppedEarly(con *console, m *meter, err error) {
	if err == nil {
		return
	}
	const line = stoppedEarlyLine
	name := producer.ErrorName(err)
	if e := m.examples()[name]; e != nil && e.Error() == err.Error() {
		con.line("%s (the %s failure above); records not yet handed to it were not sent", line, name)
		return
	}
	con.line("%s: %v; records not yet handed to it were not sent", line, err)
}

// timeoutErrors are the failures whose error says that time ran out, not
// what stood in the way.
var timeoutErrors = map[string]bool{"DELIVERY_TIMEOUT": true, "UNKNOWN_TOPIC": true, "BUFFER_FULL": true}
