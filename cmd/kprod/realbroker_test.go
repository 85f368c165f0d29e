package main

import (
	"os"
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
