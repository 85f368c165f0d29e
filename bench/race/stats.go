package race

import (
	"slices"
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
	// p99Ratio is the median over rounds of p99 / the baseline's p99 in
	// the same round; 0 if unknown. Like ratio, it pairs each run with the
	// baseline's of its round: the broker's tail moves from round to round
	// for both clients alike, which the two medians alone do not show.
	p99Ratio float64
}

// cellOf summarizes client's runs of workload in r.
func cellOf(r *Results, workload, client string) cell {
	var c cell
	var cpu, rate, rss, reqs, p50, p99, ratios, p99Ratios []float64
	baseline := map[int]Run{}
	for _, run := range r.Runs {
		if run.Workload == workload && run.Client == Baseline && run.Err == "" {
			baseline[run.Round] = run
		}
	}
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
		p50 = append(p50, float64(run.P50))
		p99 = append(p99, float64(run.P99))
		b, ok := baseline[run.Round]
		if ok && b.cpuPerRecord() > 0 {
			ratios = append(ratios, run.cpuPerRecord()/b.cpuPerRecord())
		}
		if ok && run.P99 > 0 && b.P99 > 0 {
			p99Ratios = append(p99Ratios, float64(run.P99)/float64(b.P99))
		}
	}
	c.cpuPerRecord, c.recordsPerS, c.maxRSS = median(cpu), median(rate), median(rss)
	c.ratio, c.p99Ratio = median(ratios), median(p99Ratios)
	c.requestsPerM = -1
	if len(reqs) > 0 {
		c.requestsPerM = median(reqs)
	}
	c.p50, c.p99 = time.Duration(median(p50)), time.Duration(median(p99))
	return c
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
