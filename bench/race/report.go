package race

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Render writes outDir/RESULTS.md and one chart per broker,
// outDir/race-BROKER.svg, from every results file in resultsDir.
func Render(resultsDir, outDir string) error {
	all, err := ReadResults(resultsDir)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("no results in %s: run the race first", resultsDir)
	}
	var md strings.Builder
	writeIntro(&md, all)
	var timed []*Results
	for _, r := range all {
		if r.Instructions {
			writeInstructions(&md, r)
			continue
		}
		timed = append(timed, r)
		chart := "race-" + r.Broker + ".svg"
		if err := os.WriteFile(filepath.Join(outDir, chart), []byte(Chart(r)), 0o644); err != nil {
			return err
		}
		writeBroker(&md, r, chart)
	}
	writeTargets(&md, timed)
	writeSettings(&md, all)
	return os.WriteFile(filepath.Join(outDir, "RESULTS.md"), []byte(md.String()), 0o644)
}

func writeIntro(md *strings.Builder, all []*Results) {
	m := all[0].Machine
	fmt.Fprintf(md, "# The producer race\n\n")
	fmt.Fprintf(md, "The same workloads through each client, each client a process of its own, written by `go run ./bench/cmd/race` (`make bench-race`). ")
	fmt.Fprintf(md, "CPU is the client process's user+sys time from its rusage, start-up included (a few ms for a Go client; for the Java producer, JVM start-up and JIT, over a second of CPU, as each broker's section says), divided by the measured records. ")
	md.WriteString(saidOfRaces(all, peakRSSSentence) + " ")
	fmt.Fprintf(md, "Each run gets a fresh topic of %d partitions, and counts only if the topic's high watermarks (ListOffsets, read with franz-go's kadm) add up to exactly the records the client sent, its warm-up record included. ", partitions)
	md.WriteString("Rounds are interleaved: every client once per workload per round, then the next round. ")
	md.WriteString(saidOfRaces(all, orderSentence) + " ")
	fmt.Fprintf(md, "A cell is the median of its rounds, and a ratio is the median of the per-round ratios against %s in the same round.\n\n", Baseline)
	fmt.Fprintf(md, "**The machine has %d cores and is shared with other work**, so absolute numbers are noisy; the interleaved ratios are what the race measures. ", m.Cores)
	fmt.Fprintf(md, "On the embedded broker, the broker process runs on the same %d cores as the client.\n\n", m.Cores)
	fmt.Fprintf(md, "| | |\n|---|---|\n")
	fmt.Fprintf(md, "| machine | %s, %s, %d cores, %s |\n", m.OS, m.CPU, m.Cores, m.Memory)
	fmt.Fprintf(md, "| Go | %s |\n", m.Go)
	for _, r := range all {
		if r.Machine.Java != "" {
			fmt.Fprintf(md, "| Java | %s |\n", r.Machine.Java)
			break
		}
	}
	for _, name := range clientNames(all) {
		fmt.Fprintf(md, "| %s | %s |\n", name, clientVersion(all, name))
	}
	md.WriteString("\nWorkloads (the anchors, with one thing changed per row): 100-byte random (incompressible) values, no key, no compression, acks=all, linger 5 ms, 64 KiB batches, 32 MiB of buffer where the client has a limit on it (sarama and kafka-go have none), idempotence on where the client has it, one goroutine producing asynchronously.\n\n")
	md.WriteString("- **no key, no compression**: the anchors.\n")
	md.WriteString("- **16-byte keys**: a random 16-byte key per record (from a ring of 16,384); each client's default partitioner for keys.\n")
	md.WriteString("- **lz4**, **zstd**: the codec at its default level, with each client's own compressor; how much a level searches differs from client to client (below, what gokafka's zstd trades).\n")
	md.WriteString("- **1,000 synchronous senders**: 1,000 goroutines, each producing one record and waiting for its ack before the next (the client's asynchronous produce, then a wait on that record's callback: what franz-go's `ProduceSync` does).\n")
	md.WriteString("- **5,000 synchronous senders**: the same with 5,000 goroutines.\n")
	md.WriteString("- **latency**: one goroutine paced at 10,000 records/s with linger 0; p50 and p99 from each record's due time on that schedule to its ack, so that the records due while a Produce blocked count the wait for their turn (timed from their Produce call, as results made before this were, they are sent back to back once it returns and look fast: coordinated omission). The latency table says where each client's latencies start. Its CPU per record includes the idle pacing, and, for the Java producer, its start-up over fewer records and a pacing of its own, in bursts (each broker's section says how much).\n\n")
	md.WriteString("Each client gets its completion callback as an application would write it: one per producing goroutine (one per record in the latency workload, which times each record), in the client's own callback type where it has one (gokafka, franz-go), or as the message's opaque data (sarama, kafka-go, confluent-kafka-go), the field each API offers for it. That field costs confluent-kafka-go more than the others: given a non-nil Opaque, it registers each message in a map behind a mutex, for librdkafka's delivery report to find it by. A variant that gave every record one shared callback and no Opaque spent about 16% less CPU without keys, and no less under zstd; the race keeps the Opaque, as an application that tells its records' outcomes apart writes it.\n\n")
	md.WriteString("**floor** is not a client: it runs each workload through the same harness and sends nothing. It does only what an asynchronous client cannot skip: it stamps each record with the wall clock, writes it into a RecordBatch v2, closes each batch when it is full or its linger ends and compresses it with the workload's codec (this repository's compression package, as gokafka does: its own LZ4 and zstd compressors at the default levels), then hands the batch's callbacks to a goroutine of its own, which calls them, as a client does once a response has come. Its CPU per record is what this repository's producer pays before any work of its own (partitioning, buffering, requests, responses), so a CPU target below the floor's ratio asks the producer to spend less than the floor does. The charts leave it out.\n\n")
	md.WriteString("Values come from a ring of 16,384 random values (1.6 MB, more than any batch), so no batch repeats a value for a codec to find. ")
	md.WriteString("What a codec does find is each record's framing, a few bytes that repeat from record to record: zstd shrinks such a batch by about 6% and lz4 by under 1%, and those short matches keep a codec searching the whole batch. That search, on a 64 KiB batch of such records (`BenchmarkCompressRandomValues` in compression/), costs about 0.4 µs a record with pierrec/lz4's fastest level, the LZ4 of franz-go, sarama and kafka-go. gokafka's own LZ4 compressor skims such a batch and finds, for two in three, that it will not shrink, in about 0.05 µs a record; the producer then sends it as an lz4 frame of stored blocks, or uncompressed where that frame would not fit the batch's buffer. zstd costs about 1.5 µs with klauspost's zstd at its default level, which every other pure-Go client here uses (most of what franz-go spends on the zstd workload), and 0.35 µs with gokafka's own zstd compressor. ")
	md.WriteString("Both leave such a batch 0.937 of its size: the zstd row compares CPU on values where a deeper search buys no size. gokafka's zstd at its default level tries klauspost's fastest encoder first, which gives such a batch up within microseconds, and then writes it with its own compressor. On compressible data it keeps klauspost's fastest encoder's output, which on JSON events in 64 KiB batches is smaller and faster than klauspost's default level (0.243 of the input against 0.247), and on this repository's Go and Markdown larger (0.346 against 0.324) at three quarters of the CPU (`BenchmarkZstdDefaultLevel` in compression/). ")
	md.WriteString("The Java producer is Apache Kafka's `ProducerPerformance` (kafka-producer-perf-test) with `--payload-file`: 16,384 lines of 100 random bytes in 1..127 (the most random text its UTF-8 reading keeps), so its values themselves compress a little under zstd where the Go clients' do not; it has neither keys nor concurrent senders, so it runs the other workloads only, and reports latency in whole milliseconds.\n\n")
	md.WriteString("Rerun:\n\n```\nmake bench-race                                   # embedded broker, Go clients\ngo run ./bench/cmd/race -java                     # and the Java producer\ngo run ./bench/cmd/race -java -kafka              # on a real Kafka that integration/kafka/broker.sh starts\ngo run ./bench/cmd/race -records 200000 -rounds 5 -clients gokafka,franz-go -workloads nokey,zstd\ngo run ./bench/cmd/race -rounds 10 -clients gokafka,gokafka@HEAD~1,franz-go   # a change against its parent commit\ngo run ./bench/cmd/race -instructions -rounds 3 -records 400000 -clients gokafka,franz-go,floor   # instructions per record, under valgrind\ngo run ./bench/cmd/race -cache-sim 16MiB -rounds 1 -records 400000 -clients gokafka,franz-go,floor -workloads senders,senders5k   # and misses in a simulated 16 MiB cache\n```\n\n")
	md.WriteString("confluent-kafka-go needs cgo and a C compiler (it builds with `-tags confluent`); without one, the race skips it and says so. The runs behind every table are in `bench/results/`.\n\n")
}

// orderSentence says in what order r's rounds ran the clients.
func orderSentence(r *Results) string {
	if r.order() == OrderCounterbalanced {
		return "Each workload's clients ran in an order counterbalanced over pairs of rounds: a shuffle, drawn for each pair and workload, then the same backwards, so that every client held mirrored places equally and two clients alternated."
	}
	return "The clients ran in a fixed order, the same in every round and workload (that of the tables' columns), so that each met the broker as the same other client's run had left it every time: a bias in the per-round ratios that more rounds do not remove."
}

// peakRSSSentence says how r measured peak RSS.
func peakRSSSentence(r *Results) string {
	if r.PeakRSSFrom == PeakRSSOwn {
		return fmt.Sprintf("Peak RSS is the client process's own high-water resident set, Linux's VmHWM: a Go client reads its own from /proc/self/status once it has closed the client; the harness reads the Java producer's from /proc/PID/status every %v while it runs, and the last read before it exits is a lower bound at most that interval's growth short. Not the rusage maxrss: Go's os/exec starts a child by vfork, and a child's maxrss starts at the harness's own peak (about 16 MiB, where the floor's own is about 7).", peakSampleEvery)
	}
	return "Peak RSS is the client process's rusage maxrss, which on Linux starts at the harness's own peak (Go's os/exec starts a child by vfork): a client that uses less than the harness (about 16 MiB; the floor uses about 7) reads as the harness's."
}

// saidOfRaces is what say says of each race in all: its one sentence when
// it says the same of every race, else each sentence followed by the races
// it is true of.
func saidOfRaces(all []*Results, say func(*Results) string) string {
	var sentences []string
	races := map[string][]string{}
	for _, r := range all {
		s := say(r)
		if _, ok := races[s]; !ok {
			sentences = append(sentences, s)
		}
		races[s] = append(races[s], r.name())
	}
	if len(sentences) == 1 {
		return sentences[0]
	}
	var each []string
	for _, s := range sentences {
		each = append(each, fmt.Sprintf("In the race%s of %s: %s", plural(len(races[s])), strings.Join(races[s], ", "), s))
	}
	return strings.Join(each, " ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
