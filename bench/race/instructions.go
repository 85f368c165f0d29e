package race

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/producer/bench/driver"
)

// This file is the race's -instructions mode: it counts what a client does
// per record instead of timing it. On a shared machine a client's CPU time
// moves by a quarter from run to run; the instructions it executes move by
// a few percent, so a change or a workload that changes the work shows in
// one round. What the count cannot see is time spent waiting for memory:
// the same instructions cost more with 5,000 goroutines' stacks going cold
// between turns than with 1,000.
//
// valgrind's callgrind counts every instruction of the process, all its
// threads together. Start-up and the warm-up record are the same in any
// run, so each run is made twice on the same topic, once with a quarter of
// the records, and the difference is divided by the records the full run
// had more: a record's cost in steady state.

// countTool is what counts the instructions.
const countTool = "valgrind"

// countingEnv runs a client with one P, since callgrind runs one thread at
// a time whatever GOMAXPROCS says, and without the runtime's asynchronous
// preemption, whose signals callgrind 3.19 aborts on ("vgCallgrind_post_
// signal: Assertion ... failed") once thousands of goroutines take turns.
var countingEnv = []string{"GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1"}

// countedRecords is how many records the shorter of a counted run's two
// runs sends.
func countedRecords(records int) int { return max(1, records/4) }

// countGo makes a counted run of a Go contender's binary under callgrind,
// as countRuns says, with a cacheSize simulating a last-level cache of that
// many bytes.
func countGo(ctx context.Context, workDir, binary string, s driver.Settings, cacheSize int64) (measured, perRecord, error) {
	args := []string{"--tool=callgrind"}
	if cacheSize != 0 {
		args = append(args, cacheSimArgs(cacheSize)...)
	}
	outPrefix := filepath.Join(workDir, "callgrind."+filepath.Base(binary))
	return countRuns(s, outPrefix, cacheSize != 0, func(settings driver.Settings, out string) (measured, error) {
		return runGoWith(ctx, binary, settings, countingEnv, countTool, append(args, "--callgrind-out-file="+out)...)
	})
}

// countedRun runs a client once for s, counting, and has callgrind's
// output written to the file out.
type countedRun func(s driver.Settings, out string) (measured, error)

// countRuns makes a counted run's two runs of s, with a quarter of its
// records and then all of them, their callgrind files named outPrefix and
// the run's index. It returns the full run's measurements with the
// records and failures of both, and the first failure's text, since both
// sent to the topic and a failure of either fails the run; and what a
// record cost between the two: its instructions and, with cacheMisses, its
// misses in the simulated cache.
func countRuns(s driver.Settings, outPrefix string, cacheMisses bool, run countedRun) (m measured, per perRecord, err error) {
	short := s
	short.Records = countedRecords(s.Records)
	if short.Records >= s.Records {
		return measured{}, perRecord{}, fmt.Errorf("counting instructions needs at least 2 records a run, not %d", s.Records)
	}
	var totals [2]map[string]int64
	var both driver.Result
	for i, settings := range []driver.Settings{short, s} {
		out := fmt.Sprintf("%s.%d", outPrefix, i)
		if m, err = run(settings, out); err != nil {
			return measured{}, perRecord{}, fmt.Errorf("under callgrind: %w", err)
		}
		if totals[i], err = callgrindTotals(out); err != nil {
			return measured{}, perRecord{}, err
		}
		_ = os.Remove(out)
		both.Produced += m.result.Produced
		both.Failed += m.result.Failed
		if both.FirstError == "" {
			both.FirstError = m.result.FirstError
		}
	}
	m.result.Produced, m.result.Failed, m.result.FirstError = both.Produced, both.Failed, both.FirstError
	more := float64(s.Records - short.Records)
	each := func(event string) float64 { return float64(totals[1][event]-totals[0][event]) / more }
	per = perRecord{instructions: each("Ir")}
	if cacheMisses {
		per.readMisses, per.writeMisses = each("DLmr"), each("DLmw")
	}
	return m, per, nil
}

// perRecord is what a record cost in steady state, as countGo counts it.
type perRecord struct {
	instructions float64
	// readMisses and writeMisses are data reads and writes that missed
	// the simulated last-level cache.
	readMisses, writeMisses float64
}

// callgrindTotals reads the process's total of each event from a callgrind
// output file: the "events:" line names them, the "totals:" line counts
// them ("summary:" in a file cut short of it). Ir, the instructions, is
// always among them.
func callgrindTotals(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var events, summary, totals []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch key {
		case "events":
			events = strings.Fields(value)
		case "summary":
			summary = strings.Fields(value)
		case "totals":
			totals = strings.Fields(value)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if totals == nil {
		totals = summary
	}
	switch {
	case totals == nil:
		return nil, fmt.Errorf("%s: no totals: or summary: line (not callgrind's output?)", path)
	case !slices.Contains(events, "Ir"):
		return nil, fmt.Errorf("%s: the events: line %q has no instruction count (Ir)", path, strings.Join(events, " "))
	case len(totals) > len(events):
		return nil, fmt.Errorf("%s: %d totals for %d events", path, len(totals), len(events))
	}
	counts := make(map[string]int64, len(events))
	for i, event := range events {
		if i >= len(totals) {
			break // the format counts the events a list leaves out as zero
		}
		n, err := strconv.ParseInt(totals[i], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s total %q is not a count", path, event, totals[i])
		}
		counts[event] = n
	}
	return counts, nil
}

// checkCountTool says why the -instructions mode cannot run here, if it
// cannot.
func checkCountTool() error {
	if _, err := exec.LookPath(countTool); err != nil {
		return fmt.Errorf("counting instructions needs %s (callgrind), e.g. apt-get install valgrind: %w", countTool, err)
	}
	return nil
}

// Run.instructions is the run's instructions per record, as perRound and
// the medians take a metric.
func (r Run) instructions() float64 { return r.Instructions }

// medianOf is the median of metric over client's good runs on workload in
// r, and how many good and failed runs it has.
func medianOf(r *Results, workload, client string, metric func(Run) float64) (m float64, runs, failed int) {
	var values []float64
	for _, run := range r.Runs {
		switch {
		case run.Workload != workload || run.Client != client:
		case run.Err != "":
			failed++
		default:
			values = append(values, metric(run))
		}
	}
	return median(values), len(values), failed
}

// writeInstructions reports a race that counted instructions: per workload
// and client, the median of the instructions per record and its ratio to
// the baseline's (the median of the per-round ratios), the ratio of 5,000
// senders to 1,000, and this tree's gokafka against each gokafka@REF.
func writeInstructions(md *strings.Builder, r *Results) {
	if r.CacheSize != 0 {
		fmt.Fprintf(md, "## Instructions and cache misses per record on the %s broker, %s cache\n\n", r.Broker, FormatCacheSize(r.CacheSize))
	} else {
		fmt.Fprintf(md, "## Instructions per record on the %s broker\n\n", r.Broker)
	}
	fmt.Fprintf(md, "Counted %s, %s; %s; %d records per throughput run, %d per latency run, each run made twice on one topic, first with a quarter of the records, then with all of them.\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Duration, roundsOf(r), r.Records, r.Latency)
	writeSkipped(md, r, "Not counted")
	if r.CacheSize != 0 {
		writeCacheMethod(md, r)
	} else {
		md.WriteString("Each Go client ran under `valgrind --tool=callgrind`, which counts every instruction the process executes, all its threads and the Go runtime's included, with `GOMAXPROCS=1` (callgrind runs one thread at a time) and the runtime's asynchronous preemption off. ")
		md.WriteString("A record's cost is the difference between the two runs' counts over the difference in records: start-up and the warm-up record, the same in both, drop out. ")
		md.WriteString("Counts move by a few percent from run to run where CPU time on this machine moves by a quarter, so one round shows what a change does to the work. ")
		md.WriteString("They do not show time spent waiting for memory: the same instructions cost more when thousands of goroutines' stacks have gone cold between turns, and a client that allocates for every record pays more in cache misses than its count shows. ")
		fmt.Fprintf(md, "The %s is built to cost least on two cores: on one P its completion goroutine runs only once the producing goroutine yields, its queue of completions grows long and the garbage collector scans it, so without senders it can count more than a client.\n\n", Floor)
	}

	fmt.Fprintf(md, "Instructions per record (median of rounds), and against %s (median of the per-round ratios):\n\n", Baseline)
	writeGrid(md, r, r.Workloads, func(workload, client string) string {
		count, runs, failed := medianOf(r, workload, client, Run.instructions)
		ratio := median(perRound(r, workload, client, Baseline, Run.instructions))
		switch {
		case runs == 0 && failed == 0:
			return "—"
		case runs == 0:
			return "failed"
		case client == Baseline || ratio == 0:
			return fmt.Sprintf("%.0f", count)
		}
		return fmt.Sprintf("%.0f (%.2fx)", count, ratio)
	})

	few, many := sendersScaling[0], sendersScaling[1]
	if slices.Contains(r.Workloads, few) && slices.Contains(r.Workloads, many) {
		md.WriteString("Instructions per record with 5,000 synchronous senders over those with 1,000:\n\n")
		md.WriteString("| client | 1,000 senders | 5,000 senders | ratio |\n|---|---:|---:|---:|\n")
		for _, c := range r.Clients {
			a, aRuns, _ := medianOf(r, few, c, Run.instructions)
			b, bRuns, _ := medianOf(r, many, c, Run.instructions)
			if aRuns == 0 || bRuns == 0 || a == 0 {
				continue
			}
			fmt.Fprintf(md, "| %s | %.0f | %.0f | %.2fx |\n", c, a, b, b/a)
		}
		md.WriteString("\n")
	}

	for _, ref := range r.Clients {
		if !strings.Contains(ref, refSeparator) || !slices.Contains(r.Clients, ours) {
			continue
		}
		fmt.Fprintf(md, "%s's instructions per record against %s's, per-round ratios, median and range:\n\n", ours, ref)
		md.WriteString("| workload | ratio | lower | p |\n|---|---:|---:|---:|\n")
		for _, name := range r.Workloads {
			ratios := perRound(r, name, ours, ref, Run.instructions)
			if len(ratios) == 0 {
				continue
			}
			w, _ := WorkloadByName(name)
			lower, decided := lowerRounds(ratios)
			fmt.Fprintf(md, "| %s | %s | %d of %d | %.2f |\n", w.Title, spread(ratios), lower, len(ratios), signTest(lower, decided))
		}
		md.WriteString("\n")
	}
	if r.CacheSize != 0 {
		writeCacheMisses(md, r)
	}
	writeFailures(md, r)
}
