package race

import (
	"slices"
	"strings"
	"time"
)

// cell is one client on one workload: the medians of its good runs.
type cell struct {
	runs, failed int
	cpuPerRecord float64 // µs of user+sys CPU per record
	ratio        float64 // median over rounds of cpuPerRecord / the baseline's; 0 if unknown
	recordsPerS  float64
	maxRSS       float64 // bytes
	requestsPerM float64 // Produce requests per million records; <0 if unknown
	p50, p99     time.Duration
	senderStack  float64 // bytes of goroutine stack per sender; 0 if unknown
	// p99Ratio is the median over rounds of p99 / the baseline's p99 in
	// the same round; 0 if unknown. Like ratio, it pairs each run with the
	// baseline's of its round: the broker's tail moves from round to round
	// for both clients alike, which the two medians alone do not show.
	p99Ratio float64
	// latencyFrom says where the runs' latencies start (latencyOrigin),
	// each origin once, in the order of the runs.
	latencyFrom string
}

// cellOf summarizes client's runs of workload in r.
func cellOf(r *Results, workload, client string) cell {
	var c cell
	var cpu, rate, rss, reqs, p50, p99, stacks []float64
	var origins []string
	for _, run := range r.Runs {
		if run.Workload != workload || run.Client != client {
			continue
		}
		if run.Err != "" {
			c.failed++
			continue
		}
		c.runs++
		cpu = append(cpu, run.cpuPerRecord())
		rate = append(rate, run.recordsPerSec())
		rss = append(rss, float64(run.MaxRSS))
		if run.Requests >= 0 {
			reqs = append(reqs, float64(run.Requests)*1e6/float64(run.Records))
		}
		if o := latencyOrigin(run); !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
		p50 = append(p50, float64(run.P50))
		p99 = append(p99, float64(run.P99))
		if run.SenderStack > 0 {
			stacks = append(stacks, float64(run.SenderStack))
		}
	}
	c.senderStack = median(stacks)
	c.cpuPerRecord, c.recordsPerS, c.maxRSS = median(cpu), median(rate), median(rss)
	c.ratio = median(perRound(r, workload, client, Baseline, Run.cpuPerRecord))
	c.p99Ratio = median(perRound(r, workload, client, Baseline, Run.p99))
	c.requestsPerM = -1
	if len(reqs) > 0 {
		c.requestsPerM = median(reqs)
	}
	c.p50, c.p99 = time.Duration(median(p50)), time.Duration(median(p99))
	c.latencyFrom = strings.Join(origins, ", ")
	return c
}

// perRound pairs a's and b's good runs of workload round by round: for
// each round where both have one with a positive metric, a's metric over
// b's. A ratio within a round is what the race measures, the machine's
// load being the same for both; across rounds it is not.
func perRound(r *Results, workload, a, b string, metric func(Run) float64) []float64 {
	of := map[int]float64{}
	for _, run := range r.Runs {
		if run.Workload == workload && run.Client == b && run.Err == "" {
			of[run.Round] = metric(run)
		}
	}
	var ratios []float64
	for _, run := range r.Runs {
		if run.Workload != workload || run.Client != a || run.Err != "" {
			continue
		}
		if m, theirs := metric(run), of[run.Round]; m > 0 && theirs > 0 {
			ratios = append(ratios, m/theirs)
		}
	}
	return ratios
}

// median of xs; 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
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
