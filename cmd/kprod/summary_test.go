package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	producer "github.com/gokafka/producer"
)

// writeSummary is the human summary of a run with the meter's counts.
func writeSummary(t *testing.T, in summaryInput) string {
	t.Helper()
	var b bytes.Buffer
	if err := newSummary(in).write(&b, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Typed records: the rates would measure the typist, so they are left out
// however many there are.
func TestSummaryOfTypedRecords(t *testing.T) {
	m := meterWith(5000, 0, 500_000)
	ph := phase{elapsed: 10 * time.Second, rated: m.counts(), cpu: time.Second}
	typed := writeSummary(t, summaryInput{mode: "produce", meter: m, interactive: true, phase: ph})
	piped := writeSummary(t, summaryInput{mode: "produce", meter: m, phase: ph})
	for _, figure := range []string{"records/s", "µs/record"} {
		if strings.Contains(typed, figure) || !strings.Contains(piped, figure) {
			t.Errorf("%q: typed run\n%s\npiped run\n%s", figure, typed, piped)
		}
	}
}

// The interrupted time is the time to the interrupt, with the flush after
// it apart; a run with nothing acknowledged has no latency to show.
func TestSummaryOfInterruptedRun(t *testing.T) {
	m := meterWith(0, 0, 0)
	got := writeSummary(t, summaryInput{mode: "perf", meter: m,
		phase: phase{interrupted: true, elapsed: 3 * time.Second, flushed: 250 * time.Millisecond}})
	if !strings.Contains(got, "time      3.000 s until interrupted (then 0.250 s to flush)") {
		t.Errorf("summary:\n%s", got)
	}
	if strings.Contains(got, "latency") {
		t.Errorf("latency shown without an acknowledged record:\n%s", got)
	}
}

// A Ctrl-C that came after the produce phase cut nothing short: the run is
// an interrupted one, but its time is the whole run's, as for a run not
// interrupted, where the time line said "until interrupted (then 0.000 s
// to flush)".
func TestSummaryOfARunInterruptedAfterItsEnd(t *testing.T) {
	in := summaryInput{mode: "produce", meter: meterWith(3, 0, 3), phase: phase{lateInterrupt: true, elapsed: 3 * time.Second}}
	got := writeSummary(t, in)
	if !strings.Contains(got, "records   3 sent, 3 acked, 0 failed  (interrupted after the end)\n") ||
		!strings.Contains(got, "time      3.000 s\n") {
		t.Errorf("summary:\n%s", got)
	}
	var b bytes.Buffer
	if err := newSummary(in).write(&b, true); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Interrupted         bool    `json:"interrupted"`
		InterruptedAfterEnd bool    `json:"interrupted_after_end"`
		Seconds             float64 `json:"seconds"`
		FlushSeconds        float64 `json:"flush_seconds"`
	}
	if err := json.Unmarshal(b.Bytes(), &s); err != nil || !s.Interrupted || !s.InterruptedAfterEnd || s.Seconds != 3 || s.FlushSeconds != 0 {
		t.Errorf("JSON %s (%v); want interrupted, after the end, 3 s and no flush after it", b.String(), err)
	}
}

// A run its embedded broker's exit ended says so where an interrupted one
// says it was interrupted, and is not called interrupted.
func TestSummaryOfARunTheBrokersExitEnded(t *testing.T) {
	m := meterWith(0, 0, 0)
	exit := &brokerExitedError{exit: errors.New("signal: killed")}
	ph := phase{brokerExited: exit, elapsed: 3 * time.Second, flushed: 250 * time.Millisecond}
	got := writeSummary(t, summaryInput{mode: "perf", meter: m, phase: ph})
	if !strings.Contains(got, "time      3.000 s until the embedded broker exited (then 0.250 s to flush)") ||
		strings.Contains(got, "interrupted") {
		t.Errorf("summary:\n%s", got)
	}
	if s := newSummary(summaryInput{mode: "perf", meter: m, phase: ph}); s.Interrupted ||
		stopReason(ph) != "the embedded broker exited during the run (signal: killed)" {
		t.Errorf("interrupted %v, error %q", s.Interrupted, stopReason(ph))
	}
}

// Latency percentiles are by nearest rank: p of n values is the
// ceil(p*n)-th, at or above which no more than 1-p of them lie. Rounding
// the rank to the nearest, as hdrhistogram does, gives 1.059 ms for the
// p99 of 1..1070 µs, with 1.03% of them above it.
func TestSummaryLatencyByNearestRank(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want latencyMs
	}{
		{1070, latencyMs{P50: 0.535, P99: 1.060, P999: 1.069, Max: 1.070, Mean: 0.536}},
		// p*n whole: that rank itself.
		{1000, latencyMs{P50: 0.5, P99: 0.99, P999: 0.999, Max: 1, Mean: 0.5}},
		{1, latencyMs{P50: 0.001, P99: 0.001, P999: 0.001, Max: 0.001, Mean: 0.001}},
		{0, latencyMs{}},
	} {
		m := newMeter(1)
		for us := int64(1); us <= tc.n; us++ {
			m.acked(m.shard(0).tally, us, 1)
		}
		var b bytes.Buffer
		if err := newSummary(summaryInput{mode: "perf", meter: m}).write(&b, true); err != nil {
			t.Fatal(err)
		}
		var got struct {
			LatencyMs latencyMs `json:"latency_ms"`
		}
		if err := json.Unmarshal(b.Bytes(), &got); err != nil {
			t.Fatalf("%v:\n%s", err, b.String())
		}
		if got.LatencyMs != tc.want {
			t.Errorf("1..%d µs: latency_ms %+v, want %+v", tc.n, got.LatencyMs, tc.want)
		}
	}
}

// A paced run's latencies start at a late record's due time, not at its
// Produce call (see worker.run), and its latency line says so; an
// unpaced run's says Produce.
func TestAPacedRunsLatencyLineSaysItStartsAtTheDueTime(t *testing.T) {
	m := newMeter(1)
	m.shard(0).sent.Store(1)
	m.acked(m.shard(0).tally, 1, 10)
	for _, tc := range []struct {
		paced bool
		want  string
	}{
		{false, "max 0.001 ms (Produce to ack)\n"},
		{true, "max 0.001 ms (due time to ack)\n"},
	} {
		got := writeSummary(t, summaryInput{mode: "perf", meter: m, paced: tc.paced})
		if !strings.Contains(got, "latency   p50 0.001 ms, p99 0.001 ms, p99.9 0.001 ms, "+tc.want) {
			t.Errorf("paced %t: summary lacks %q:\n%s", tc.paced, tc.want, got)
		}
	}
}

// The README's paragraph of error names holds every name the summary can
// count for a client-side failure.
func TestTheReadmeNamesEveryClientSideError(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "Error names are the protocol's")
	if i < 0 {
		t.Fatal("README has no paragraph of error names")
	}
	para := text[i:]
	para = para[:strings.Index(para, "\n\n")]
	for _, e := range []error{
		producer.ErrProducerStopped, producer.ErrRecordTooLarge, producer.ErrBufferFull,
		producer.ErrDeliveryTimeout, producer.ErrUnknownTopic, producer.ErrInvalidRecord,
		producer.ErrBatchRefused, producer.ErrClosed, producer.ErrTransactionAborted,
		producer.ErrTransactionState, producer.ErrTransactionAbortable, producer.ErrTransactionFatal,
		context.Canceled, context.DeadlineExceeded, producer.ErrAuthentication,
		&net.OpError{Op: "dial", Err: errors.New("refused")}, errors.New("other"),
	} {
		if name := producer.ErrorName(e); !strings.Contains(para, "`"+name+"`") {
			t.Errorf("README's error names lack %s (ErrorName(%v))", name, e)
		}
	}
}

// The transactions' line counts records in the singular when there is one,
// as the rest of the output does: a transaction of one record aborted read
// "1 aborted (1 records), of 1 records".
func TestTheTransactionsLineSaysOneRecordInTheSingular(t *testing.T) {
	s := &summary{TransactionalID: "tx", TransactionsAborted: 1, RecordsAborted: 1, txnSize: 1, Compression: "none", Acks: "all"}
	var b strings.Builder
	if err := s.write(&b, false); err != nil {
		t.Fatal(err)
	}
	if want := "txns      0 committed, 1 aborted (1 record), of 1 record; transactional id tx"; !strings.Contains(b.String(), want) {
		t.Errorf("summary:\n%s\nwant the line %q", b.String(), want)
	}
}

// The batches line counts the batches split as too large beside the
// retries, when there are any: a split is not a retry, and a run whose
// batches were nearly all split said "0 retries" alone.
func TestTheBatchesLineCountsSplits(t *testing.T) {
	m := meterWith(0, 0, 0)
	for _, tc := range []struct {
		stats producer.Stats
		want  string
	}{
		{producer.Stats{Batches: 1769, Requests: 1108, Splits: 1755}, "in 1,108 requests, 0 retries, 1,755 splits;"},
		{producer.Stats{Batches: 3, Requests: 2, Retries: 1, Splits: 1}, "in 2 requests, 1 retry, 1 split;"},
		{producer.Stats{Batches: 3, Requests: 2}, "in 2 requests, 0 retries;"},
	} {
		got := writeSummary(t, summaryInput{mode: "perf", meter: m, stats: tc.stats})
		if !strings.Contains(got, tc.want) {
			t.Errorf("stats %+v: summary lacks %q:\n%s", tc.stats, tc.want, got)
		}
	}
}

// The max latency is the longest a record took, not the top of its
// histogram bucket: 4402.395 ms was printed as 4403.199 ms. It is found
// wherever the record was counted, in a tally or in the spare. The
// percentiles are the histogram's, but none above the max.
func TestTheMaxLatencyIsExact(t *testing.T) {
	for _, inSpare := range []bool{false, true} {
		m := newMeter(2)
		m.acked(m.shard(1).tally, 1000, 1)
		held := m.shard(0).tally
		if inSpare {
			held.take() // as a second goroutine calling back would find it
		}
		m.acked(held, 4_402_395, 1)
		held.writing.Store(false)
		got := newSummary(summaryInput{mode: "perf", meter: m}).LatencyMs
		if got.Max != 4402.395 {
			t.Errorf("in the spare %t: max %.3f ms, want 4402.395", inSpare, got.Max)
		}
		if got.P50 != 1 || got.P99 != 4402.395 {
			t.Errorf("in the spare %t: p50 %.3f ms, p99 %.3f ms, want 1 and the max", inSpare, got.P50, got.P99)
		}
	}
	// The histogram's mean counts a value at its bucket's middle, above
	// this one: the mean of one record is that record's latency.
	m := newMeter(1)
	m.acked(m.shard(0).tally, 4_194_304, 1)
	if got := newSummary(summaryInput{mode: "perf", meter: m}).LatencyMs; got.Mean != got.Max || got.Max != 4194.304 {
		t.Errorf("one record of 4194.304 ms: mean %.3f ms, max %.3f ms", got.Mean, got.Max)
	}
}

// With acks=0 the broker answers nothing: a record counts as acked once
// its request is written, though the broker may drop it, so the human
// summary says written, not acked, and its latency ends at the write.
// The JSON keeps its field names.
func TestUnderAcksZeroTheSummarySaysWrittenNotAcked(t *testing.T) {
	m := newMeter(1)
	m.shard(0).sent.Store(1)
	m.acked(m.shard(0).tally, 1, 10)
	for _, tc := range []struct {
		acks          string
		records, tail string
	}{
		{"0", "1 sent, 1 written, 0 failed", "(Produce to request written)"},
		{"1", "1 sent, 1 acked, 0 failed", "(Produce to ack)"},
	} {
		got := writeSummary(t, summaryInput{mode: "perf", meter: m, acks: tc.acks})
		if !strings.Contains(got, "records   "+tc.records+"\n") || !strings.Contains(got, tc.tail+"\n") {
			t.Errorf("acks=%s: summary lacks %q or %q:\n%s", tc.acks, tc.records, tc.tail, got)
		}
	}
}

// The rates count what was acknowledged by the end of the timed phase,
// per second of it, in records and in MiB (2^20 bytes, as
// kafka-producer-perf-test counts its "MB/sec"); an interrupted run's
// flush acknowledges more after its time stops, which counts as acked but
// not in the rates. The per-record costs divide by the records sent,
// failed ones included, and a batch's records are BatchRecords over
// Batches. These are the numbers users compare between runs, and the
// end-to-end runs check none of their values: MB/s in 10^6 bytes would
// read 5% high, and the flush's records over the time without them 50%
// high here.
func TestTheRatesAndPerRecordCostsAreInTheirUnits(t *testing.T) {
	m := meterWith(3000, 1000, 3000*1024) // by the end of the flush
	ph := phase{
		interrupted: true, elapsed: 2 * time.Second, flushed: time.Second,
		rated: counts{sent: 4000, acked: 2000, bytes: 2000 * 1024}, // at Ctrl-C
		cpu:   10 * time.Millisecond, mallocs: 100_000,
	}
	st := producer.Stats{Batches: 8, BatchRecords: 3000, Requests: 2}
	s := newSummary(summaryInput{mode: "perf", meter: m, phase: ph, stats: st})
	if s.RecordsPerSec != 1000 || s.MBPerSec != 0.977 || s.CPUUsPerRecord != 2.5 ||
		s.AllocsPerRecord != 25 || s.RecordsPerBatch != 375 {
		t.Errorf("%.1f records/s, %.3f MB/s, %.3f µs/record, %.2f allocs/record, %.1f records/batch; "+
			"want 1000, 0.977 (2,048,000 bytes in 2 s), 2.5, 25 and 375",
			s.RecordsPerSec, s.MBPerSec, s.CPUUsPerRecord, s.AllocsPerRecord, s.RecordsPerBatch)
	}
	got := writeSummary(t, summaryInput{mode: "perf", meter: m, phase: ph, stats: st})
	for _, want := range []string{
		"time      2.000 s until interrupted (then 1.000 s to flush), 1,000 records/s, 0.98 MB/s\n",
		"batches   8 (375.0 records/batch) in 2 requests,",
		"cpu       0.010 s, 2.500 µs/record, 25.00 allocs/record\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
}

// Rates and per-record costs are shown from minPerRecord records on,
// as the README says ("Below 1,000 records ... leaves out"), and left out
// below.
func TestRatesAreShownFromOneThousandRecords(t *testing.T) {
	for _, tc := range []struct {
		sent  int64
		shown bool
	}{{minPerRecord - 1, false}, {minPerRecord, true}} {
		m := meterWith(tc.sent, 0, tc.sent)
		got := writeSummary(t, summaryInput{mode: "perf", meter: m, phase: phase{elapsed: time.Second, rated: m.counts()}})
		if strings.Contains(got, "records/s") != tc.shown {
			t.Errorf("%d records: rates shown %t, want %t:\n%s", tc.sent, !tc.shown, tc.shown, got)
		}
	}
}

// A record whose callback never ran by the summary (the library promises
// it always runs) counts as failed, UNRESOLVED, so that acked + failed =
// sent as the README promises and the records line shows the loss, not
// "5 sent, 3 acked, 1 failed" with the fifth record in no count.
func TestARecordWithoutAnOutcomeCountsFailedAsUnresolved(t *testing.T) {
	m := newMeter(1)
	m.shard(0).sent.Store(5)
	for range 3 {
		m.acked(m.shard(0).tally, 1000, 10)
	}
	m.recordError(producer.ErrClosed)
	s := newSummary(summaryInput{mode: "perf", meter: m})
	if s.RecordsFailed != 2 || s.Errors[unresolvedError] != 1 || s.Errors["CLOSED"] != 1 {
		t.Errorf("%d failed %v; want 2, CLOSED 1 and %s 1", s.RecordsFailed, s.Errors, unresolvedError)
	}
	got := writeSummary(t, summaryInput{mode: "perf", meter: m})
	if want := "records   5 sent, 3 acked, 2 failed\nerrors    CLOSED 1, UNRESOLVED 1\n"; !strings.Contains(got, want) {
		t.Errorf("summary lacks %q:\n%s", want, got)
	}
}
