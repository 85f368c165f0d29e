package main

import (
	"fmt"
	"strings"

	producer "github.com/gokafka/producer"
)

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
