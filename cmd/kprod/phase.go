package main

import (
	"context"
	"errors"
	"runtime"
	"time"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/internal/clock"
)

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
