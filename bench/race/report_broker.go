package race

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

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

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}
