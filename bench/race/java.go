package race

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// The Java producer runs as Apache Kafka's own perf tool,
// org.apache.kafka.tools.ProducerPerformance (kafka-producer-perf-test), from
// the kafka-tools jars that integration/kafka/broker.sh fetches from Maven
// Central. It sends no warm-up record, so its topic holds exactly the
// measured records.
const (
	javaMain = "org.apache.kafka.tools.ProducerPerformance"
	// javaHeap is what kafka-producer-perf-test.sh gives the tool.
	javaHeap = "-Xmx512M"
)

// javaSummary matches the tool's final line, e.g. "1000000 records sent,
// 250000.0 records/sec (23.84 MB/sec), 12.34 ms avg latency, 300.00 ms max
// latency, 10 ms 50th, 20 ms 95th, 30 ms 99th, 40 ms 99.9th."
var javaSummary = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec .*?, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th`)

// javaRequests matches the producer's request-total metric, which
// --print-metrics prints as "producer-metrics:request-total:{client-id=...} : N".
var javaRequests = regexp.MustCompile(`(?m)^producer-metrics:request-total:\{[^}]*\}\s*:\s*([\d.]+)`)

// javaConfig is the producer's configuration for s, as --command-property
// takes it.
func javaConfig(s driver.Settings) []string {
	return []string{
		"acks=" + s.Acks,
		"linger.ms=" + strconv.FormatInt(s.Linger.Milliseconds(), 10),
		"batch.size=" + strconv.Itoa(s.BatchSize),
		"buffer.memory=" + strconv.Itoa(s.BufferMemory),
		"compression.type=" + s.Compression,
		"enable.idempotence=" + strconv.FormatBool(s.Idempotent),
	}
}

// runJava runs ProducerPerformance for one run.
func runJava(ctx context.Context, java, classpath, payloads string, s driver.Settings) (measured, error) {
	throughput := "-1"
	if s.Rate > 0 {
		throughput = strconv.Itoa(s.Rate)
	}
	args := []string{javaHeap, "-cp", classpath, javaMain,
		"--bootstrap-server", strings.Join(s.Brokers, ","),
		"--topic", s.Topic,
		"--num-records", strconv.Itoa(s.Records),
		"--throughput", throughput,
		"--payload-file", payloads,
		"--print-metrics",
		"--command-property"}
	args = append(args, javaConfig(s)...)
	out, cpu, rss, err := runSampling(exec.CommandContext(ctx, java, args...), true)
	if err != nil {
		return measured{}, err
	}
	r, err := parseJava(string(out))
	if err != nil {
		return measured{}, err
	}
	r.Config = append(javaConfig(s), javaHeap, "partitioner=default (sticky; murmur2 for keys)")
	return measured{result: r, cpu: cpu, peakRSS: rss, requests: javaRequestCount(string(out))}, nil
}

// javaLatencyFrom is where ProducerPerformance's latencies start.
const javaLatencyFrom = "send() call"

// parseJava reads ProducerPerformance's output.
func parseJava(out string) (driver.Result, error) {
	m := javaSummary.FindStringSubmatch(out)
	if m == nil {
		return driver.Result{}, fmt.Errorf("no summary line in ProducerPerformance's output:\n%s", tail(out, 1500))
	}
	records, _ := strconv.Atoi(m[1])
	rate, _ := strconv.ParseFloat(m[2], 64)
	p50, _ := strconv.Atoi(m[3])
	p99, _ := strconv.Atoi(m[5])
	r := driver.Result{
		Client:   "java",
		Produced: records,
		P50:      time.Duration(p50) * time.Millisecond,
		P99:      time.Duration(p99) * time.Millisecond,
		// It times each record from its send() call, whatever the
		// throttle's schedule said.
		LatencyFrom: javaLatencyFrom,
	}
	if rate > 0 {
		r.Elapsed = time.Duration(float64(records) / rate * float64(time.Second))
	}
	return r, nil
}

// javaRequestCount is the producer's own count of requests (all kinds, so
// a few metadata requests too), or -1 if the output has none.
func javaRequestCount(out string) int64 {
	m := javaRequests.FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return int64(f)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// javaVersion is the first line `java -version` prints.
func javaVersion(java string) string {
	out, err := exec.Command(java, "-version").CombinedOutput()
	if err != nil {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
