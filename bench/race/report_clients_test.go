package race

import (
	"strings"
	"testing"
	"time"
)

// TestTheIntroSaysWhatGokafkasZstdTrades: the zstd row compares CPU on
// values where a deeper search finds nothing, and gokafka's zstd at its
// default level is klauspost's fastest encoder, or its own compressor on
// such values, which compresses differently from klauspost's default
// level, which the other Go clients use; the intro said only "the codec at
// its default level".
func TestTheIntroSaysWhatGokafkasZstdTrades(t *testing.T) {
	got := intro(legacy())
	for _, want := range []string{
		"where a deeper search buys no size",
		"tries klauspost's fastest encoder first",
		"BenchmarkZstdDefaultLevel",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the intro does not say %q:\n%s", want, got)
		}
	}
}

// TestTheIntroSaysWhatConfluentsOpaqueCosts: a non-nil Opaque makes
// confluent-kafka-go register each message in a map behind a mutex, a cost
// per record the intro denied any client paid.
func TestTheIntroSaysWhatConfluentsOpaqueCosts(t *testing.T) {
	got := intro(legacy())
	if strings.Contains(got, "No client pays a wrapper allocated per record that its API does not ask for.") {
		t.Errorf("the intro still says no client pays a cost per record for its callback:\n%s", got)
	}
	if !strings.Contains(got, "registers each message in a map behind a mutex") || !strings.Contains(got, "about 16% less CPU") {
		t.Errorf("the intro does not say what confluent-kafka-go's Opaque costs:\n%s", got)
	}
}

// javaRace is a race with the Java producer and gokafka on the latency
// workload: one round each, Java at 75 µs of CPU a record and 50 Produce
// requests, gokafka at 700.
func javaRace() *Results {
	return &Results{
		Broker: "embedded", Records: 1_000_000, Latency: 50_000, Rounds: 1,
		Clients:     []string{"gokafka", "java"},
		Workloads:   []string{"latency"},
		JavaStartup: &Startup{Workload: "nokey", Records: 1000, CPU: 1500 * time.Millisecond},
		Runs: []Run{
			{Round: 1, Workload: "latency", Client: "java", Records: 50_000, CPU: 3750 * time.Millisecond, Requests: 50, Elapsed: 5 * time.Second},
			{Round: 1, Workload: "latency", Client: "gokafka", Records: 50_000, CPU: 2500 * time.Millisecond, Requests: 700, Elapsed: 5 * time.Second},
		},
	}
}

// TestJavaLatencyRunSaysItsStartupShareAndBursts: the Java producer's
// start-up weighs 20 times as much on a latency run of 50,000 records as
// on a throughput run of a million, and ProducerPerformance's throttler
// sends in bursts; the section worked out the throughput run's share alone.
func TestJavaLatencyRunSaysItsStartupShareAndBursts(t *testing.T) {
	var md strings.Builder
	writeJavaStartup(&md, javaRace())
	got := md.String()
	for _, want := range []string{
		"Over a latency run of 50000 records it is 30.00 µs a record, 40% of its CPU per record there (75.00 µs)",
		"sleeps only once it is 2 ms ahead",
		"1000 Produce requests a million records against gokafka's 14000",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the Java producer's section does not say %q:\n%s", want, got)
		}
	}
	noLatency := javaRace()
	noLatency.Runs, noLatency.Workloads = nil, []string{"nokey"}
	md.Reset()
	writeJavaStartup(&md, noLatency)
	if got := md.String(); strings.Contains(got, "latency run") {
		t.Errorf("a race without the Java producer's latency runs speaks of them:\n%s", got)
	}
}

// TestClientSettingsSayWhatTheRaceAsksOfEachClient: sarama's Flush.Bytes
// caps a request, not a batch; kafka-go takes one record per WriteMessages
// and has no buffer limit. The settings listed both as if they ran the
// anchors' batches and buffer.
func TestClientSettingsSayWhatTheRaceAsksOfEachClient(t *testing.T) {
	ran := func(clients ...string) string {
		r := &Results{Broker: "embedded", Clients: clients}
		for _, c := range clients {
			r.Runs = append(r.Runs, Run{Workload: "nokey", Client: c, Config: []string{"x=1"}})
		}
		var md strings.Builder
		writeSettings(&md, []*Results{r})
		return md.String()
	}
	got := ran("gokafka", "sarama", "kafka-go")
	for _, want := range []string{
		"`Producer.Flush.Bytes` caps a request to a broker, not a batch",
		"`Producer.MaxMessageBytes=65536` made no difference beyond noise",
		"calls kafka-go's `Writer.WriteMessages` once per record",
		"no limit of buffer memory",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the client settings do not say %q:\n%s", want, got)
		}
	}
	if got := ran("gokafka"); strings.Contains(got, "Flush.Bytes") || strings.Contains(got, "WriteMessages") {
		t.Errorf("the settings speak of clients that did not run:\n%s", got)
	}
}
