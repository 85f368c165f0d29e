package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/integration/readback"
)

// readCommitted reads topic as a consumer of committed records does,
// requiring exactly n records.
func readCommitted(t *testing.T, brokers, topic string, n int) []readback.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), consumeTimeout)
	defer cancel()
	recs, err := readback.ReadAll(ctx, strings.Split(brokers, ","), topic, n, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("read %d committed records of %s, want %d", len(recs), topic, n)
	}
	return recs
}

// perf with --transactional-id commits every --txn-size records and aborts
// every --txn-abort-every-th transaction once its records are written: the
// summary counts both, a consumer of committed records sees the committed
// ones only, and one of all records sees every record.
func transactionalPerf(t *testing.T, brokers string) {
	topic := uniqueTopic("txn-perf")
	// 10,500 records: ten transactions of 1,000 and a last one of 500;
	// the 3rd, 6th and 9th are aborted.
	args := []string{"perf", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "3", "--num-records", "10500",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "1000", "--txn-abort-every", "3"}
	r := runKprod(t, "", append(args, "--json")...)
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	s := parseSummary(t, r)
	if s.TransactionsCommitted != 8 || s.TransactionsAborted != 3 || s.RecordsAborted != 3000 ||
		s.RecordsAcked != 10500 || s.RecordsFailed != 0 || !strings.HasPrefix(s.TransactionalID, "kprod-test-txn-id-") {
		t.Errorf("summary: %d committed, %d aborted (%d records), %d acked, %d failed, id %q; want 8, 3 (3,000), 10,500, 0",
			s.TransactionsCommitted, s.TransactionsAborted, s.RecordsAborted, s.RecordsAcked, s.RecordsFailed, s.TransactionalID)
	}
	readCommitted(t, brokers, topic, 7500)
	consume(t, brokers, topic, 10500) // read_uncommitted: the aborted records were written

	// The human summary says the same.
	args[5] = uniqueTopic("txn-perf-human")
	r = runKprod(t, "", args...)
	if want := "txns      8 committed, 3 aborted (3,000 records), of 1,000 records; transactional id kprod-test-txn-id-"; r.code != exitOK || !strings.Contains(r.stdout, want) {
		t.Errorf("exit %d, summary:\n%s\nwant a line starting %q", r.code, r.stdout, want)
	}
}

func TestTransactionalPerf(t *testing.T) { transactionalPerf(t, sharedBroker(t)) }

func TestRealBrokerTransactionalPerf(t *testing.T) { transactionalPerf(t, realBrokers(t)) }

// produce with transactions of 3 lines, every 2nd aborted: of 10 lines,
// lines 1-3 and 7-9 are committed, and read back in order; 4-6 and 10 are
// written and aborted. The last transaction, short, ends with the input.
func TestTransactionalProduce(t *testing.T) {
	brokers := sharedBroker(t)
	topic := uniqueTopic("txn-produce")
	var in strings.Builder
	for i := 1; i <= 10; i++ {
		in.WriteString("line-" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "\n")
	}
	r := runKprod(t, in.String(), "produce", "-b", brokers, "--create-topic", "-t", topic, "--partitions", "1",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "3", "--txn-abort-every", "2", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	s := parseSummary(t, r)
	if s.TransactionsCommitted != 2 || s.TransactionsAborted != 2 || s.RecordsAborted != 4 || s.RecordsAcked != 10 {
		t.Errorf("summary: %d committed, %d aborted (%d records), %d acked; want 2, 2 (4), 10",
			s.TransactionsCommitted, s.TransactionsAborted, s.RecordsAborted, s.RecordsAcked)
	}
	var got []string
	for _, rec := range readCommitted(t, brokers, topic, 6) {
		got = append(got, string(rec.Value))
	}
	if want := "line-01 line-02 line-03 line-07 line-08 line-09"; strings.Join(got, " ") != want {
		t.Errorf("committed records %q, want %q", strings.Join(got, " "), want)
	}
}

// A transaction aborted because a record of it failed (here one larger
// than --max-request-size: the commit fails, and kprod aborts) counts among
// the aborted, and of its records, records_aborted counts those the broker
// wrote, as README says, not every record handed to it: here none, the
// others failing with the transaction. It counted all 3 as aborted, of 0
// acked.
func TestATransactionAbortedForAFailedRecordCountsOnlyTheRecordsWritten(t *testing.T) {
	in := "a\n" + strings.Repeat("x", 3000) + "\nc\n"
	r := runKprod(t, in, "produce", "-b", sharedBroker(t), "-t", uniqueTopic("txn-failed"), "--create-topic", "--partitions", "1",
		"--transactional-id", uniqueTopic("txn-id"), "--txn-size", "3", "--max-request-size", "2000", "--batch-size", "1000", "--json")
	if r.code != exitFailed || !strings.Contains(r.stderr, "committing transaction 1") {
		t.Fatalf("exit %d, want %d with the commit's failure\nstderr:\n%s", r.code, exitFailed, r.stderr)
	}
	s := parseSummary(t, r)
	if s.TransactionsAborted != 1 || s.RecordsAborted != s.RecordsAcked || s.RecordsFailed < 1 {
		t.Errorf("summary: %d aborted (%d records), %d acked, %d failed (%v); want 1 aborted, its records those acked",
			s.TransactionsAborted, s.RecordsAborted, s.RecordsAcked, s.RecordsFailed, s.Errors)
	}
}

// Without --transactional-id the summary has no transactions.
func TestSummaryWithoutTransactions(t *testing.T) {
	r := runKprod(t, "", "perf", "-b", sharedBroker(t), "--create-topic", "-t", uniqueTopic("no-txn"), "--num-records", "2000", "--json")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.TransactionalID != "" || s.TransactionsCommitted != 0 || s.TransactionsAborted != 0 {
		t.Errorf("summary %+v", s)
	}
	if r := runKprod(t, "", "perf", "-b", sharedBroker(t), "--create-topic", "-t", uniqueTopic("no-txn"), "--num-records", "2000"); strings.Contains(r.stdout, "txns") {
		t.Errorf("a txns line without transactions:\n%s", r.stdout)
	}
}

// clusterFailingEndTxn starts a cluster whose coordinator answers every
// EndTxn after the first pass with an error neither retriable nor fencing:
// a commit with commitErr, an abort with TRANSACTION_ABORTABLE (the
// transaction still to abort, not ended); with
// lostFirst, the first of them it drops unanswered with its connection
// instead. It returns the brokers and a count of the EndTxn requests.
func clusterFailingEndTxn(t *testing.T, pass int32, commitErr *kerr.Error, lostFirst bool) (string, *atomic.Int32) {
	t.Helper()
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	fake := cluster.Kfake()
	var endTxns atomic.Int32
	fake.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if endTxns.Add(1) <= pass {
			return nil, nil, false // the broker answers it
		}
		fake.KeepControl()
		if lostFirst {
			lostFirst = false
			return nil, errors.New("dropped unanswered"), true
		}
		resp := req.ResponseKind().(*kmsg.EndTxnResponse)
		resp.ErrorCode = kerr.TransactionAbortable.Code
		if req.(*kmsg.EndTxnRequest).Commit {
			resp.ErrorCode = commitErr.Code
		}
		return resp, nil, true
	})
	return strings.Join(cluster.Addrs(), ","), &endTxns
}

// A transaction whose commit fails (the coordinator refuses it:
// TRANSACTION_ABORTABLE) and whose abort fails too ends neither committed
// nor aborted: its records, though the broker wrote them, count as failed,
// not acked, whether they came by Produce or, with --sync, by Send. Of 15
// records in transactions of 5, the first 5 are committed, the next 5 are
// in the transaction that does not end, and the last 5 are refused, the
// transactions having stopped.
func TestATransactionNeitherCommittedNorAbortedCountsItsRecordsFailed(t *testing.T) {
	for _, mode := range [][]string{nil, {"--sync", "--concurrency", "3"}} {
		brokers, endTxns := clusterFailingEndTxn(t, 1, kerr.TransactionAbortable, false)
		args := append([]string{"perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("txn-not-ended"),
			"--num-records", "15", "--transactional-id", uniqueTopic("txn-id"), "--txn-size", "5", "--json"}, mode...)
		r := runKprod(t, "", args...)
		if r.code != exitFailed || !strings.Contains(r.stderr, "committing transaction 2") {
			t.Fatalf("%v: exit %d, want %d with the commit's failure\nstderr:\n%s", mode, r.code, exitFailed, r.stderr)
		}
		if endTxns.Load() < 3 {
			t.Fatalf("%v: %d EndTxn requests, want a commit, a commit and an abort", mode, endTxns.Load())
		}
		s := parseSummary(t, r)
		if s.TransactionsCommitted != 1 || s.TransactionsAborted != 0 || s.TransactionsNotEnded != 1 ||
			s.RecordsAcked != 5 || s.RecordsFailed != 10 || s.Errors[txnNotEndedError] != 5 {
			t.Errorf("%v: summary: %d committed, %d aborted, %d not ended, %d acked, %d failed (%v); want 1, 0, 1, 5, 10 (%s 5)",
				mode, s.TransactionsCommitted, s.TransactionsAborted, s.TransactionsNotEnded, s.RecordsAcked, s.RecordsFailed, s.Errors, txnNotEndedError)
		}
	}

	brokers, _ := clusterFailingEndTxn(t, 0, kerr.TransactionAbortable, false)
	r := runKprod(t, "", "perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("txn-not-ended-human"),
		"--num-records", "10", "--transactional-id", uniqueTopic("txn-id"), "--txn-size", "10")
	for _, want := range []string{
		"records   10 sent, 0 acked, 10 failed",
		"txns      0 committed, 0 aborted (0 records), of 10 records; transactional id kprod-test-txn-id-",
		"; 1 neither committed nor aborted: its 10 records acked count as failed (" + txnNotEndedError + ")",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary:\n%s\nwant %q", r.stdout, want)
		}
	}
}

// A commit that fails once its EndTxn was sent, an attempt of it having
// gone unanswered (here its connection is dropped, and the retry answered
// UNKNOWN_SERVER_ERROR), may have committed the transaction: the
// library refuses to abort it, and kprod says its outcome is unknown rather
// than that it ended neither committed nor aborted, counting its records
// failed as for a transaction not ended. No abort is sent.
func TestATransactionWhoseCommitWasSentHasAnUnknownOutcome(t *testing.T) {
	brokers, endTxns := clusterFailingEndTxn(t, 1, kerr.UnknownServerError, true)
	r := runKprod(t, "", "perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("txn-unknown"),
		"--num-records", "15", "--transactional-id", uniqueTopic("txn-id"), "--txn-size", "5", "--json")
	if r.code != exitFailed || !strings.Contains(r.stderr, "committing transaction 2, left unaborted") ||
		!strings.Contains(r.stderr, "outcome is unknown") {
		t.Fatalf("exit %d, want %d with the commit's failure, its outcome unknown\nstderr:\n%s", r.code, exitFailed, r.stderr)
	}
	if n := endTxns.Load(); n != 3 {
		t.Errorf("%d EndTxn requests, want a commit, a commit sent twice and no abort", n)
	}
	s := parseSummary(t, r)
	if s.TransactionsCommitted != 1 || s.TransactionsAborted != 0 || s.TransactionsNotEnded != 1 ||
		s.RecordsAcked != 5 || s.RecordsFailed != 10 || s.Errors[txnNotEndedError] != 5 {
		t.Errorf("summary: %d committed, %d aborted, %d not ended, %d acked, %d failed (%v); want 1, 0, 1, 5, 10 (%s 5)",
			s.TransactionsCommitted, s.TransactionsAborted, s.TransactionsNotEnded, s.RecordsAcked, s.RecordsFailed, s.Errors, txnNotEndedError)
	}

	brokers, _ = clusterFailingEndTxn(t, 0, kerr.UnknownServerError, true)
	r = runKprod(t, "", "perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("txn-unknown-human"),
		"--num-records", "10", "--transactional-id", uniqueTopic("txn-id"), "--txn-size", "10")
	if want := "; 1 of unknown outcome, its commit sent but not confirmed: its 10 records acked count as failed (" + txnNotEndedError + ")"; !strings.Contains(r.stdout, want) {
		t.Errorf("summary:\n%s\nwant %q", r.stdout, want)
	}
}
