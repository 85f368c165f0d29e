package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	producer "github.com/gokafka/producer"
)

// write prints the summary: one JSON object, or a few aligned lines.
func (s *summary) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		return enc.Encode(s)
	}
	var b strings.Builder
	status := ""
	switch {
	case s.InterruptedAfterEnd:
		status = "  (interrupted after the end)"
	case s.Interrupted:
		status = "  (interrupted)"
	}
	acked, ackedAt := successWords(s.Acks)
	fmt.Fprintf(&b, "records   %s sent, %s %s, %s failed%s\n",
		group(s.RecordsSent), group(s.RecordsAcked), acked, group(s.RecordsFailed), status)
	if len(s.Errors) > 0 {
		var parts []string
		for _, name := range sortedKeys(s.Errors) {
			parts = append(parts, fmt.Sprintf("%s %s", name, group(s.Errors[name])))
		}
		fmt.Fprintf(&b, "errors    %s\n", strings.Join(parts, ", "))
	}
	until := ""
	switch {
	case s.Interrupted && !s.InterruptedAfterEnd:
		until = fmt.Sprintf(" until interrupted (then %.3f s to flush)", s.FlushSeconds)
	case s.brokerExited:
		until = fmt.Sprintf(" until the embedded broker exited (then %.3f s to flush)", s.FlushSeconds)
	}
	if s.perRecord != "" {
		fmt.Fprintf(&b, "time      %.3f s%s\n", s.Seconds, until)
	} else {
		fmt.Fprintf(&b, "time      %.3f s%s, %s records/s, %.2f MB/s\n",
			s.Seconds, until, formatRate(s.RecordsPerSec), s.MBPerSec)
	}
	if s.RecordsAcked > 0 {
		fmt.Fprintf(&b, "latency   p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms (%s to %s)\n",
			s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.P999, s.LatencyMs.Max, s.latencyFrom, ackedAt)
	}
	// Splits are shown only when there are any: most runs have none, and
	// only a topic's max.message.bytes below the batch size makes them.
	splits := ""
	if s.Splits > 0 {
		splits = ", " + plural(s.Splits, "split")
	}
	fmt.Fprintf(&b, "batches   %s (%.1f records/batch) in %s, %s%s; compression %s, ratio %.2f\n",
		group(s.Batches), s.RecordsPerBatch, plural(s.Requests, "request"), plural(s.Retries, "retry"), splits, s.Compression, s.CompressionRatio)
	idempotence := "idempotent: retries neither duplicate nor reorder"
	if !s.Idempotent {
		idempotence = "not idempotent: a retry may duplicate or reorder records"
	}
	fmt.Fprintf(&b, "producer  acks=%s, %s\n", s.Acks, idempotence)
	if s.TransactionalID != "" {
		fmt.Fprintf(&b, "txns      %s committed, %s aborted (%s), of %s; transactional id %s%s\n",
			group(s.TransactionsCommitted), group(s.TransactionsAborted), plural(s.RecordsAborted, "record"), plural(s.txnSize, "record"), s.TransactionalID,
			s.notEnded())
	}
	if s.perRecord != "" {
		fmt.Fprintf(&b, "cpu       %.3f s (%s)\n", s.CPUSeconds, s.perRecord)
	} else {
		fmt.Fprintf(&b, "cpu       %.3f s, %.3f µs/record, %.2f allocs/record\n",
			s.CPUSeconds, s.CPUUsPerRecord, s.AllocsPerRecord)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// notEnded says, for the txns line, what became of the transactions that
// ended neither committed nor aborted, if any.
func (s *summary) notEnded() string {
	if s.TransactionsNotEnded == 0 {
		return ""
	}
	what := "neither committed nor aborted"
	if s.txnOutcomeUnknown {
		what = "of unknown outcome, its commit sent but not confirmed"
	}
	return fmt.Sprintf("; %s %s: its %s acked count as failed (%s)",
		group(s.TransactionsNotEnded), what, plural(s.Errors[txnNotEndedError], "record"), txnNotEndedError)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// successWords are what the lines call a record that succeeded, and the
// moment its latency ends, for a run with acks (as Acks.String writes it).
// With acks=0 the broker answers nothing: the producer completes a record
// once its request is written, and the broker may still drop it (too large,
// say). The JSON keeps its names; the summary and the progress say what was
// known.
func successWords(acks string) (acked, ackedAt string) {
	if acks == producer.AcksNone.String() {
		return "written", "request written"
	}
	return "acked", "ack"
}
