package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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
