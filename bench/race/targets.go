package race

import (
	"fmt"
	"slices"
	"strings"
)

// The performance issue's targets for this producer, against the baseline
// in the same race.
const (
	// ours is this repository's contender.
	ours = "gokafka"
	// rssHeadroom is what peak RSS may add to the buffer memory.
	rssHeadroom = 32 << 20
)

// cpuTargets are the largest CPU-per-record ratios against the baseline
// that each workload's target allows.
var cpuTargets = map[string]float64{
	"nokey":     0.5,
	"key16":     0.5,
	"lz4":       0.5,
	"zstd":      0.7,
	"senders":   0.5,
	"senders5k": 0.5,
}

// sendersScaling names the workloads whose CPU per record the issue holds
// to "5,000 senders cost no more per record than 1,000".
var sendersScaling = [2]string{"senders", "senders5k"}

// writeTargets holds each race's results for this producer against the
// targets: CPU against the baseline's, peak RSS against the buffer memory
// plus rssHeadroom, Produce requests no more than the baseline's, and,
// at a fixed rate, p99 latency no worse than the baseline's.
func writeTargets(md *strings.Builder, all []*Results) {
	if len(all) == 0 {
		return
	}
	md.WriteString("## Against the targets\n\n")
	fmt.Fprintf(md, "The performance issue's targets for %s, each against %s in the same race. ", ours, Baseline)
	fmt.Fprintf(md, "Peak RSS may be the buffer memory (%d MiB) plus %d MiB. ", bufferMemory>>20, rssHeadroom>>20)
	md.WriteString("Requests are compared at the race's settings, the same batch size for every client, not at each client's defaults. ")
	md.WriteString("p99 is shown as each client's median, and judged as CPU is, by the median over rounds of the ratio to " + Baseline + "'s p99 in the same round. ")
	md.WriteString("Allocations per record and `kprod perf`'s cost are measured elsewhere: `BenchmarkProduce` in the root package, and cmd/kprod/README.md.\n\n")
	fmt.Fprintf(md, "The %s column is the floor (the harness, the record format, the codec and the hand-off of completions, with nothing sent) against %s: a CPU target below it asks the producer to spend less than the floor, which neither partitions, buffers, sends nor reads a response.\n\n", Floor, Baseline)
	md.WriteString("| broker | workload | CPU vs " + Baseline + " | " + Floor + " vs " + Baseline + " | peak RSS MiB | requests/Mrecord vs " + Baseline + " | p99 vs " + Baseline + " |\n")
	md.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range all {
		for _, name := range r.Workloads {
			w, _ := WorkloadByName(name)
			us, them := cellOf(r, name, ours), cellOf(r, name, Baseline)
			if us.runs == 0 || them.runs == 0 {
				continue
			}
			fmt.Fprintf(md, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Broker, w.Title,
				cpuVerdict(name, us.ratio), floorVerdict(name, cellOf(r, name, Floor)), rssVerdict(us.maxRSS),
				requestsVerdict(us.requestsPerM, them.requestsPerM), latencyVerdict(w, us, them))
		}
	}
	md.WriteString("\n")
	writeScaling(md, all)
}

// writeScaling holds this producer to costing no more CPU per record with
// 5,000 synchronous senders than with 1,000, beside the baseline's and the
// floor's ratios of the same two workloads.
func writeScaling(md *strings.Builder, all []*Results) {
	few, many := sendersScaling[0], sendersScaling[1]
	wrote := false
	for _, r := range all {
		if !slices.Contains(r.Workloads, few) || !slices.Contains(r.Workloads, many) {
			continue
		}
		if !wrote {
			md.WriteString("CPU per record with 5,000 synchronous senders over that with 1,000 (medians), in the same race; the target is at most 1.0x for " + ours + ":\n\n")
			md.WriteString("| broker | " + ours + " | " + Baseline + " | " + Floor + " |\n|---|---|---|---|\n")
			wrote = true
		}
		fmt.Fprintf(md, "| %s | %s | %s | %s |\n", r.Broker,
			scalingVerdict(cellOf(r, few, ours), cellOf(r, many, ours), true),
			scalingVerdict(cellOf(r, few, Baseline), cellOf(r, many, Baseline), false),
			scalingVerdict(cellOf(r, few, Floor), cellOf(r, many, Floor), false))
	}
	if wrote {
		md.WriteString("\n")
	}
}

// scalingVerdict is many's CPU per record over few's, judged against the
// target when target is set.
func scalingVerdict(few, many cell, target bool) string {
	if few.runs == 0 || many.runs == 0 || few.cpuPerRecord == 0 {
		return "not run"
	}
	ratio := many.cpuPerRecord / few.cpuPerRecord
	if !target {
		return fmt.Sprintf("%.2fx", ratio)
	}
	return fmt.Sprintf("%.2fx (≤ 1.0x: %s)", ratio, met(ratio <= 1))
}

// cpuVerdict is the CPU ratio to the baseline, judged against the
// workload's target. A ratio of 0 is unknown, the two clients having no
// good run in a common round: it says "n/a", as the grid of ratios does,
// and judges nothing, where 0.00x would read as the largest of wins.
func cpuVerdict(workload string, ratio float64) string {
	if ratio == 0 {
		return "n/a"
	}
	target, ok := cpuTargets[workload]
	if !ok {
		return fmt.Sprintf("%.2fx", ratio)
	}
	return fmt.Sprintf("%.2fx (≤ %.1fx: %s)", ratio, target, met(ratio <= target))
}

// floorVerdict is the floor's CPU ratio, and whether the workload's
// target lies below it; "n/a" when the ratio is unknown, as cpuVerdict
// says.
func floorVerdict(workload string, floor cell) string {
	switch {
	case floor.runs == 0:
		return "not run"
	case floor.ratio == 0:
		return "n/a"
	}
	target, ok := cpuTargets[workload]
	if !ok || floor.ratio <= target {
		return fmt.Sprintf("%.2fx", floor.ratio)
	}
	return fmt.Sprintf("%.2fx (the target is below it)", floor.ratio)
}

// rssVerdict shows a tenth of a MiB, so that a peak just past the limit
// does not read as the limit itself.
func rssVerdict(rss float64) string {
	limit := float64(bufferMemory + rssHeadroom)
	return fmt.Sprintf("%.1f (≤ %d: %s)", rss/(1<<20), int(limit)>>20, met(rss <= limit))
}

func requestsVerdict(us, them float64) string {
	if us < 0 || them < 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.0f vs %.0f (%s)", us, them, met(us <= them))
}

// latencyVerdict shows both clients' median p99 and judges the target as
// CPU is judged, by the median of the per-round ratios; by the medians
// alone when no round has both.
func latencyVerdict(w Workload, us, them cell) string {
	if w.Rate == 0 {
		return ""
	}
	if us.p99Ratio == 0 {
		return fmt.Sprintf("%s vs %s ms (%s)", ms(us.p99), ms(them.p99), met(us.p99 <= them.p99))
	}
	return fmt.Sprintf("%s vs %s ms, %.3fx by round (%s)", ms(us.p99), ms(them.p99), us.p99Ratio, met(us.p99Ratio <= 1))
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}
