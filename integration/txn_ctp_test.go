package integration

// Consume-transform-produce, exactly once, with a real consumer group
// (franz-go's kgo, reading committed records) and our transactional
// producer committing the group's offsets in each transaction
// (SendOffsetsToTransaction with the group's generation and member id).
// The pipeline runs in child processes of the test binary, which the test
// kills (SIGKILL: no Close, no LeaveGroup, a transaction left open) at
// points each child reports on its stdout, and starts again.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/producer"
	"github.com/gokafka/producer/integration/readback"
)

// The child process's settings, from the test that starts it.
const (
	ctpEnvWorker   = "GOKAFKA_CTP_WORKER" // set: this process is a worker
	ctpEnvBrokers  = "GOKAFKA_CTP_BROKERS"
	ctpEnvIn       = "GOKAFKA_CTP_IN"
	ctpEnvOut      = "GOKAFKA_CTP_OUT"
	ctpEnvGroup    = "GOKAFKA_CTP_GROUP"
	ctpEnvTxnID    = "GOKAFKA_CTP_TXNID"
	ctpEnvPerTxn   = "GOKAFKA_CTP_PER_TXN"
	ctpEnvStopAt   = "GOKAFKA_CTP_STOP_AT" // "open N", "between N" or "" (run to the end)
	ctpLinePrefix  = "ctp: "
	ctpInputs      = 600
	ctpPartitions  = 3
	ctpPerTxn      = 40
	ctpWorkerLimit = 2 * time.Minute
)

// A pipeline copies every input record to the output topic (same key, the
// value prefixed, the same partition) in transactions of at most 40
// records, each committing the group's offsets with the output. Its first
// run is killed with a transaction open (outputs written, offsets sent,
// not committed) after 3 commits; the second between two transactions,
// after 2 more commits, with records fetched and not yet processed; the
// third runs to the end. A read_committed consumer of the output then sees
// every input exactly once, in its partition's order; the aborted outputs
// of the first run are in the log (read_uncommitted sees them), so the
// crash did leave a transaction open; and the group's committed offsets
// are the input's end.
func TestTxnConsumeTransformProduce(t *testing.T) {
	if os.Getenv(ctpEnvWorker) != "" {
		t.Skip("a worker process runs TestTxnCTPWorker only")
	}
	forEachTxnProtocol(t, func(t *testing.T, seeds []string, proto txnProtocol) {
		in, out := newTopic(t, seeds, ctpPartitions), newTopic(t, seeds, ctpPartitions)
		inputs := ctpProduceInputs(t, seeds, in)
		env := []string{
			ctpEnvWorker + "=1",
			ctpEnvBrokers + "=" + strings.Join(seeds, ","),
			ctpEnvIn + "=" + in, ctpEnvOut + "=" + out,
			ctpEnvGroup + "=" + txnID(t, "group"),
			ctpEnvTxnID + "=" + txnID(t, "ctp"),
			ctpEnvPerTxn + "=" + strconv.Itoa(ctpPerTxn),
		}

		runs := []struct{ stopAt, what string }{
			{"open 3", "killed with a transaction open, after 3 commits"},
			{"between 2", "killed between transactions, after 2 more commits"},
			{"", "run to the end"},
		}
		committed := 0
		for _, run := range runs {
			n := ctpRunWorker(t, append(env, ctpEnvStopAt+"="+run.stopAt), proto, run.stopAt != "")
			t.Logf("worker %s: %d transactions committed", run.what, n)
			committed += n
		}

		got := readCommitted(t, seeds, out, ctpInputs)
		byPartition := map[int32][]string{}
		for _, r := range got {
			byPartition[r.Partition] = append(byPartition[r.Partition], strings.TrimPrefix(string(r.Value), "out-"))
		}
		for p, want := range inputs {
			require.Equal(t, want, byPartition[p], "output partition %d: every input of partition %d once, in order", p, p)
		}
		all := ctpCount(t, seeds, out)
		require.Greater(t, all, ctpInputs, "the first worker's open transaction wrote outputs that were aborted")
		ctpRequireCommittedOffsets(t, seeds, env, in)
		t.Logf("%s: %d inputs, %d transactions committed over 3 runs (2 killed), %d output records in the log of which %d aborted",
			proto.name, ctpInputs, committed, all, all-ctpInputs)
	})
}

// ctpProduceInputs writes the input records, keyed, and returns each
// partition's values in offset order.
func ctpProduceInputs(t *testing.T, seeds []string, topic string) map[int32][]string {
	t.Helper()
	p := newProducer(t, seeds, nil)
	recs := make([]*producer.Record, ctpInputs)
	for i := range recs {
		recs[i] = &producer.Record{Topic: topic, Key: []byte(strconv.Itoa(i % 50)), Value: []byte(fmt.Sprintf("in-%04d", i))}
	}
	outs := produceAll(t, p, recs)
	requireAllAcked(t, outs)
	byOffset := map[int32]map[int64]string{}
	for i, o := range outs {
		if byOffset[o.md.Partition] == nil {
			byOffset[o.md.Partition] = map[int64]string{}
		}
		byOffset[o.md.Partition][o.md.Offset] = string(recs[i].Value)
	}
	inputs := map[int32][]string{}
	for part, m := range byOffset {
		for off := range int64(len(m)) {
			v, ok := m[off]
			require.True(t, ok, "input partition %d has no record at offset %d", part, off)
			inputs[part] = append(inputs[part], v)
		}
	}
	return inputs
}

// ctpRunWorker runs one worker process until it stops where it was told to
// (then it is killed) or finishes, and returns the transactions it
// committed.
func ctpRunWorker(t *testing.T, env []string, proto txnProtocol, kill bool) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTxnCTPWorker$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())

	// The reader hands lines over until stop closes, and then reads on,
	// discarding, so that it never blocks on a line nobody takes; the pipe
	// ends once the worker has exited. Wait comes after the reader is done
	// (os/exec: not before the reads from the pipe have completed).
	lines, stop, drained := make(chan string), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drained)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	// end kills the worker, unless it has exited, and waits for it; it
	// reports whether Wait returned: only then may stderr be read, which
	// os/exec's copier writes to until then.
	exited := false
	end := func() (waited bool) {
		if exited {
			return true
		}
		exited = true
		_ = cmd.Process.Kill()
		close(stop)
		select {
		case <-drained:
			_ = cmd.Wait()
			return true
		case <-time.After(testTimeout):
			t.Errorf("the killed worker's stdout did not end within %v", testTimeout)
			return false
		}
	}
	defer end()
	deadline := time.After(ctpWorkerLimit)
	commits := 0
	var output []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				<-drained // closed right after lines: the pipe is read to its end
				err := cmd.Wait()
				exited = true
				require.NoError(t, err, "the worker failed; its output:\n%s\n%s", strings.Join(output, "\n"), stderr.String())
				require.False(t, kill, "the worker ended before the point it was to be killed at; its output:\n%s", strings.Join(output, "\n"))
				require.Contains(t, output, ctpLinePrefix+"done", "the worker's output:\n%s", strings.Join(output, "\n"))
				return commits
			}
			output = append(output, line)
			switch {
			case strings.HasPrefix(line, ctpLinePrefix+"protocol "):
				require.Equal(t, ctpLinePrefix+"protocol "+strconv.FormatBool(proto.v2), line, "the worker's transaction protocol (true: v2)")
			case strings.HasPrefix(line, ctpLinePrefix+"committed "):
				commits++
			case line == ctpLinePrefix+"stopped" && kill:
				require.NoError(t, cmd.Process.Kill())
				return commits // the deferred stop drains the pipe, then waits
			}
		case <-deadline:
			written := "(its stderr unread: it did not end)"
			if end() {
				written = stderr.String()
			}
			t.Fatalf("the worker did not finish within %v; its output:\n%s\n%s", ctpWorkerLimit, strings.Join(output, "\n"), written)
		}
	}
}

// TestTxnCTPWorker is the worker process of TestTxnConsumeTransformProduce;
// it runs only in a process that test starts.
func TestTxnCTPWorker(t *testing.T) {
	if os.Getenv(ctpEnvWorker) == "" {
		t.Skip("run by TestTxnConsumeTransformProduce in a child process")
	}
	if err := ctpWork(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// ctpWork is the pipeline: InitTransactions (which aborts what a killed
// predecessor left open), then a group consumer reading committed records
// from the group's committed offsets, then one transaction per poll.
func ctpWork() error {
	ctx, cancel := context.WithTimeout(context.Background(), ctpWorkerLimit)
	defer cancel()
	seeds := strings.Split(os.Getenv(ctpEnvBrokers), ",")
	in, out, group := os.Getenv(ctpEnvIn), os.Getenv(ctpEnvOut), os.Getenv(ctpEnvGroup)
	perTxn, err := strconv.Atoi(os.Getenv(ctpEnvPerTxn))
	if err != nil {
		return err
	}
	stopKind, stopAfter := "", 0
	if s := os.Getenv(ctpEnvStopAt); s != "" {
		if _, err := fmt.Sscanf(s, "%s %d", &stopKind, &stopAfter); err != nil {
			return fmt.Errorf("%s=%q: %w", ctpEnvStopAt, s, err)
		}
	}
	say := func(format string, args ...any) { fmt.Printf(ctpLinePrefix+format+"\n", args...) }

	log := &txnLog{}
	p, err := producer.New(producer.Config{
		Brokers: seeds, TransactionalID: os.Getenv(ctpEnvTxnID), Logger: log.logger(),
		RetryBackoff: 10 * time.Millisecond, RetryBackoffMax: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if err := p.InitTransactions(ctx); err != nil {
		return err
	}
	say("protocol %v", log.protocols()[0])

	cl, err := kgo.NewClient(
		kgo.SeedBrokers(seeds...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(in),
		kgo.InstanceID("ctp-worker"), // a restart takes the killed worker's place at once (KIP-345)
		kgo.SessionTimeout(10*time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.DisableAutoCommit(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	ends, err := ctpEndOffsets(ctx, cl, in)
	if err != nil {
		return err
	}
	commits := 0
	for {
		pollCtx, pollCancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollRecords(pollCtx, perTxn)
		pollCancel()
		if ctx.Err() != nil {
			return fmt.Errorf("after %d commits: %w", commits, ctx.Err())
		}
		var fetchErr error
		fetches.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !kerr.IsRetriable(err) {
				fetchErr = errors.Join(fetchErr, fmt.Errorf("fetching %s/%d: %w", topic, part, err))
			}
		})
		if fetchErr != nil {
			return fetchErr
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			done, err := ctpCaughtUp(ctx, cl, group, in, ends)
			if err != nil {
				return err
			}
			if done {
				say("done")
				return nil
			}
			continue
		}

		if err := p.BeginTransaction(); err != nil {
			return err
		}
		next := map[int32]producer.Offset{}
		results := make(chan error, len(recs))
		for _, r := range recs {
			p.Produce(ctx, &producer.Record{
				Topic: out, Key: r.Key, Value: append([]byte("out-"), r.Value...),
				Partition: r.Partition, ExplicitPartition: true,
			}, func(_ producer.RecordMetadata, err error) { results <- err })
			next[r.Partition] = producer.Offset{Topic: in, Partition: r.Partition, Offset: r.Offset + 1, LeaderEpoch: r.LeaderEpoch}
		}
		if err := p.Flush(ctx); err != nil { // the outputs are in the log before the offsets go
			return err
		}
		for range recs {
			if err := <-results; err != nil {
				return fmt.Errorf("an output record failed: %w", err)
			}
		}
		offsets := make([]producer.Offset, 0, len(next))
		for _, o := range next {
			offsets = append(offsets, o)
		}
		member, generation := cl.GroupMetadata()
		if err := p.SendOffsetsToTransaction(ctx, offsets, producer.GroupMetadata{
			ID: group, Generation: generation, MemberID: member, InstanceID: kmsg.StringPtr("ctp-worker"),
		}); err != nil {
			return err
		}
		if stopKind == "open" && commits == stopAfter {
			say("stopped")
			select {} // until killed, with the transaction open
		}
		if err := p.CommitTransaction(ctx); err != nil {
			return err
		}
		commits++
		say("committed %d records", len(recs))
		if stopKind == "between" && commits == stopAfter {
			say("stopped")
			select {} // until killed, between transactions
		}
	}
}

// ctpEndOffsets is the end offset of each partition of topic.
func ctpEndOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(ctpPartitions) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ListOffsets: %w", err)
	}
	ends := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("ListOffsets %s/%d: %w", t.Topic, p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	return ends, nil
}

// ctpCommitted is the group's committed offset of each partition of topic
// (stable: none pending in a transaction).
func ctpCommitted(ctx context.Context, cl *kgo.Client, group, topic string) (map[int32]int64, error) {
	return ctpCommittedOf(ctx, cl, group, topic, ctpPartitions)
}

// ctpCommittedOf is ctpCommitted of a topic of partitions partitions.
func ctpCommittedOf(ctx context.Context, cl *kgo.Client, group, topic string, partitions int32) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	req.RequireStable = true
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("OffsetFetch: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("OffsetFetch: %w", err)
	}
	got := map[int32]int64{}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("OffsetFetch %s/%d: %w", t.Topic, p.Partition, err)
			}
			got[p.Partition] = p.Offset
		}
	}
	return got, nil
}

// ctpCaughtUp reports whether the group's committed offsets reached ends.
func ctpCaughtUp(ctx context.Context, cl *kgo.Client, group, topic string, ends map[int32]int64) (bool, error) {
	got, err := ctpCommitted(ctx, cl, group, topic)
	if err != nil {
		if errors.Is(err, kerr.UnstableOffsetCommit) {
			return false, nil
		}
		return false, err
	}
	for p, end := range ends {
		if got[p] < end {
			return false, nil
		}
	}
	return true, nil
}

// ctpRequireCommittedOffsets requires the group's committed offsets to be
// the input's end offsets.
func ctpRequireCommittedOffsets(t *testing.T, seeds []string, env []string, in string) {
	t.Helper()
	group := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, ctpEnvGroup+"="); ok {
			group = v
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := ctpEndOffsets(testCtx(t), cl, in)
	require.NoError(t, err)
	got, err := ctpCommitted(testCtx(t), cl, group, in)
	require.NoError(t, err)
	require.Equal(t, ends, got, "the group's committed offsets are the input's end")
}

// ctpCount is how many records topic holds, aborted ones included.
func ctpCount(t *testing.T, seeds []string, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	got, err := readback.ReadAll(ctx, seeds, topic, ctpInputs)
	require.NoError(t, err, "reading back %s (read_uncommitted)", topic)
	return len(got)
}
