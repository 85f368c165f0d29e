package race

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// TestCallgrindTotals reads each event's count from callgrind's totals:
// line, from summary: when a file has no totals:, with the events a short
// list leaves out as zero, and refuses a file with neither line, one whose
// counts do not match its events, or one without the instruction count.
func TestCallgrindTotals(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name, text string
		want       map[string]int64
	}{
		{"both", "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 433108043\nfl=(1) a.go\nfn=(1) main\n3 12\ntotals: 433108043\n", map[string]int64{"Ir": 433108043}},
		{"totals wins", "events: Ir\nsummary: 5\ntotals: 7\n", map[string]int64{"Ir": 7}},
		{"summary only", "events: Ir\nsummary: 42\n", map[string]int64{"Ir": 42}},
		{"cache simulated", "positions: line\nevents: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\nsummary: 438249868 111072343 73096221 1533913 3288198 3031993 479809 2586100 2767975\ntotals: 438249865 111072342 73096221 1533912 3288198 3031993 479808 2586100 2767975\n",
			map[string]int64{"Ir": 438249865, "Dr": 111072342, "Dw": 73096221, "I1mr": 1533912, "D1mr": 3288198, "D1mw": 3031993, "ILmr": 479808, "DLmr": 2586100, "DLmw": 2767975}},
		{"short list", "events: Ir DLmr DLmw\ntotals: 10 3\n", map[string]int64{"Ir": 10, "DLmr": 3}},
	} {
		got, err := callgrindTotals(write(tc.name, tc.text))
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
	for name, text := range map[string]string{
		"neither":         "version: 1\nevents: Ir\n",
		"not a number":    "events: Ir Dr\ntotals: 12 x\n",
		"more than named": "events: Ir\ntotals: 12 34\n",
		"no instructions": "events: DLmr DLmw\ntotals: 1 2\n",
	} {
		if counts, err := callgrindTotals(write(name, text)); err == nil {
			t.Errorf("%s: read %v, want an error", name, counts)
		}
	}
	if _, err := callgrindTotals(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file read without an error")
	}
}

// TestCountRunsAddsBothRuns gives a counted run's result the records and
// failures of both its runs, the first failure's error, and a record's
// cost from the difference of the two counts: a failure of the shorter
// run alone must fail the run as one of the full run does.
func TestCountRunsAddsBothRuns(t *testing.T) {
	const records = 800
	s := driver.Settings{Topic: "t", Records: records}
	for _, tc := range []struct {
		name      string
		failed    [2]int64 // per run, shorter first
		wantError string
	}{
		{"no failure", [2]int64{0, 0}, ""},
		{"the shorter run's", [2]int64{3, 0}, "run 0: TIMED_OUT"},
		{"the full run's", [2]int64{0, 2}, "run 1: TIMED_OUT"},
		{"both runs'", [2]int64{3, 2}, "run 0: TIMED_OUT"},
	} {
		outPrefix := filepath.Join(t.TempDir(), "callgrind.client")
		var ran []int
		m, per, err := countRuns(s, outPrefix, true, func(settings driver.Settings, out string) (measured, error) {
			i := len(ran)
			ran = append(ran, settings.Records)
			// Start-up costs a million instructions, a record 3,000 and
			// 20 and 10 misses.
			n := int64(settings.Records)
			text := fmt.Sprintf("events: Ir DLmr DLmw\ntotals: %d %d %d\n", 1_000_000+3000*n, 500+20*n, 300+10*n)
			if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
				return measured{}, err
			}
			r := driver.Result{Produced: settings.Records + 1, Failed: tc.failed[i], Elapsed: time.Duration(i+1) * time.Second}
			if r.Failed > 0 {
				r.FirstError = fmt.Sprintf("run %d: TIMED_OUT", i)
			}
			return measured{result: r, requests: -1}, nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(ran, []int{countedRecords(records), records}) {
			t.Errorf("%s: runs of %v records, want a quarter of %d, then all", tc.name, ran, records)
		}
		want := driver.Result{
			Produced: records + countedRecords(records) + 2, Failed: tc.failed[0] + tc.failed[1],
			FirstError: tc.wantError, Elapsed: 2 * time.Second, // the full run's
		}
		if m.result.Produced != want.Produced || m.result.Failed != want.Failed || m.result.FirstError != want.FirstError || m.result.Elapsed != want.Elapsed {
			t.Errorf("%s: result %+v, want %+v", tc.name, m.result, want)
		}
		if per != (perRecord{instructions: 3000, readMisses: 20, writeMisses: 10}) {
			t.Errorf("%s: a record cost %+v, want 3000 instructions, 20 and 10 misses", tc.name, per)
		}
	}
}

// TestReportInstructions renders a race that counted instructions: the
// counts with their ratios to the baseline by round, 5,000 senders against
// 1,000, gokafka against a gokafka@REF with its sign test, and no CPU
// tables or targets, which such a race cannot fill.
func TestReportInstructions(t *testing.T) {
	ref := ours + refSeparator + "abc1234"
	r := &Results{
		Broker: "embedded", Instructions: true, Started: time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC),
		Rounds: 2, Records: 400000, Latency: 2000,
		Clients:   []string{ours, Baseline, Floor, ref},
		Workloads: []string{"senders", "senders5k"},
		Skipped:   []string{"java: instructions are counted for the Go clients only"},
	}
	counts := map[string][2]float64{ // per client, senders and senders5k
		ours:     {3200, 2900},
		Baseline: {5100, 5200},
		Floor:    {2100, 2100},
		ref:      {3300, 3000},
	}
	for round := 1; round <= 2; round++ {
		for client, c := range counts {
			for i, w := range r.Workloads {
				if round == 2 && w == "senders" && client == ref {
					r.Runs = append(r.Runs, Run{Round: round, Workload: w, Client: client, Err: "callgrind: killed"})
					continue
				}
				// The second round costs 2% more for everyone: the ratios
				// by round stay, the medians move.
				n := c[i] * (1 + 0.02*float64(round-1))
				r.Runs = append(r.Runs, Run{Round: round, Workload: w, Client: client, Records: 400000, Instructions: n})
			}
		}
	}

	md := render(t, r, t.TempDir())
	for _, want := range []string{
		"## Instructions per record on the embedded broker",
		"- Not counted: java: instructions are counted for the Go clients only",
		"| workload | gokafka | franz-go | floor | gokafka@abc1234 |",
		"| 1,000 synchronous senders | 3232 (0.63x) | 5151 | 2121 (0.41x) | 3300 (0.65x) |",
		"| 5,000 synchronous senders | 2929 (0.56x) | 5252 | 2121 (0.40x) | 3030 (0.58x) |",
		"| gokafka | 3232 | 2929 | 0.91x |",
		"| gokafka@abc1234 | 3300 | 3030 | 0.92x |",
		"| franz-go | 5151 | 5252 | 1.02x |",
		"| 1,000 synchronous senders | 0.970x (0.97-0.97) | 1 of 1 | 1.00 |",
		"| 5,000 synchronous senders | 0.967x (0.97-0.97) | 2 of 2 | 0.50 |",
		"- round 2, senders, gokafka@abc1234: callgrind: killed",
		"go run ./bench/cmd/race -instructions",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("RESULTS.md lacks %q:\n%s", want, md)
		}
	}
	for _, unwanted := range []string{"## Against the targets", "CPU per record against", "race-embedded.svg"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("a race that counted instructions got %q:\n%s", unwanted, md)
		}
	}
}

// TestInstructionsAndTimingKeepTheirOwnResults: a race that counts
// instructions on a broker does not replace the race that timed runs on
// it, and the report has both, the timed one first and alone in the
// targets.
func TestInstructionsAndTimingKeepTheirOwnResults(t *testing.T) {
	runs := func(instructions bool) []Run {
		var out []Run
		for _, c := range []string{ours, Baseline} {
			run := Run{Round: 1, Workload: "nokey", Client: c, Records: 1000, CPU: time.Millisecond, MaxRSS: 1 << 20, Elapsed: time.Millisecond, Requests: 1}
			if instructions {
				run.Instructions = 1000
			}
			out = append(out, run)
		}
		return out
	}
	out := t.TempDir()
	for _, counted := range []bool{true, false} {
		r := &Results{Broker: "embedded", Instructions: counted, Rounds: 1, Records: 1000, Latency: 10,
			Clients: []string{ours, Baseline}, Workloads: []string{"nokey"}, Runs: runs(counted)}
		if err := WriteResults(filepath.Join(out, "results"), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"embedded.json", "embedded-instructions.json"} {
		if _, err := os.Stat(filepath.Join(out, "results", name)); err != nil {
			t.Errorf("results/%s: %v", name, err)
		}
	}
	if err := Render(filepath.Join(out, "results"), out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	timed := strings.Index(md, "## On the embedded broker")
	counted := strings.Index(md, "## Instructions per record on the embedded broker")
	targets := strings.Index(md, "## Against the targets")
	if timed < 0 || counted < timed || targets < counted {
		t.Fatalf("want the timed race, then the counted one, then the targets; at %d, %d, %d:\n%s", timed, counted, targets, md)
	}
	if rows := strings.Count(md[targets:], "| embedded | no key, no compression |"); rows != 1 {
		t.Errorf("the targets hold %d rows for the one timed workload:\n%s", rows, md[targets:])
	}
}

// TestRaceCountsInstructions counts gokafka's and the floor's
// instructions through the whole harness: two runs per client on one
// topic, whose watermarks hold both. It skips where valgrind is not
// installed, but not in CI, which installs it (.ci/run).
func TestRaceCountsInstructions(t *testing.T) {
	const records = 8000
	res, log := countSenders(t, records, 0, ours, Floor, "java")
	if !res.Instructions || len(res.Skipped) != 1 || !strings.HasPrefix(res.Skipped[0], "java:") {
		t.Errorf("instructions %v, skipped %q: want counted, with java skipped", res.Instructions, res.Skipped)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs, want 2:\n%s", len(res.Runs), log)
	}
	if strings.Contains(log, "cache misses") {
		t.Errorf("a race without a simulated cache logs misses:\n%s", log)
	}
	want := records + countedRecords(records) + 2 // both runs' warm-up records
	for _, r := range res.Runs {
		if r.Err != "" {
			t.Fatalf("%s: %s", r.Client, r.Err)
		}
		// A record of 1,000 synchronous senders takes 2,000 to 4,000
		// instructions; the process's start-up, some hundred million,
		// would add over 10,000 a record had it not been subtracted.
		t.Logf("%s: %.0f instructions a record", r.Client, r.Instructions)
		if r.Instructions < 1000 || r.Instructions > 10000 {
			t.Errorf("%s: %.0f instructions a record", r.Client, r.Instructions)
		}
		if r.Produced != want || (r.Client == ours && r.Counted != int64(want)) {
			t.Errorf("%s: produced %d, counted %d, want %d", r.Client, r.Produced, r.Counted, want)
		}
	}
}

// needCountTool skips a test that runs clients under valgrind where it is
// not installed, and fails it in CI, which installs it (.ci/run).
func needCountTool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(countTool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed, and CI installs it: %v", countTool, err)
		}
		t.Skipf("%s is not installed", countTool)
	}
}

// countSenders races clients on the 1,000 senders' workload for one round
// of records, counting instructions under valgrind, and with a cacheSize
// simulating a cache of that many bytes; it returns the results and the
// race's log. It skips or fails the test as needCountTool does.
func countSenders(t *testing.T, records int, cacheSize int64, clients ...string) (*Results, string) {
	t.Helper()
	needCountTool(t)
	ctx, moduleDir := raceSetup(t)
	w, err := WorkloadByName("senders")
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	res, err := Race(ctx, Options{
		Clients: contendersNamed(t, clients...), Workloads: []Workload{w}, Rounds: 1,
		Records: records, LatencyRecords: 100, Instructions: true, CacheSize: cacheSize,
		BrokerName: "embedded", ModuleDir: moduleDir, WorkDir: t.TempDir(), Log: &log,
	})
	if err != nil {
		t.Fatalf("race: %v\n%s", err, log.String())
	}
	return res, log.String()
}
