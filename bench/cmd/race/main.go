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

// raceFlags is the command line.
type raceFlags struct {
	clients, workloads              string
	rounds, records, latencyRecords int
	withJava, kafka                 bool
	kafkaState, brokers, brokerName string
	instructions                    bool
	cacheSim                        string
	render                          bool
	out                             string
}

func parseFlags() raceFlags {
	var f raceFlags
	flag.StringVar(&f.clients, "clients", "gokafka,franz-go,sarama,kafka-go,confluent-kafka-go,floor", "clients to race, comma-separated (java with -java; floor is the harness alone; gokafka@REF is the gokafka client on the library at git commit REF, to race a change against its parent; gokafka-handoff and gokafka-handoff-yield are an experiment, see PERFORMANCE.md)")
	flag.StringVar(&f.workloads, "workloads", "nokey,key16,lz4,zstd,senders,senders5k,latency", "workloads, comma-separated")
	flag.IntVar(&f.rounds, "rounds", 3, "interleaved rounds")
	flag.IntVar(&f.records, "records", 1_000_000, "records per throughput run")
	flag.IntVar(&f.latencyRecords, "latency-records", 50_000, "records per fixed-rate latency run")
	flag.BoolVar(&f.withJava, "java", false, "race the Java producer too (fetches kafka-tools with broker.sh once)")
	flag.BoolVar(&f.kafka, "kafka", false, "race on a real Kafka that broker.sh starts (and stops) in -kafka-state")
	flag.StringVar(&f.kafkaState, "kafka-state", filepath.Join(os.TempDir(), "gokafka-race-broker"), "KAFKA_STATE_DIR for -kafka")
	flag.StringVar(&f.brokers, "brokers", "", "race on this running broker instead (host:port,...)")
	flag.StringVar(&f.brokerName, "broker", "", "the broker's name in the report and its results file (default embedded, kafka with -kafka, brokers with -brokers)")
	flag.BoolVar(&f.instructions, "instructions", false, "count each Go client's instructions per record under valgrind's callgrind instead of timing it (results/BROKER-instructions.json)")
	flag.StringVar(&f.cacheSim, "cache-sim", "", "with the instruction count, simulate a last-level cache of this size (a power of two, like 512KiB or 16MiB) and count its misses per record; implies -instructions (results/BROKER-cache-SIZE.json)")
	flag.BoolVar(&f.render, "render", false, "only rewrite RESULTS.md and the chart from the results files")
	flag.StringVar(&f.out, "out", "", "write results/, RESULTS.md and the charts here (default: the bench module's directory)")
	flag.Parse()
	return f
}

func run() error {
	f := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	moduleDir, err := race.ModuleDir(ctx)
	if err != nil {
		return err
	}
	outDir := moduleDir
	if f.out != "" {
		outDir = f.out
	}
	resultsDir := filepath.Join(outDir, "results")
	if f.render {
		return race.Render(resultsDir, outDir)
	}

	brokerScript := filepath.Join(moduleDir, "..", "integration", "kafka", "broker.sh")
	opts, err := raceOptions(ctx, f, moduleDir, brokerScript)
	if err != nil {
		return err
	}
	stopBroker, err := chooseBroker(ctx, f, brokerScript, &opts)
	if err != nil {
		return err
	}
	defer stopBroker()

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

// raceOptions is the race the flags ask for, its clients and workloads
// looked up by name, without its broker or work directory.
func raceOptions(ctx context.Context, f raceFlags, moduleDir, brokerScript string) (race.Options, error) {
	opts := race.Options{Rounds: f.rounds, Records: f.records, LatencyRecords: f.latencyRecords, Instructions: f.instructions, ModuleDir: moduleDir, Log: os.Stdout}
	var err error
	if f.cacheSim != "" {
		if opts.CacheSize, err = race.ParseCacheSize(f.cacheSim); err != nil {
			return opts, err
		}
		opts.Instructions = true
	}
	names := splitList(f.clients)
	if f.withJava && !slices.Contains(names, "java") {
		names = append(names, "java")
	}
	for _, n := range names {
		c, err := race.ContenderByName(n)
		if err != nil {
			return opts, err
		}
		opts.Clients = append(opts.Clients, c)
	}
	for _, n := range splitList(f.workloads) {
		w, err := race.WorkloadByName(n)
		if err != nil {
			return opts, err
		}
		opts.Workloads = append(opts.Workloads, w)
	}
	if slices.Contains(names, "java") {
		out, err := exec.CommandContext(ctx, brokerScript, "tools-classpath").Output()
		if err != nil {
			return opts, fmt.Errorf("%s tools-classpath: %w", brokerScript, err)
		}
		opts.Java, opts.JavaClasspath = "java", strings.TrimSpace(string(out))
	}
	return opts, nil
}

// chooseBroker sets the broker opts races on, and its name: the embedded
// broker, the running one -brokers names, or the Kafka that -kafka starts
// here, which the func it returns stops (it does nothing for the others).
func chooseBroker(ctx context.Context, f raceFlags, brokerScript string, opts *race.Options) (stop func(), err error) {
	stop = func() {}
	opts.BrokerName = "embedded"
	switch {
	case f.brokers != "":
		// Not "kafka": the report would call it the Kafka broker.sh
		// starts, of broker.sh's version.
		opts.Brokers, opts.BrokerName = splitList(f.brokers), "brokers"
	case f.kafka:
		addrs, stopKafka, err := startKafka(ctx, brokerScript, f.kafkaState)
		if err != nil {
			return nil, err
		}
		stop = stopKafka
		opts.Brokers, opts.BrokerName = addrs, "kafka"
		opts.ProduceRequests = func(ctx context.Context) (int64, error) {
			return kafkaProduceRequests(ctx, brokerScript, f.kafkaState)
		}
	}
	if f.brokerName != "" {
		opts.BrokerName = f.brokerName
	}
	return stop, nil
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
