package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	producer "github.com/gokafka/producer"
	"github.com/gokafka/producer/conn"
	"github.com/gokafka/producer/integration/embedded"
	"github.com/gokafka/producer/protocol"
	"github.com/gokafka/producer/protocol/kerr"
)

// On a cluster kprod did not start, a missing topic is an error, not a
// topic created from a typo; --create-topic creates it.
func TestMissingTopicNeedsCreateTopic(t *testing.T) { missingTopicNeedsCreateTopic(t, sharedBroker(t)) }

func TestRealBrokerMissingTopicNeedsCreateTopic(t *testing.T) {
	missingTopicNeedsCreateTopic(t, realBrokers(t))
}

func missingTopicNeedsCreateTopic(t *testing.T, brokers string) {
	topic := uniqueTopic("missing")
	for range 2 { // the first attempt must not have created it
		r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--num-records", "10")
		if r.code != exitFailed || !strings.Contains(r.stderr, "topic "+topic+" does not exist; --create-topic creates it") {
			t.Fatalf("exit %d, stderr:\n%s\nwant a missing-topic error", r.code, r.stderr)
		}
	}
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "2", "--num-records", "10", "--json")
	if r.code != exitOK || !strings.Contains(r.stderr, "created topic "+topic+" (2 partitions") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	// Now it exists, --create-topic is harmless and not needed.
	for _, args := range [][]string{{"--create-topic"}, {}} {
		r = runKprod(t, "", append([]string{"perf", "-b", brokers, "-t", topic, "--num-records", "10"}, args...)...)
		if r.code != exitOK || strings.Contains(r.stderr, "created topic") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, r.code, r.stderr)
		}
	}
}

// An explicit --partitions or --replication-factor that an existing topic
// does not have is an error, not silently ignored; the same count is fine.
func TestPartitionsMustMatchExistingTopic(t *testing.T) { partitionsMustMatch(t, sharedBroker(t)) }

func TestRealBrokerPartitionsMustMatchExistingTopic(t *testing.T) {
	partitionsMustMatch(t, realBrokers(t))
}

func partitionsMustMatch(t *testing.T, brokers string) {
	topic := uniqueTopic("partitions")
	if r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "2", "--num-records", "10"); r.code != exitOK {
		t.Fatalf("creating: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r := runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "3", "--num-records", "10")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--partitions: topic "+topic+" exists with 2 partitions, not 3") {
		t.Errorf("exit %d, stderr:\n%s\nwant a --partitions usage error", r.code, r.stderr)
	}
	r = runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--replication-factor", "2", "--num-records", "10")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--replication-factor: topic "+topic+" exists with 1 replica per partition, not 2") {
		t.Errorf("exit %d, stderr:\n%s\nwant a --replication-factor usage error", r.code, r.stderr)
	}
	r = runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--partitions", "2", "--replication-factor", "1", "--num-records", "10")
	if r.code != exitOK {
		t.Errorf("matching --partitions and --replication-factor: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// produce --partition past the topic's last partition is a usage error
// before the first record, from the partition count kprod reads before
// producing: it was every record failing after the whole --max-block.
func TestAPartitionPastTheTopicsLastIsAUsageErrorBeforeAnyRecord(t *testing.T) {
	brokers := sharedBroker(t)
	topic := uniqueTopic("partition-range")
	if r := runKprod(t, "", "produce", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "3"); r.code != exitOK {
		t.Fatalf("creating: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r := runKprod(t, "a\nb\n", "produce", "-b", brokers, "-t", topic, "-p", "3", "--max-block", "15s")
	want := "--partition: 3 is not a partition of topic " + topic + ", which has 3 partitions (0 to 2)"
	if r.code != exitUsage || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "producing") {
		t.Errorf("exit %d, stderr:\n%s\nwant a usage error before producing, %q", r.code, r.stderr, want)
	}
	if r := runKprod(t, "a\n", "produce", "-b", brokers, "-t", topic, "-p", "2"); r.code != exitOK {
		t.Errorf("--partition 2, the last: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// produce --partition 0 puts every record in partition 0, whatever its
// key would choose, as --partition does any other: keys that the
// partitioner spreads over the three partitions all land in the first.
// Taken for -1, "the partitioner chooses", it would be a flag ignored.
func TestPartitionZeroIsAPartition(t *testing.T) {
	brokers := sharedBroker(t)
	topic := uniqueTopic("partition-zero")
	mustProduce(t, "k1:a\nk2:b\nk3:c\nk4:d\nk5:e\nk6:f\n", "-b", brokers, "-t", topic, "--create-topic",
		"--partitions", "3", "-K", ":", "-p", "0")
	for _, r := range readBack(t, brokers, topic, 6) {
		if r.Partition != 0 {
			t.Errorf("record %s in partition %d, want 0", describe(r), r.Partition)
		}
	}
}

// A topic of one partition is said in the singular, where kprod said
// "(1 partitions, ...)" and "exists with 1 partitions" (and "1 replicas
// per partition": partitionsMustMatch).
func TestATopicOfOnePartitionIsSaidInTheSingular(t *testing.T) {
	brokers := sharedBroker(t)
	topic := uniqueTopic("one-partition")
	r := runKprod(t, "", "produce", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "1")
	if want := "created topic " + topic + " (1 partition, replication factor 1)"; r.code != exitOK || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
	}
	r = runKprod(t, "", "produce", "-b", brokers, "-t", topic, "--partitions", "2")
	if want := "--partitions: topic " + topic + " exists with 1 partition, not 2"; r.code != exitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %q", r.code, r.stderr, want)
	}
}

// A topic kprod would create of --partitions N refuses --partition N or
// past it before it is created: it was created, then the run refused.
func TestAPartitionPastTheLastOfATopicToCreateIsRefusedBeforeCreatingIt(t *testing.T) {
	brokers := sharedBroker(t)
	topic := uniqueTopic("partition-create")
	r := runKprod(t, "a\n", "produce", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "3", "-p", "5")
	want := "--partition: 5 is not a partition of topic " + topic + ", which would have 3 partitions (0 to 2)"
	if r.code != exitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant only the usage error %q", r.code, r.stderr, want)
	}
	r = runKprod(t, "a\n", "produce", "-b", brokers, "-t", topic)
	if !strings.Contains(r.stderr, "topic "+topic+" does not exist") {
		t.Errorf("the refused run created the topic: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// -X allow.auto.create.topics=true asks the broker to create the topic, as
// the Java producer's setting does, where the broker allows it.
func TestAllowAutoCreateTopics(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := strings.Join(cluster.Addrs(), ",")
	r := runKprod(t, "", "perf", "-b", brokers, "-t", "auto", "--num-records", "10")
	if r.code != exitFailed || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("without the setting: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	r = runKprod(t, "", "perf", "-b", brokers, "-t", "auto", "--num-records", "10", "-X", "allow.auto.create.topics=true", "--json")
	if r.code != exitOK {
		t.Fatalf("with it: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if s := parseSummary(t, r); s.RecordsAcked != 10 {
		t.Errorf("acked %d, want 10", s.RecordsAcked)
	}
}

// Kafka 4.3.1 answers the metadata request that has it create a topic
// UNKNOWN_TOPIC_OR_PARTITION, where kfake answers with the new topic. kprod
// then waits for the topic the broker creates; with --create-topic it asks
// for no auto-creation, and creates the topic with the partitions asked
// for rather than racing the broker's num.partitions. A broker that does
// not create it leaves kprod waiting --max-block, as the producer would.
func TestAllowAutoCreateTopicsAsKafkaAnswersIt(t *testing.T) {
	for _, tc := range []struct {
		name       string
		autoCreate bool // the broker's auto.create.topics.enable
		args       []string
		code       int
		want       string
	}{
		{"auto-created", true, nil, exitOK, "producing 10 records of 100 bytes to topic %s"},
		{"--create-topic", true, []string{"--create-topic", "--partitions", "3"}, exitOK, "created topic %s (3 partitions"},
		{"refused", false, []string{"-X", "max.block.ms=300"}, exitFailed,
			"topic %s does not exist, and the broker did not create it within 300ms as allow.auto.create.topics asks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cluster, err := embedded.Start(embedded.Options{AutoCreateTopics: tc.autoCreate})
			if err != nil {
				t.Fatal(err)
			}
			defer cluster.Close()
			topic := uniqueTopic("autocreated")
			if tc.autoCreate {
				answerAutoCreationAsKafka(t, cluster, topic)
			}
			args := append([]string{"perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--num-records", "10",
				"-X", "allow.auto.create.topics=true"}, tc.args...)
			r := runKprod(t, "", args...)
			if want := fmt.Sprintf(tc.want, topic); r.code != tc.code || !strings.Contains(r.stderr, want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d with %q", r.code, r.stderr, tc.code, want)
			}
		})
	}
}

// A wait for an auto-created topic that runs out while a poll is still at
// the broker says that the broker did not create the topic, as one that
// runs out between polls does: the last answer said it did not exist.
// Before, it said only that the poll's request ran out of time, which a
// loaded machine made the usual end of a 300 ms wait. The wait here is 2 s,
// so that its first poll, 20 ms in, reaches the broker whatever the load.
func TestAWaitForAnAutoCreatedTopicEndingDuringAPollSaysTheBrokerDidNotCreateIt(t *testing.T) {
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	topic := uniqueTopic("autocreated")
	// The first request for the topic is answered (unknown); the second,
	// the wait's first poll, is held until kprod has exited.
	released := make(chan struct{})
	defer close(released)
	var asked atomic.Int32
	cluster.Kfake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.Kfake().KeepControl()
		mr := req.(*kmsg.MetadataRequest)
		if slices.ContainsFunc(mr.Topics, func(rt kmsg.MetadataRequestTopic) bool { return rt.Topic != nil && *rt.Topic == topic }) &&
			asked.Add(1) == 2 {
			cluster.Kfake().SleepControl(func() { <-released })
		}
		return nil, nil, false
	})
	r := runKprod(t, "", "perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--num-records", "10",
		"-X", "allow.auto.create.topics=true", "-X", "max.block.ms=2000")
	want := fmt.Sprintf("topic %s does not exist, and the broker did not create it within 2s", topic)
	if r.code != exitFailed || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d with %q", r.code, r.stderr, exitFailed, want)
	}
	if n := asked.Load(); n < 2 {
		t.Errorf("the broker was asked for the topic %d times: the wait's poll was not held", n)
	}
}

// An interrupt (the run's ctx ending) during the wait for a topic the
// broker is to create says so, not that the broker did not create it
// within the wait: that message named the whole wait (1m0s) after an
// interrupt 200ms in. The errors are awaitLeaders' as its ctx ends with
// the topic still unknown: the run's ctx, or the wait's own deadline.
func TestAnInterruptedWaitForAnAutoCreatedTopicSaysItWasInterrupted(t *testing.T) {
	interrupted, interrupt := context.WithCancel(context.Background())
	interrupt()
	err := fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.Canceled)
	if got := notAutoCreated(interrupted, err, "t", time.Minute); got != err {
		t.Errorf("interrupted: %v; want awaitLeaders' error, the interrupt, as it is", got)
	}
	err = fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.DeadlineExceeded)
	want := "topic t does not exist, and the broker did not create it within 1m0s"
	if got := notAutoCreated(context.Background(), err, "t", time.Minute); !strings.Contains(got.Error(), want) {
		t.Errorf("the wait ran out: %v; want %q", got, want)
	}
}

// With the default --max-block, the wait for an auto-created topic is as
// long as ensureTopic's topicTimeout, begun before it, which then ends it
// first: its ctx has run out too, and that is no interrupt. The hint that
// the broker did not create the topic was lost, for awaitLeaders' error.
func TestAWaitForAnAutoCreatedTopicEndedByTheTopicTimeoutSaysTheBrokerDidNotCreateIt(t *testing.T) {
	timedOut, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-timedOut.Done()
	err := fmt.Errorf("topic t: %w: %w", kerr.UnknownTopicOrPartition, context.DeadlineExceeded)
	want := "did not create it within 1m0s as allow.auto.create.topics asks"
	if got := notAutoCreated(timedOut, err, "t", time.Minute); !strings.Contains(got.Error(), want) {
		t.Errorf("got %q; want %q", got, want)
	}
}

// answerAutoCreationAsKafka scripts the broker's answer to the first
// metadata request naming topic as Kafka 4.3.1 answers it when the request
// asks for the topic's creation: it creates the topic, with the broker's
// num.partitions, and says the topic is unknown.
func answerAutoCreationAsKafka(t *testing.T, cluster *embedded.Cluster, topic string) {
	cluster.Kfake().ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mr := req.(*kmsg.MetadataRequest)
		if !slices.ContainsFunc(mr.Topics, func(rt kmsg.MetadataRequestTopic) bool { return rt.Topic != nil && *rt.Topic == topic }) {
			return nil, nil, false // another request: the control stays
		}
		cluster.Kfake().DropControl()
		if !mr.AllowAutoTopicCreation {
			return nil, nil, false // the broker answers: unknown
		}
		// kfake serves administrative calls while a control function
		// runs, from another goroutine.
		created := make(chan error, 1)
		go func() { created <- cluster.CreateTopic(topic, 0) }()
		if err := <-created; err != nil {
			t.Error(err)
		}
		resp := mr.ResponseKind().(*kmsg.MetadataResponse)
		unknown := kmsg.NewMetadataResponseTopic()
		unknown.Topic = kmsg.StringPtr(topic)
		unknown.ErrorCode = kerr.UnknownTopicOrPartition.Code
		resp.Topics = append(resp.Topics, unknown)
		return resp, nil, true
	})
}

// A topic another client creates between kprod's metadata request and its
// CreateTopics (TOPIC_ALREADY_EXISTS) is checked as one that existed
// before the run: --partitions it does not have is a usage error, and kprod
// does not say it created it. The cluster creates it, with 2 partitions,
// as kprod's CreateTopics arrives.
func TestCreateTopicChecksATopicAnotherClientCreatedFirst(t *testing.T) {
	for _, tc := range []struct {
		partitions string
		code       int
		want       string
	}{
		{"3", exitUsage, "--partitions: topic %s exists with 2 partitions, not 3"},
		{"2", exitOK, "topic %s exists: another client created it first"},
	} {
		cluster, err := embedded.Start(embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer cluster.Close()
		topic := uniqueTopic("raced")
		created := make(chan error, 1)
		cluster.Kfake().ControlKey(int16(kmsg.CreateTopics), func(kmsg.Request) (kmsg.Response, error, bool) {
			// kfake serves administrative calls while a control function
			// runs, from another goroutine.
			go func() { created <- cluster.CreateTopic(topic, 2) }()
			if err := <-created; err != nil {
				t.Error(err)
			}
			return nil, nil, false // the broker answers: it exists
		})
		r := runKprod(t, "", "perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--create-topic",
			"--partitions", tc.partitions, "--num-records", "10")
		want := fmt.Sprintf(tc.want, topic)
		if r.code != tc.code || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "created topic") {
			t.Errorf("--partitions %s: exit %d, stderr:\n%s\nwant exit %d with %q and no 'created topic'", tc.partitions, r.code, r.stderr, tc.code, want)
		}
	}
}

// The broker's explanation of a CreateTopics refusal reaches kprod's error,
// and the terminal, quoted, control characters escaped, and cut after 512
// bytes. Before, an escape sequence in it ran on the terminal, a line break
// faked a line of kprod's own ("created topic"), and a message of the
// response's size made an error of that size.
func TestABrokersReasonForNotCreatingATopicIsShownSafely(t *testing.T) {
	long := strings.Repeat("x", 600) + "THE END"
	for _, tc := range []struct {
		code    *kerr.Error
		message string
		exit    int
		want    string
	}{
		{kerr.InvalidPartitions, "no\n\x1b[2Jkprod: created topic", exitUsage,
			`--partitions: 3: the broker says INVALID_PARTITIONS: "no\n\x1b[2Jkprod: created topic"`},
		{kerr.PolicyViolation, long, exitFailed,
			`creating topic %s: POLICY_VIOLATION: "` + strings.Repeat("x", 512) + `"... (607 bytes)`},
	} {
		t.Run(tc.code.Name, func(t *testing.T) {
			cluster, topic := refusingCreateTopics(t, tc.code, tc.message)
			r := runKprod(t, "", "perf", "-b", strings.Join(cluster.Addrs(), ","), "-t", topic, "--create-topic",
				"--partitions", "3", "--num-records", "10")
			want := strings.ReplaceAll(tc.want, "%s", topic)
			if r.code != tc.exit || !strings.Contains(r.stderr, want) {
				t.Errorf("exit %d, stderr:\n%.2000q\nwant exit %d with %q", r.code, r.stderr, tc.exit, want)
			}
			if strings.Contains(r.stderr, "\x1b") || strings.Contains(r.stderr, "THE END") {
				t.Errorf("the broker's text reached stderr as it came:\n%.2000q", r.stderr)
			}
		})
	}
}

// A CreateTopics refusal keeps its error code for errors.Is beside the
// broker's explanation: it was formatted into the error's text alone.
func TestACreateTopicsRefusalKeepsItsCode(t *testing.T) {
	cluster, topic := refusingCreateTopics(t, kerr.PolicyViolation, "no")
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cfg := connConfig(producer.Config{}.WithDefaults())
	c, err := conn.Dial(ctx, cluster.Addrs()[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = createTopic(ctx, c, &protocol.MetadataResponse{}, cfg, topicSpec{name: topic, partitions: 3, replicationFactor: -1})
	if !errors.Is(err, kerr.PolicyViolation) {
		t.Errorf("the refusal %v is not kerr.PolicyViolation", err)
	}
	if want := "creating topic " + topic + `: POLICY_VIOLATION: "no"`; err == nil || err.Error() != want {
		t.Errorf("the refusal reads %v, want %s", err, want)
	}
}

// refusingCreateTopics starts an embedded broker, closed when t ends, that
// refuses every CreateTopics of the topic it returns with code and
// message.
func refusingCreateTopics(t *testing.T, code *kerr.Error, message string) (*embedded.Cluster, string) {
	t.Helper()
	cluster, err := embedded.Start(embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	topic := uniqueTopic("refused")
	cluster.Kfake().ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		resp := req.(*kmsg.CreateTopicsRequest).ResponseKind().(*kmsg.CreateTopicsResponse)
		refused := kmsg.NewCreateTopicsResponseTopic()
		refused.Topic, refused.ErrorCode, refused.ErrorMessage = topic, code.Code, kmsg.StringPtr(message)
		resp.Topics = append(resp.Topics, refused)
		return resp, nil, true
	})
	return cluster, topic
}
