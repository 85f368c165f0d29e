package main

import (
	"fmt"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	producer "github.com/gokafka/producer"
)

// summary is the report at the end of perf and produce. Its JSON field
// names are part of kprod's contract (issue 5); fields may be added, never
// renamed.
type summary struct {
	Mode        string   `json:"mode"`
	Topic       string   `json:"topic"`
	Brokers     []string `json:"brokers"`
	Embedded    bool     `json:"embedded"`
	Compression string   `json:"compression"`
	Acks        string   `json:"acks"`
	Idempotent  bool     `json:"idempotent"` // retries neither duplicate nor reorder records
	Interrupted bool     `json:"interrupted"`
	// InterruptedAfterEnd: the Ctrl-C came once every record had its
	// outcome, and cut nothing short; Interrupted is true too, and the
	// times are those of a run not interrupted.
	InterruptedAfterEnd bool `json:"interrupted_after_end"`

	// The transactions of --transactional-id: "" and zeros without.
	// TransactionsAborted counts every transaction aborted: the
	// --txn-abort-every ones and one whose commit failed (the run then
	// fails). RecordsAborted counts their records that were written (and
	// acknowledged) but which a consumer reading committed records never
	// sees.
	TransactionalID       string `json:"transactional_id"`
	TransactionsCommitted int64  `json:"transactions_committed"`
	TransactionsAborted   int64  `json:"transactions_aborted"`
	RecordsAborted        int64  `json:"records_aborted"`
	// TransactionsNotEnded counts the transactions that ended neither
	// committed nor aborted (the commit failed, then the abort), or whose
	// commit was sent but not confirmed, so that its outcome is unknown:
	// their records were written, and are committed by no one as far as
	// kprod knows, so those acked count as failed, as
	// TRANSACTION_NOT_ENDED, not as acked. Bytes and the rates still count
	// them: they measure what brokers acknowledged.
	TransactionsNotEnded int64 `json:"transactions_not_ended"`
	// txnOutcomeUnknown: the transaction not ended had been sent to
	// commit; the txns line says its outcome is unknown.
	txnOutcomeUnknown bool

	RecordsSent   int64 `json:"records_sent"`
	RecordsAcked  int64 `json:"records_acked"`
	RecordsFailed int64 `json:"records_failed"`
	// Errors counts failed records by error name: the protocol's name for
	// broker errors (NOT_LEADER_OR_FOLLOWER), a short upper-case name for
	// client-side ones (DELIVERY_TIMEOUT). Always an object, {} when empty.
	Errors map[string]int64 `json:"errors"`

	Bytes int64 `json:"bytes"` // key and value bytes of acknowledged records
	// Seconds runs from the first record to the end of the final flush,
	// or to Ctrl-C: the flush after it, FlushSeconds, is not part of the
	// measurement, and the rates count what was acknowledged by then. A
	// Ctrl-C after the final flush (InterruptedAfterEnd) cut nothing:
	// Seconds runs to the flush's end, and FlushSeconds is 0.
	Seconds       float64 `json:"seconds"`
	FlushSeconds  float64 `json:"flush_seconds"`
	RecordsPerSec float64 `json:"records_per_sec"`
	// MBPerSec is in MiB (2^20 bytes) of keys and values per second, as
	// Kafka's kafka-producer-perf-test counts its "MB/sec" of values (its
	// records have no keys).
	MBPerSec  float64   `json:"mb_per_sec"`
	LatencyMs latencyMs `json:"latency_ms"`

	Batches         int64   `json:"batches"`
	RecordsPerBatch float64 `json:"records_per_batch"`
	// CompressionRatio is uncompressed batch bytes over bytes sent: 2.5
	// means batches went out 2.5 times smaller; 1 without compression,
	// and when no batch went out.
	CompressionRatio float64 `json:"compression_ratio"`
	Requests         int64   `json:"requests"`
	// Retries counts batches sent again after a retriable error; Splits,
	// batches the broker refused as too large (MESSAGE_TOO_LARGE,
	// RECORD_LIST_TOO_LARGE), halved and sent again as two, which is not a
	// retry.
	Retries int64 `json:"retries"`
	Splits  int64 `json:"splits"`

	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUUsPerRecord  float64 `json:"cpu_us_per_record"`
	AllocsPerRecord float64 `json:"allocs_per_record"`

	// Error is why the run stopped before its end, as stderr says it: a
	// record or file that could not be read, a transaction that failed,
	// "stopped early: the producer can send nothing more: ...", or "the
	// embedded broker exited during the run (...)". ""
	// when nothing stopped it; Ctrl-C is Interrupted, and records that
	// failed are counted in Errors.
	Error string `json:"error"`

	// brokerExited: the embedded broker's exit ended the run, which Error
	// says; the time line says that its time runs to then.
	brokerExited bool

	// perRecord says whether the rates and per-record costs mean
	// something; the human summary leaves them out when they do not.
	perRecord string // "" when they do, else why not
	txnSize   int64  // records per transaction, for the human summary
	// latencyFrom is where latencies start, for the human summary:
	// "Produce", or "due time" when the run was paced (see worker.run).
	latencyFrom string
}

// minPerRecord is the fewest records for which rates and per-record costs
// are shown: below it, the fixed costs of a run (connections, metadata, the
// first batch's linger) are most of what they would measure.
const minPerRecord = 1000

// latencyMs is the latency from the Produce call to the record's callback,
// of acknowledged records, in milliseconds. Paced (--throughput), it
// starts at the record's due time if that came before the call, so that a
// stall counts against the records due during it (see worker.run); the
// human summary's latency line then says "due time to ack".
type latencyMs struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// summaryInput is everything a summary is computed from.
type summaryInput struct {
	mode, topic, compression string
	acks                     string
	brokers                  []string
	embedded, interactive    bool
	idempotent               bool
	paced                    bool // latency starts at the due time of a late record
	meter                    *meter
	stats                    producer.Stats
	phase                    phase
	txns                     *txnCounts // nil without transactions
}

// unresolvedError names records whose callback had not run when the
// producer was closed; the library promises it always runs, so a non-zero
// count is a bug worth seeing.
const unresolvedError = "UNRESOLVED"

// txnNotEndedError names the acknowledged records of a transaction that
// ended neither committed nor aborted.
const txnNotEndedError = "TRANSACTION_NOT_ENDED"

func newSummary(in summaryInput) *summary {
	c, errs := in.meter.outcomes()
	failed := c.failed
	if missing := c.sent - c.acked - c.failed; missing > 0 {
		errs[unresolvedError] += missing
		failed += missing
	}
	ph := in.phase
	secs := ph.elapsed.Seconds()
	h, longest := in.meter.latency()
	ms := func(us int64) float64 { return round(float64(us)/1000, 3) }
	// A percentile is the top of its histogram bucket, which may lie above
	// the longest latency, and no percentile is longer than that.
	pct := func(perMille int64) float64 { return ms(min(atNearestRank(h, perMille), longest)) }
	st := in.stats
	s := &summary{
		Mode:          in.mode,
		Topic:         in.topic,
		Brokers:       in.brokers,
		Embedded:      in.embedded,
		Compression:   in.compression,
		Acks:          in.acks,
		Idempotent:    in.idempotent,
		Interrupted:   ph.interrupted || ph.lateInterrupt,
		brokerExited:  ph.brokerExited != nil,
		RecordsSent:   c.sent,
		RecordsAcked:  c.acked,
		RecordsFailed: failed,
		Errors:        errs,
		Bytes:         c.bytes,
		Seconds:       round(secs, 3),
		FlushSeconds:  round(ph.flushed.Seconds(), 3),
		RecordsPerSec: round(ratio(float64(ph.rated.acked), secs), 1),
		MBPerSec:      round(ratio(float64(ph.rated.bytes)/(1<<20), secs), 3),
		LatencyMs: latencyMs{
			P50:  pct(500),
			P99:  pct(990),
			P999: pct(999),
			Max:  ms(longest),
			// The histogram's mean counts each value at its bucket's
			// middle, which may lie above the exact max.
			Mean: round(min(h.Mean(), float64(longest))/1000, 3),
		},
		Batches:          st.Batches,
		RecordsPerBatch:  round(ratio(float64(st.BatchRecords), float64(st.Batches)), 1),
		CompressionRatio: compressionRatio(st),
		Requests:         st.Requests,
		Retries:          st.Retries,
		Splits:           st.Splits,
		CPUSeconds:       round(ph.cpu.Seconds(), 3),
		CPUUsPerRecord:   round(ratio(float64(ph.cpu.Microseconds()), float64(c.sent)), 3),
		AllocsPerRecord:  round(ratio(float64(ph.mallocs), float64(c.sent)), 2),
		latencyFrom:      "Produce",
	}
	// A Ctrl-C after the phase leaves the times those of a run not
	// interrupted: runPhase saw none.
	s.InterruptedAfterEnd = ph.lateInterrupt
	if in.paced {
		s.latencyFrom = "due time"
	}
	if t := in.txns; t != nil {
		s.TransactionalID, s.txnSize = t.id, t.size
		s.TransactionsCommitted, s.TransactionsAborted, s.RecordsAborted = t.committed, t.aborted, t.recordsAborted
		s.TransactionsNotEnded, s.txnOutcomeUnknown = t.notEnded, t.outcomeUnknown
		if n := t.recordsNotEnded; n > 0 {
			s.RecordsAcked -= n
			s.RecordsFailed += n
			s.Errors[txnNotEndedError] += n
		}
	}
	switch {
	case in.interactive:
		s.perRecord = "typed records: rates and per-record costs would measure the typing"
	case c.sent < minPerRecord:
		s.perRecord = fmt.Sprintf("rates and per-record costs need at least %s records", group(minPerRecord))
	}
	return s
}

// atNearestRank is the perMille-th per-mille of h's values by nearest rank:
// of n values in order, the ceil(perMille*n/1000)-th (from 1), the least
// value with at least that share of the values at or below it, to the
// histogram's precision. hdrhistogram's ValueAtQuantile rounds the rank to
// the nearest instead, and so can report one value too low: p99 of
// 1..1070 µs as 1059 µs, with 11 values (1.03%) above it.
// kafka-producer-perf-test's latencies[(int)(p*n)] takes the same value
// unless p*n is whole, where it takes the next. It is 0 for no values.
func atNearestRank(h *hdrhistogram.Histogram, perMille int64) int64 {
	rank := max(1, (h.TotalCount()*perMille+999)/1000)
	var atOrBelow int64
	for _, bar := range h.Distribution() {
		atOrBelow += bar.Count
		if atOrBelow >= rank {
			return bar.To // its highest equivalent value, as ValueAtQuantile gives
		}
	}
	return 0
}

// compressionRatio is uncompressed batch bytes over bytes sent, and 1
// when no batch went out: nothing was made smaller (0 read as a batch
// made infinitely larger).
func compressionRatio(st producer.Stats) float64 {
	if st.CompressedBytes == 0 {
		return 1
	}
	return round(float64(st.UncompressedBytes)/float64(st.CompressedBytes), 3)
}

// ratio is a/b, or 0 when b is 0, so that an empty run reports zeros rather
// than NaN (which JSON cannot carry).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
