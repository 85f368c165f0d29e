package race

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// writeAgainstRefs compares, in r, this tree's gokafka with each gokafka@REF
// raced beside it (library.go): per workload, the median of the per-round
// ratios and in how many rounds this tree's was lower, with a two-sided sign
// test of that count: whether a change moved anything is judged against
// the spread of its rounds.
func writeAgainstRefs(md *strings.Builder, r *Results) {
	if !slices.Contains(r.Clients, ours) {
		return
	}
	for _, ref := range r.Clients {
		if !strings.Contains(ref, refSeparator) {
			continue
		}
		fmt.Fprintf(md, "### %s against %s\n\n", ours, ref)
		fmt.Fprintf(md, "Per-round ratios of %s (this tree) to %s, median and range; \"lower\" counts the rounds in which %s's was lower, and p is a two-sided sign test of that count.\n\n", ours, ref, ours)
		md.WriteString("| workload | CPU per record | lower | p | records/s | Produce requests/Mrecord | p99 | lower | p |\n")
		md.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, name := range r.Workloads {
			w, _ := WorkloadByName(name)
			cpu := perRound(r, name, ours, ref, Run.cpuPerRecord)
			if len(cpu) == 0 {
				continue
			}
			lower, decided := lowerRounds(cpu)
			us, them := cellOf(r, name, ours), cellOf(r, name, ref)
			reqs := "unknown"
			if us.requestsPerM >= 0 && them.requestsPerM >= 0 {
				reqs = fmt.Sprintf("%.0f vs %.0f", us.requestsPerM, them.requestsPerM)
			}
			p99 := "  |  |  |"
			if ratios := perRound(r, name, ours, ref, Run.p99); len(ratios) > 0 {
				k, n := lowerRounds(ratios)
				p99 = fmt.Sprintf(" %s | %d of %d | %.2f |", spread(ratios), k, len(ratios), signTest(k, n))
			}
			fmt.Fprintf(md, "| %s | %s | %d of %d | %.2f | %s | %s |%s\n",
				w.Title, spread(cpu), lower, len(cpu), signTest(lower, decided),
				spread(perRound(r, name, ours, ref, Run.recordsPerSec)), reqs, p99)
		}
		md.WriteString("\n")
	}
}

// spread is ratios' median with their range.
func spread(ratios []float64) string {
	return fmt.Sprintf("%.3fx (%.2f-%.2f)", median(ratios), slices.Min(ratios), slices.Max(ratios))
}

// lowerRounds counts the ratios below 1, and those not equal to 1: a tie
// goes neither way, so the sign test leaves it out.
func lowerRounds(ratios []float64) (lower, decided int) {
	for _, x := range ratios {
		if x < 1 {
			lower++
		}
		if x != 1 {
			decided++
		}
	}
	return lower, decided
}

// signTest is the two-sided p-value of k rounds of n going one way, were
// each round a fair coin: how often a change that moved nothing would
// look at least this lopsided. With no rounds decided it is 1.
func signTest(k, n int) float64 {
	tail := min(k, n-k)
	p := 0.0
	for i := 0; i <= tail; i++ {
		p += binomial(n, i)
	}
	return min(1, 2*p/math.Exp2(float64(n)))
}

// binomial is n choose k, as a float: rounds number in the tens.
func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return c
}
