package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/producer/integration/embedded"
)

// Kafka codes that stop an idempotent or transactional producer for good.
const (
	clusterAuthorizationFailed = 31
	invalidProducerIDMapping   = 49
)

// stoppedEarly is the start of the line kprod prints when the producer can
// send nothing more.
const stoppedEarly = "stopped early: the producer can send nothing more"

// stoppingCluster is an embedded cluster with a topic of one partition
// whose first Produce is answered code, which stops the producer for good.
func stoppingCluster(t *testing.T, code int16) (brokers, topic string) {
	t.Helper()
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	topic = uniqueTopic("stopped")
	if err := cluster.CreateTopic(topic, 1); err != nil {
		t.Fatal(err)
	}
	cluster.FailNextProduce(1, code)
	return strings.Join(cluster.Addrs(), ","), topic
}

// checkStoppedEarly checks that a run of total records whose producer was
// stopped for good handed over no more records once it knew, and said why,
// on stderr and in the JSON summary.
func checkStoppedEarly(t *testing.T, r result, total int64) summary {
	t.Helper()
	s := parseSummary(t, r)
	if r.code != exitFailed {
		t.Errorf("exit %d, want %d", r.code, exitFailed)
	}
	if s.RecordsSent >= total {
		t.Errorf("all %d records were handed to a producer stopped at its first answer, %d failing", s.RecordsSent, s.RecordsFailed)
	}
	if s.RecordsAcked+s.RecordsFailed != s.RecordsSent {
		t.Errorf("acked %d + failed %d != sent %d", s.RecordsAcked, s.RecordsFailed, s.RecordsSent)
	}
	if !strings.Contains(r.stderr, stoppedEarly) {
		t.Errorf("stderr does not say %q", stoppedEarly)
	}
	if !strings.HasPrefix(s.Error, stoppedEarly) {
		t.Errorf("the summary's error is %q, want %q...", s.Error, stoppedEarly)
	}
	if t.Failed() {
		t.Logf("errors %v\nstderr:\n%s", s.Errors, r.stderr)
	}
	return s
}

// A paced perf run whose producer the cluster stops for good at its first
// Produce answer stops handing records over, which could only fail, rather
// than failing them on schedule until the run's end (3,000 at 100/s: 30 s).
func TestAPacedPerfRunStopsWhenTheProducerIsStoppedForGood(t *testing.T) {
	t.Parallel() // before the fix it ran 30 s; the others run meanwhile
	brokers, topic := stoppingCluster(t, clusterAuthorizationFailed)
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--num-records", "3000", "--throughput", "100",
		"--linger", "0", "--json", "--progress", "never")
	s := checkStoppedEarly(t, r, 3000)
	if s.Errors["PRODUCER_STOPPED"] == 0 {
		t.Errorf("no PRODUCER_STOPPED in %v", s.Errors)
	}
}

// A transactional perf run whose producer a Produce answer stops for good
// (INVALID_PRODUCER_ID_MAPPING) stops too: its later calls can only fail
// with ErrTransactionFatal.
func TestATransactionalPerfRunStopsWhenAProduceAnswerStopsTheProducer(t *testing.T) {
	t.Parallel()
	brokers, topic := stoppingCluster(t, invalidProducerIDMapping)
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--num-records", "3000", "--throughput", "100",
		"--linger", "0", "--transactional-id", uniqueTopic("txn-id"), "--txn-size", "100", "--json", "--progress", "never")
	checkStoppedEarly(t, r, 3000)
}

// produce reading a stream that stays open (tail -f | kprod produce) stops
// reading once the producer is stopped for good, where every line read
// would fail, for ever.
func TestProduceFromAnOpenStreamEndsWhenTheProducerIsStoppedForGood(t *testing.T) {
	t.Parallel()
	brokers, topic := stoppingCluster(t, clusterAuthorizationFailed)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, kprodBin, "produce", "-b", brokers, "-t", topic, "--linger", "0", "--json", "--progress", "never")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 5 * time.Second
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cmd.Stdin = in
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.Close()
	go func() {
		// A line every 100 ms, as a log being tailed, until kprod exits.
		for ctx.Err() == nil {
			if _, err := io.WriteString(w, "line\n"); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("kprod produce still running after %v, though its producer was stopped for good at its first answer\nstderr:\n%s", runTimeout, stderr.String())
	}
	if !exitedFailed(err) {
		t.Errorf("exit %v, want %d", err, exitFailed)
	}
	if !strings.Contains(stderr.String(), stoppedEarly) {
		t.Errorf("stderr does not say %q:\n%s", stoppedEarly, stderr.String())
	}
}
