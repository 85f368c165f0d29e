package main

import (
	"os"
	"strings"
	"testing"
)

// With KAFKA_BROKERS set (integration/kafka/broker.sh start prints it), perf
// and produce also run against that cluster: topic creation through
// CreateTopics, each codec, and a read-back by another client.
func realBrokers(t *testing.T) string {
	b := os.Getenv("KAFKA_BROKERS")
	if b == "" {
		t.Skip("KAFKA_BROKERS is not set")
	}
	if os.Getenv("KAFKA_SECURITY") != "" {
		t.Skip("KAFKA_BROKERS is a secured broker (realbroker_secured_test.go)")
	}
	return b
}

func TestRealBrokerPerf(t *testing.T) {
	brokers := realBrokers(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			r := runKprod(t, "", "perf", "--brokers", brokers, "--create-topic", "--topic", uniqueTopic("real-"+codec),
				"--partitions", "3", "--num-records", "20000", "--compression", codec, "--json")
			if r.code != exitOK {
				t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
			}
			if s := parseSummary(t, r); s.RecordsAcked != testRecords || s.Embedded {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestRealBrokerProduce(t *testing.T) {
	produceAndReadBack(t, realBrokers(t))
}

// Kafka (4.3.1, with auto.create.topics.enable=true as broker.sh sets it)
// answers the metadata request that has it create a topic
// UNKNOWN_TOPIC_OR_PARTITION: kprod waits for the topic it creates, and
// with --create-topic does not ask for it, so that the topic gets the
// partitions asked for rather than the broker's num.partitions.
func TestRealBrokerAllowAutoCreateTopics(t *testing.T) {
	brokers := realBrokers(t)
	topic := uniqueTopic("real-auto")
	r := runKprod(t, "hi\n", "produce", "-b", brokers, "-t", topic, "-X", "allow.auto.create.topics=true")
	if r.code != exitOK {
		t.Errorf("produce: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	topic = uniqueTopic("real-auto3")
	r = runKprod(t, "", "perf", "-b", brokers, "-t", topic, "--create-topic", "--partitions", "3", "--num-records", "10",
		"-X", "allow.auto.create.topics=true")
	if r.code != exitOK || !strings.Contains(r.stderr, "created topic "+topic+" (3 partitions") {
		t.Errorf("--create-topic --partitions 3: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
