package race

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// This file says what the race's common settings mean for each client:
// its settings as it reported them, where a setting does not do for a
// client what it does for the others, and what the Java producer's tool
// adds to its runs.

// writeSettings lists each client's own configuration as its anchors run
// reported it, then what differs in how the race drives some of them.
func writeSettings(md *strings.Builder, all []*Results) {
	md.WriteString("## Client settings\n\n")
	md.WriteString("As each client reported them for the anchors' workload; the other workloads change only the codec, the linger (0 for latency) or the number of senders.\n\n")
	var listed []string
	for _, name := range clientNames(all) {
		var config []string
		for _, r := range all {
			for _, run := range r.Runs {
				if run.Client == name && run.Workload == "nokey" && len(run.Config) > 0 {
					config = run.Config
					break
				}
			}
			if config != nil {
				break
			}
		}
		if config == nil {
			continue
		}
		listed = append(listed, name)
		fmt.Fprintf(md, "- **%s**: `%s`\n", name, strings.Join(config, "`, `"))
	}
	md.WriteString("\n")
	for _, name := range listed {
		if note, ok := settingsNotes[name]; ok {
			md.WriteString(note + "\n\n")
		}
	}
}

// settingsNotes says, for the clients whose settings do not mean what
// the anchors' do, what they mean instead: read in each client's source.
var settingsNotes = map[string]string{
	"sarama":   "sarama's `Producer.Flush.Bytes` caps a request to a broker, not a batch: sarama sends once what it holds for a broker, over all its partitions, reaches that many bytes, and caps each partition's batch at `Producer.MaxMessageBytes` (1 MiB by default). So its batches are not 64 KiB: about 14 KB without keys, where its random partitioner spreads a request over the 6 partitions, and larger under zstd. A variant of the race with `Producer.MaxMessageBytes=65536` made no difference beyond noise.",
	"kafka-go": "The race calls kafka-go's `Writer.WriteMessages` once per record, as its harness produces one record at a time, and each call allocates a map of its messages' partitions and takes the writer's mutex: costs that its API, made for slices of messages, spreads over many. Its `BatchBytes` counts an estimate of each message's size (its key and value and a fixed framing), not the batch as encoded. kafka-go has no limit of buffer memory, so the anchors' 32 MiB of buffer does not apply to it.",
}

// writeJavaStartup says how much of the Java producer's CPU per record is
// its start-up, a fixed cost that a run's records share: as r measured it,
// or, in a race that did not, as a 1,000-record run measured apart. On the
// latency workload, whose runs are shorter, it also works out that share,
// and says how ProducerPerformance paces its records.
func writeJavaStartup(md *strings.Builder, r *Results) {
	if !slices.Contains(r.Clients, "java") {
		return
	}
	st := r.JavaStartup
	how := "measured once in this race, before its rounds"
	if st == nil {
		st = &Startup{Workload: "nokey", Records: javaStartupRecords, CPU: 1280 * time.Millisecond}
		how = "measured apart from this race, which did not measure it"
	}
	w, _ := WorkloadByName(st.Workload)
	fmt.Fprintf(md, "The Java producer's CPU includes its start-up (the JVM's start, class loading, JIT), a fixed cost of each run: start-up: %.2f s of CPU, for ProducerPerformance sending %d records of the %s workload (%s). ",
		st.CPU.Seconds(), st.Records, w.Title, how)
	fmt.Fprintf(md, "Over a throughput run of %d records that is %.2f µs a record of its CPU per record, counted in its ratios as in every client's; a Go client's start-up is a few ms.",
		r.Records, float64(st.CPU.Microseconds())/float64(r.Records))
	java := cellOf(r, "latency", "java")
	if java.runs == 0 || r.Latency == 0 {
		md.WriteString("\n\n")
		return
	}
	share := float64(st.CPU.Microseconds()) / float64(r.Latency)
	fmt.Fprintf(md, " Over a latency run of %d records it is %.2f µs a record, %.0f%% of its CPU per record there (%.2f µs).",
		r.Latency, share, 100*share/java.cpuPerRecord, java.cpuPerRecord)
	// ThroughputThrottler adds each record's share of a second to a
	// deficit and sleeps only once that deficit reaches 2 ms; the Go
	// harness waits for each record's due time.
	paced, _ := WorkloadByName("latency")
	fmt.Fprintf(md, " ProducerPerformance paces that run with its ThroughputThrottler, which sleeps only once it is 2 ms ahead of its schedule, so it sends in bursts (%d records at a time at %d records/s) where the Go clients' harness sends each record at its due time: a cheaper workload, with fewer and fuller requests",
		paced.Rate*2/1000, paced.Rate)
	if gokafka := cellOf(r, "latency", "gokafka"); java.requestsPerM >= 0 && gokafka.runs > 0 && gokafka.requestsPerM >= 0 {
		fmt.Fprintf(md, " (%.0f Produce requests a million records against gokafka's %.0f)", java.requestsPerM, gokafka.requestsPerM)
	}
	md.WriteString(".\n\n")
}
