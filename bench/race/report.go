package race

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
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

// writeBroker writes r's section: what ran, the CPU ratios against the
// baseline, a table for each workload, and what r's figures mean.
func writeBroker(md *strings.Builder, r *Results, chart string) {
	writeBrokerIntro(md, r, chart)
	writeRatios(md, r)
	for _, name := range r.Workloads {
		writeWorkload(md, r, name)
	}
	writeSenderStacks(md, r)
	writeHowCounted(md, r)
	writeJavaStartup(md, r)
	writeFailures(md, r)
	writeAgainstRefs(md, r)
}

// writeBrokerIntro writes the title of r's section, when and how r ran,
// how its runs were checked, the clients it skipped and its chart.
func writeBrokerIntro(md *strings.Builder, r *Results, chart string) {
	title := map[string]string{
		"embedded": "On the embedded broker (franz-go's kfake in a process of its own, fresh for every run)",
		"kafka":    "On a real Apache Kafka 4.3.1 (one KRaft node from integration/kafka/broker.sh)",
	}[r.Broker]
	if title == "" {
		title = "On " + r.Broker
	}
	fmt.Fprintf(md, "## %s\n\n", title)
	fmt.Fprintf(md, "Run %s, %s; %s; %d records per throughput run, %d per latency run.\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Duration, roundsOf(r), r.Records, r.Latency)
	writeValuesChecked(md, r)
	writeSkipped(md, r, "Not raced")
	fmt.Fprintf(md, "![CPU per record and throughput per client](%s)\n\n", chart)
}

// writeRatios writes the headline: CPU ratios against the baseline,
// workload by client.
func writeRatios(md *strings.Builder, r *Results) {
	fmt.Fprintf(md, "CPU per record against %s (median of per-round ratios; below 1 is less CPU):\n\n", Baseline)
	writeGrid(md, r, r.Workloads, func(workload, client string) string {
		cl := cellOf(r, workload, client)
		switch {
		case cl.runs == 0 && cl.failed == 0:
			return "—"
		case cl.runs == 0 || cl.ratio == 0:
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", cl.ratio)
	})
}

// writeWorkload writes the table of r's workload name, a row for each
// client that ran it, with the latency columns on a workload at a fixed
// rate.
func writeWorkload(md *strings.Builder, r *Results, name string) {
	w, _ := WorkloadByName(name)
	fmt.Fprintf(md, "### %s\n\n", w.Title)
	latency := w.Rate > 0
	md.WriteString("| client | CPU µs/record | vs " + Baseline + " | records/s | peak RSS MiB | Produce requests/Mrecord |")
	if latency {
		md.WriteString(" p50 ms | p99 ms | timed from |")
	}
	md.WriteString(" good runs |\n|---|---:|---:|---:|---:|---:|")
	if latency {
		md.WriteString("---:|---:|---|")
	}
	md.WriteString("---:|\n")
	for _, c := range r.Clients {
		cl := cellOf(r, name, c)
		if cl.runs == 0 && cl.failed == 0 {
			continue
		}
		if cl.runs == 0 {
			fmt.Fprintf(md, "| %s | failed |  |  |  |  |", c)
			if latency {
				md.WriteString("  |  |  |")
			}
			fmt.Fprintf(md, " 0 of %d |\n", cl.failed)
			continue
		}
		ratio, reqs := "", "unknown"
		if cl.ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", cl.ratio)
		}
		if cl.requestsPerM >= 0 {
			reqs = fmt.Sprintf("%.0f", cl.requestsPerM)
		}
		fmt.Fprintf(md, "| %s | %.2f | %s | %.0f | %.0f | %s |", c, cl.cpuPerRecord, ratio, cl.recordsPerS, cl.maxRSS/(1<<20), reqs)
		if latency {
			fmt.Fprintf(md, " %s | %s | %s |", ms(cl.p50), ms(cl.p99), cl.latencyFrom)
		}
		fmt.Fprintf(md, " %d of %d |\n", cl.runs, cl.runs+cl.failed)
	}
	md.WriteString("\n")
}

// writeHowCounted says who counted r's Produce requests, and how the
// clients measure records/s.
func writeHowCounted(md *strings.Builder, r *Results) {
	switch {
	case r.Broker == "embedded":
		md.WriteString("Produce requests are counted by the embedded broker. ")
	case r.BrokerCountsRequests:
		md.WriteString("Produce requests are counted by the broker: its Produce request meter (`kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce`, every version), read over JMX with `integration/kafka/broker.sh metric` before and after each run. ")
	default:
		md.WriteString("Produce requests on the real broker are known only for the Java producer (its request-total metric, all request kinds). ")
	}
	md.WriteString("Records/s is measured by the client from its first measured record to the last ack; for the Java producer it is ProducerPerformance's own figure, which includes connecting.\n\n")
}

// writeValuesChecked says how r's runs were checked beyond their topics'
// record counts.
func writeValuesChecked(md *strings.Builder, r *Results) {
	if r.ValuesChecked {
		md.WriteString("Each Go client's run also counted only if its topic, read back with franz-go's kgo once the client had exited, held each of the ring's values as many times as the client sent it: a record lost and another written twice pass the count of records, not this.\n\n")
		return
	}
	md.WriteString("Its runs were checked by their topics' record counts alone (the race did not yet read the topics back): a record lost and another written twice would have passed.\n\n")
}

// writeSenderStacks writes the Go clients' goroutine stack per sender on
// the workloads with synchronous senders, if r measured it.
func writeSenderStacks(md *strings.Builder, r *Results) {
	var rows []string
	for _, name := range r.Workloads {
		if w, _ := WorkloadByName(name); w.Senders > 0 {
			rows = append(rows, name)
		}
	}
	measured := slices.ContainsFunc(r.Runs, func(run Run) bool { return run.SenderStack > 0 })
	if len(rows) == 0 || !measured {
		return
	}
	fmt.Fprintf(md, "Goroutine stack per synchronous sender, KiB (median of rounds): the peak of the Go runtime's stack memory during the run, sampled every %v, less what it was before the senders started, over the senders. ", driver.StackSampleEvery)
	md.WriteString("A goroutine starts with a 2 KiB stack, and one whose calls reach deeper gets a stack twice the size, copied over; with thousands of senders their stacks are much of what the cache must hold between a sender's turns.\n\n")
	writeGrid(md, r, rows, func(workload, client string) string {
		if st := cellOf(r, workload, client).senderStack; st > 0 {
			return fmt.Sprintf("%.1f", st/1024)
		}
		return "—"
	})
}

// writeSkipped lists the clients r could not run, each after what.
func writeSkipped(md *strings.Builder, r *Results, what string) {
	for _, s := range r.Skipped {
		fmt.Fprintf(md, "- %s: %s\n", what, s)
	}
	if len(r.Skipped) > 0 {
		md.WriteString("\n")
	}
}

// writeGrid writes a table of workloads (of r's) by r's clients, each cell
// what cell says of that workload and client.
func writeGrid(md *strings.Builder, r *Results, workloads []string, cell func(workload, client string) string) {
	md.WriteString("| workload |")
	for _, c := range r.Clients {
		fmt.Fprintf(md, " %s |", c)
	}
	md.WriteString("\n|---|" + strings.Repeat("---:|", len(r.Clients)) + "\n")
	for _, name := range workloads {
		w, _ := WorkloadByName(name)
		fmt.Fprintf(md, "| %s |", w.Title)
		for _, c := range r.Clients {
			fmt.Fprintf(md, " %s |", cell(name, c))
		}
		md.WriteString("\n")
	}
	md.WriteString("\n")
}

// roundsOf says how many rounds r ran: "1 round", "5 rounds".
func roundsOf(r *Results) string {
	if r.Rounds == 1 {
		return "1 round"
	}
	return fmt.Sprintf("%d rounds", r.Rounds)
}

// writeFailures lists r's failed runs, which no median counts.
func writeFailures(md *strings.Builder, r *Results) {
	var failures []string
	for _, run := range r.Runs {
		if run.Err != "" {
			failures = append(failures, fmt.Sprintf("- round %d, %s, %s: %s", run.Round, run.Workload, run.Client, firstLine(run.Err)))
		}
	}
	if len(failures) > 0 {
		md.WriteString("Runs that failed and are left out of the medians:\n\n" + strings.Join(failures, "\n") + "\n\n")
	}
}

// clientNames is every client in any results, in the race's order, then
// those built at another commit (gokafka@REF) as the results list them.
func clientNames(all []*Results) []string {
	seen := map[string]bool{}
	for _, r := range all {
		for _, c := range r.Clients {
			seen[c] = true
		}
	}
	var names []string
	for _, c := range Contenders {
		if seen[c.Name] {
			names = append(names, c.Name)
			delete(seen, c.Name)
		}
	}
	for _, r := range all {
		for _, c := range r.Clients {
			if seen[c] {
				names = append(names, c)
				delete(seen, c)
			}
		}
	}
	return names
}

// clientVersion is the version a client's runs reported, with the
// commits of the races it ran in for this repository's code.
func clientVersion(all []*Results, name string) string {
	ran := racesWith(all, name)
	for _, r := range all {
		for _, run := range r.Runs {
			if run.Client != name || run.Err != "" {
				continue
			}
			switch {
			case name == "java":
				return "org.apache.kafka:kafka-tools 4.3.1 (kafka-clients 4.3.1), ProducerPerformance"
			case strings.Contains(name, refSeparator):
				c, _ := atRef(name)
				return "this repository's library at " + c.Ref + ", in the gokafka client" + commits(ran)
			case run.Version == "(devel)" || run.Version == "":
				return "this repository" + commits(ran)
			default:
				v := run.Version
				for _, c := range run.Config {
					if l, ok := strings.CutPrefix(c, "librdkafka="); ok {
						v += ", bundled librdkafka " + l
					}
				}
				return v
			}
		}
	}
	return "unknown"
}

// racesWith is the races among all that raced client.
func racesWith(all []*Results, client string) []*Results {
	var ran []*Results
	for _, r := range all {
		if slices.Contains(r.Clients, client) {
			ran = append(ran, r)
		}
	}
	return ran
}

// commits says which commit of this repository each race ran, " at C" when
// every race ran the same one, so that a race from a changed work tree
// ("-dirty") is not shown as the clean commit.
func commits(all []*Results) string {
	var distinct []string
	for _, r := range all {
		if r.Commit != "" && !slices.Contains(distinct, r.Commit) {
			distinct = append(distinct, r.Commit)
		}
	}
	switch len(distinct) {
	case 0:
		return ""
	case 1:
		return " at " + distinct[0]
	}
	var each []string
	for _, r := range all {
		if r.Commit != "" {
			each = append(each, fmt.Sprintf("%s (%s)", r.Commit, r.name()))
		}
	}
	return " at " + strings.Join(each, ", ")
}

// latencyOrigin is where run's latencies start: as the run reported it, or
// for a run from before runs reported it, where they started then (the Go
// driver timed each record from its Produce call).
func latencyOrigin(run Run) string {
	switch {
	case run.LatencyFrom != "":
		return run.LatencyFrom
	case run.Client == "java":
		return javaLatencyFrom
	}
	return "Produce call"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
