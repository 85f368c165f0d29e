// Command race runs the producer race: the same workloads through this
// repository's producer, franz-go, sarama, kafka-go, confluent-kafka-go and
// (with -java) the Java producer, each as a process of its own, on a fresh
// embedded broker per run or (with -kafka or -brokers) on a real Kafka. It
// writes the runs to bench/results/BROKER.json, then bench/RESULTS.md and
// bench/race-BROKER.svg from every results file there (-out elsewhere).
//
//	go run ./bench/cmd/race                      # embedded broker, Go clients
//	go run ./bench/cmd/race -java -kafka         # real Kafka from broker.sh, Java too
//	go run ./bench/cmd/race -render              # rewrite RESULTS.md only
//
// A change is measured against its parent in one race, their rounds
// interleaved: -clients gokafka,gokafka@HEAD~1,franz-go builds the gokafka
// client once on this tree's library and once on the parent commit's.
// -instructions counts instructions per record under valgrind instead of
// timing the runs: a measure of work that this shared machine's load does
// not move. -cache-sim 16MiB also simulates a last-level cache of that
// size and counts its misses per record: what the count cannot show.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/producer/bench/race"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "race: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		clients        = flag.String("clients", "gokafka,franz-go,sarama,kafka-go,confluent-kafka-go,floor", "clients to race, comma-separated (java with -java; floor is the harness alone; gokafka@REF is the gokafka client on the library at git commit REF, to race a change against its parent; gokafka-handoff and gokafka-handoff-yield are an experiment, see PERFORMANCE.md)")
		workloads      = flag.String("workloads", "nokey,key16,lz4,zstd,senders,senders5k,latency", "workloads, comma-separated")
		rounds         = flag.Int("rounds", 3, "interleaved rounds")
		records        = flag.Int("records", 1_000_000, "records per throughput run")
		latencyRecords = flag.Int("latency-records", 50_000, "records per fixed-rate latency run")
		withJava       = flag.Bool("java", false, "race the Java producer too (fetches kafka-tools with broker.sh once)")
		kafka          = flag.Bool("kafka", false, "race on a real Kafka that broker.sh starts (and stops) in -kafka-state")
		kafkaState     = flag.String("kafka-state", filepath.Join(os.TempDir(), "gokafka-race-broker"), "KAFKA_STATE_DIR for -kafka")
		brokers        = flag.String("brokers", "", "race on this running broker instead (host:port,...)")
		brokerName     = flag.String("broker", "", "the broker's name in the report and its results file (default embedded, kafka with -kafka, brokers with -brokers)")
		instructions   = flag.Bool("instructions", false, "count each Go client's instructions per record under valgrind's callgrind instead of timing it (results/BROKER-instructions.json)")
		cacheSim       = flag.String("cache-sim", "", "with the instruction count, simulate a last-level cache of this size (a power of two, like 512KiB or 16MiB) and count its misses per record; implies -instructions (results/BROKER-cache-SIZE.json)")
		render         = flag.Bool("render", false, "only rewrite RESULTS.md and the chart from the results files")
		out            = flag.String("out", "", "write results/, RESULTS.md and the charts here (default: the bench module's directory)")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	moduleDir, err := race.ModuleDir(ctx)
	if err != nil {
		return err
	}
	outDir := moduleDir
	if *out != "" {
		outDir = *out
	}
	resultsDir := filepath.Join(outDir, "results")
	if *render {
		return race.Render(resultsDir, outDir)
	}

	opts := race.Options{Rounds: *rounds, Records: *records, LatencyRecords: *latencyRecords, Instructions: *instructions, ModuleDir: moduleDir, Log: os.Stdout}
	if *cacheSim != "" {
		if opts.CacheSize, err = race.ParseCacheSize(*cacheSim); err != nil {
			return err
		}
		opts.Instructions = true
	}
	names := splitList(*clients)
	if *withJava && !slices.Contains(names, "java") {
		names = append(names, "java")
	}
	for _, n := range names {
		c, err := race.ContenderByName(n)
		if err != nil {
			return err
		}
		opts.Clients = append(opts.Clients, c)
	}
	for _, n := range splitList(*workloads) {
		w, err := race.WorkloadByName(n)
		if err != nil {
			return err
		}
		opts.Workloads = append(opts.Workloads, w)
	}
	brokerScript := filepath.Join(moduleDir, "..", "integration", "kafka", "broker.sh")
	if slices.Contains(names, "java") {
		out, err := exec.CommandContext(ctx, brokerScript, "tools-classpath").Output()
		if err != nil {
			return fmt.Errorf("%s tools-classpath: %w", brokerScript, err)
		}
		opts.Java, opts.JavaClasspath = "java", strings.TrimSpace(string(out))
	}

	opts.BrokerName = "embedded"
	switch {
	case *brokers != "":
		// Not "kafka": the report would call it the Kafka broker.sh
		// starts, of broker.sh's version.
		opts.Brokers, opts.BrokerName = splitList(*brokers), "brokers"
	case *kafka:
		addrs, stopKafka, err := startKafka(ctx, brokerScript, *kafkaState)
		if err != nil {
			return err
		}
		defer stopKafka()
		opts.Brokers, opts.BrokerName = addrs, "kafka"
		opts.ProduceRequests = func(ctx context.Context) (int64, error) {
			return kafkaProduceRequests(ctx, brokerScript, *kafkaState)
		}
	}
	if *brokerName != "" {
		opts.BrokerName = *brokerName
	}

	work, err := os.MkdirTemp("", "race-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	opts.WorkDir = work

	res, err := race.Race(ctx, opts)
	if err != nil {
		return err
	}
	if err := race.WriteResults(resultsDir, res); err != nil {
		return err
	}
	return race.Render(resultsDir, outDir)
}

// startKafka starts a single-node Kafka with broker.sh, serving JMX for
// kafkaProduceRequests, and returns its addresses and how to stop it. A
// start that fails or is interrupted may have launched a node already, so
// it is stopped then too (broker.sh stop does nothing when nothing runs).
func startKafka(ctx context.Context, script, state string) ([]string, func(), error) {
	env := append(os.Environ(), "KAFKA_STATE_DIR="+state, "KAFKA_JMX=1")
	stopKafka := func() {
		cmd := exec.Command(script, "stop")
		cmd.Env, cmd.Stderr = env, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "race: %s stop (KAFKA_STATE_DIR=%s): %v\n", script, state, err)
		}
	}
	cmd := exec.CommandContext(ctx, script, "start")
	cmd.Env, cmd.Stderr = env, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		stopKafka()
		return nil, nil, fmt.Errorf("%s start: %w", script, err)
	}
	line, ok := strings.CutPrefix(strings.TrimSpace(string(out)), "KAFKA_BROKERS=")
	if !ok {
		stopKafka()
		return nil, nil, fmt.Errorf("%s start printed %q", script, out)
	}
	return splitList(line), stopKafka, nil
}

// produceRequestsMBean is the broker's meter of Produce requests, one per
// request version.
const produceRequestsMBean = "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce,*"

// kafkaProduceRequests reads how many Produce requests the Kafka that
// startKafka started has served, through JMX (broker.sh metric).
func kafkaProduceRequests(ctx context.Context, script, state string) (int64, error) {
	cmd := exec.CommandContext(ctx, script, "metric", produceRequestsMBean, "Count")
	var stderr strings.Builder
	cmd.Env, cmd.Stderr = append(os.Environ(), "KAFKA_STATE_DIR="+state), &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s metric: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s metric printed %q, not a count", script, out)
	}
	return n, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
