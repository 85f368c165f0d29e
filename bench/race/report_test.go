package race

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/producer/bench/driver"
)

// TestCommitsNamesEachRaceWhenTheyDiffer keeps a race from a changed work
// tree from being reported as the clean commit.
func TestCommitsNamesEachRaceWhenTheyDiffer(t *testing.T) {
	same := []*Results{{Broker: "embedded", Commit: "abc"}, {Broker: "kafka", Commit: "abc"}}
	if got := commits(same); got != " at abc" {
		t.Errorf("one commit: %q, want %q", got, " at abc")
	}
	differ := []*Results{{Broker: "embedded", Commit: "abc"}, {Broker: "kafka", Commit: "abc-dirty"}}
	if got, want := commits(differ), " at abc (embedded), abc-dirty (kafka)"; got != want {
		t.Errorf("two commits: %q, want %q", got, want)
	}
	counted := []*Results{{Broker: "embedded", Commit: "abc"}, {Broker: "embedded", Instructions: true, Commit: "def"}}
	if got, want := commits(counted), " at abc (embedded), def (embedded-instructions)"; got != want {
		t.Errorf("a timed and a counted race: %q, want %q", got, want)
	}
	if got := commits([]*Results{{Broker: "embedded"}}); got != "" {
		t.Errorf("outside git: %q, want none", got)
	}
}

// TestVersionTableNamesOnlyTheRacesAClientRan: a client's row names the
// commits of the races it ran in, not those of every results file.
func TestVersionTableNamesOnlyTheRacesAClientRan(t *testing.T) {
	good := func(client string) []Run { return []Run{{Client: client, Version: "(devel)"}} }
	all := []*Results{
		{Broker: "embedded", Commit: "aaa", Clients: []string{"gokafka", "floor"}, Runs: append(good("gokafka"), good("floor")...)},
		{Broker: "embedded", CacheSize: 16 << 20, Commit: "bbb", Clients: []string{"gokafka@ccc", "gokafka"}, Runs: append(good("gokafka@ccc"), good("gokafka")...)},
	}
	for _, c := range []struct{ client, want string }{
		{"floor", "this repository at aaa"},
		{"gokafka@ccc", "this repository's library at ccc, in the gokafka client at bbb"},
		{"gokafka", "this repository at aaa (embedded), bbb (embedded-cache-16MiB)"},
	} {
		if got := clientVersion(all, c.client); got != c.want {
			t.Errorf("%s: %q, want %q", c.client, got, c.want)
		}
	}
}

// TestTargetVerdicts holds the targets' boundaries: a value at the limit
// meets it, one past it does not; an unknown ratio (0) is "n/a" and meets
// nothing.
func TestTargetVerdicts(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{cpuVerdict("nokey", 0.5), "0.50x (≤ 0.5x: met)"},
		{cpuVerdict("nokey", 0.51), "0.51x (≤ 0.5x: not met)"},
		{cpuVerdict("zstd", 0.7), "0.70x (≤ 0.7x: met)"},
		{cpuVerdict("latency", 0.8), "0.80x"},
		{cpuVerdict("nokey", 0), "n/a"},
		{cpuVerdict("latency", 0), "n/a"},
		{rssVerdict(64 << 20), "64.0 (≤ 64: met)"},
		{rssVerdict(64<<20 + 300<<10), "64.3 (≤ 64: not met)"},
		{requestsVerdict(300, 300), "300 vs 300 (met)"},
		{requestsVerdict(301, 300), "301 vs 300 (not met)"},
		{requestsVerdict(-1, 300), "unknown"},
		{floorVerdict("senders", cell{runs: 3, ratio: 0.5}), "0.50x"},
		{floorVerdict("senders", cell{runs: 3, ratio: 0.63}), "0.63x (the target is below it)"},
		{floorVerdict("latency", cell{runs: 3, ratio: 0.9}), "0.90x"},
		{floorVerdict("nokey", cell{}), "not run"},
		{floorVerdict("nokey", cell{runs: 3}), "n/a"},
		{scalingVerdict(cell{runs: 3, cpuPerRecord: 2}, cell{runs: 3, cpuPerRecord: 2}, true), "1.00x (≤ 1.0x: met)"},
		{scalingVerdict(cell{runs: 3, cpuPerRecord: 2}, cell{runs: 3, cpuPerRecord: 2.2}, true), "1.10x (≤ 1.0x: not met)"},
		{scalingVerdict(cell{runs: 3, cpuPerRecord: 2}, cell{runs: 3, cpuPerRecord: 2.4}, false), "1.20x"},
		{scalingVerdict(cell{runs: 3, cpuPerRecord: 2}, cell{}, true), "not run"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestTargetsWithoutACommonRound: when this producer, the baseline and
// the floor have good runs but in no common round, the CPU ratios are
// unknown, and the targets say "n/a" rather than 0.00x, a win by any
// target.
func TestTargetsWithoutACommonRound(t *testing.T) {
	r := &Results{Broker: "embedded", Workloads: []string{"nokey"}}
	for round, client := range []string{ours, Baseline, Floor} {
		r.Runs = append(r.Runs, Run{Round: round + 1, Workload: "nokey", Client: client, Records: 1_000_000, CPU: time.Second, Requests: -1})
	}
	var md strings.Builder
	writeTargets(&md, []*Results{r})
	if want := "| embedded | no key, no compression | n/a | n/a |"; !strings.Contains(md.String(), want) {
		t.Errorf("the targets lack %q:\n%s", want, md.String())
	}
	if strings.Contains(md.String(), "0.00x") {
		t.Errorf("an unknown ratio shows as 0.00x:\n%s", md.String())
	}
}

// TestTargetsHoldFiveThousandSendersToOneThousand renders the scaling
// line from runs of both senders workloads.
func TestTargetsHoldFiveThousandSendersToOneThousand(t *testing.T) {
	r := &Results{Broker: "embedded", Workloads: []string{"senders", "senders5k"}}
	for _, run := range []struct {
		workload, client string
		cpu              time.Duration
	}{
		{"senders", ours, 2 * time.Second}, {"senders5k", ours, 2200 * time.Millisecond},
		{"senders", Baseline, 3 * time.Second}, {"senders5k", Baseline, 3 * time.Second},
		{"senders", Floor, time.Second}, {"senders5k", Floor, 1200 * time.Millisecond},
	} {
		r.Runs = append(r.Runs, Run{Round: 1, Workload: run.workload, Client: run.client, Records: 1_000_000, CPU: run.cpu, Requests: -1})
	}
	var md strings.Builder
	writeTargets(&md, []*Results{r})
	if want := "| embedded | 1.10x (≤ 1.0x: not met) | 1.00x | 1.20x |"; !strings.Contains(md.String(), want) {
		t.Errorf("the targets lack %q:\n%s", want, md.String())
	}
}

// TestSenderStacksOnTheSendersWorkloads: the stack per sender is a table
// of the workloads with senders, in KiB, a dash for a client without it,
// and none at all for a race that did not measure it.
func TestSenderStacksOnTheSendersWorkloads(t *testing.T) {
	r := &Results{Broker: "embedded", Workloads: []string{"nokey", "senders", "senders5k"}, Clients: []string{ours, Floor, "java"}}
	for round := 1; round <= 3; round++ {
		for _, w := range r.Workloads {
			stack := int64(0)
			if w != "nokey" {
				stack = 4096 + int64(round)*10 // median: 4116 bytes, 4.0 KiB
			}
			r.Runs = append(r.Runs,
				Run{Round: round, Workload: w, Client: ours, Records: 1000, CPU: time.Second, SenderStack: stack, Requests: -1},
				Run{Round: round, Workload: w, Client: Floor, Records: 1000, CPU: time.Second, SenderStack: stack / 2, Requests: -1},
				Run{Round: round, Workload: w, Client: "java", Records: 1000, CPU: time.Second, Requests: -1})
		}
	}
	var md strings.Builder
	writeSenderStacks(&md, r)
	for _, want := range []string{
		"| 1,000 synchronous senders | 4.0 | 2.0 | — |",
		"| 5,000 synchronous senders | 4.0 | 2.0 | — |",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the stacks lack %q:\n%s", want, md.String())
		}
	}
	if strings.Contains(md.String(), "no key") {
		t.Errorf("a workload without senders has a row:\n%s", md.String())
	}
	for i := range r.Runs {
		r.Runs[i].SenderStack = 0
	}
	md.Reset()
	if writeSenderStacks(&md, r); md.Len() != 0 {
		t.Errorf("a race that did not measure stacks wrote:\n%s", md.String())
	}
}

// TestLatencyJudgedByRound: p99 is judged by the median of the per-round
// ratios, as CPU is, so that a round where the broker's tail hit both
// clients does not decide it; the medians are shown beside it.
func TestLatencyJudgedByRound(t *testing.T) {
	latency, err := WorkloadByName("latency")
	if err != nil {
		t.Fatal(err)
	}
	r := &Results{Broker: "embedded", Workloads: []string{"latency"}}
	for round, p99 := range []struct{ us, them time.Duration }{
		// By medians, 0.50 against 0.45 ms; by round 1.11x, 0.95x, 0.90x.
		{500 * time.Microsecond, 450 * time.Microsecond},
		{400 * time.Microsecond, 420 * time.Microsecond},
		{720 * time.Microsecond, 800 * time.Microsecond},
	} {
		r.Runs = append(r.Runs,
			Run{Round: round + 1, Workload: "latency", Client: ours, Records: 50_000, CPU: time.Second, P99: p99.us, Requests: -1},
			Run{Round: round + 1, Workload: "latency", Client: Baseline, Records: 50_000, CPU: time.Second, P99: p99.them, Requests: -1})
	}
	us, them := cellOf(r, "latency", ours), cellOf(r, "latency", Baseline)
	if got, want := latencyVerdict(latency, us, them), "0.50 vs 0.45 ms, 0.952x by round (met)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// Without a round in common, the medians decide.
	for i := range r.Runs {
		if r.Runs[i].Client == Baseline {
			r.Runs[i].Round += 10
		}
	}
	us, them = cellOf(r, "latency", ours), cellOf(r, "latency", Baseline)
	if got, want := latencyVerdict(latency, us, them), "0.50 vs 0.45 ms (not met)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestCommitIgnoresTheRaceOutput: a tree whose only changes are the race's
// own output, new files among it, is the clean commit; any other change
// marks it dirty (TestCommitCountsAnUntrackedSourceFile).
func TestCommitIgnoresTheRaceOutput(t *testing.T) {
	dir, git, write := newWorkTree(t)
	for _, name := range []string{"bench/results/embedded.json", "bench/RESULTS.md", "bench/race-embedded.svg", "producer.go"} {
		write(name, "one")
	}
	git("add", ".")
	git("commit", "-q", "-m", "one")
	ctx := context.Background()
	clean := commitOf(ctx, filepath.Join(dir, "bench"))
	if clean == "" || strings.HasSuffix(clean, "-dirty") {
		t.Fatalf("a fresh commit reads %q", clean)
	}
	for _, name := range []string{"bench/results/embedded.json", "bench/RESULTS.md", "bench/race-embedded.svg"} {
		write(name, "two")
	}
	if got := commitOf(ctx, filepath.Join(dir, "bench")); got != clean {
		t.Errorf("with the race's output rewritten: %q, want %q", got, clean)
	}
	for _, name := range []string{"bench/results/kafka-cache-1MiB.json", "bench/race-kafka.svg"} {
		write(name, "new")
	}
	if got := commitOf(ctx, filepath.Join(dir, "bench")); got != clean {
		t.Errorf("with the race's output written anew: %q, want %q", got, clean)
	}
	write("producer.go", "two")
	if got := commitOf(ctx, filepath.Join(dir, "bench")); got != clean+"-dirty" {
		t.Errorf("with the library changed: %q, want %q", got, clean+"-dirty")
	}
}

// TestLatencyTableSaysWhereEachClientsLatenciesStart: the latency table
// names each row's origin, the runs from before the driver reported one
// (Produce call, or the Java producer's send() call) included, so that
// p99s timed from the due time are not read beside older ones as if alike.
func TestLatencyTableSaysWhereEachClientsLatenciesStart(t *testing.T) {
	r := &Results{Broker: "embedded", Workloads: []string{"latency"}, Clients: []string{"gokafka", Baseline, "java"}}
	for _, run := range []Run{
		{Client: "gokafka"},
		{Client: Baseline, LatencyFrom: driver.LatencyFromDueTime},
		{Client: "java"},
	} {
		run.Round, run.Workload, run.Records, run.CPU, run.P99, run.Requests = 1, "latency", 1000, time.Second, time.Millisecond, -1
		r.Runs = append(r.Runs, run)
	}
	var md strings.Builder
	writeBroker(&md, r, "chart.svg")
	for client, origin := range map[string]string{"gokafka": "Produce call", Baseline: "due time", "java": "send() call"} {
		row := ""
		for _, line := range strings.Split(md.String(), "\n") {
			if strings.HasPrefix(line, "| "+client+" |") { // the grids' rows start with a workload
				row = line
			}
		}
		if !strings.Contains(row, "| "+origin+" |") {
			t.Errorf("%s's latency row %q does not say its latencies start at the %s", client, row, origin)
		}
	}
}

// TestCommitCountsAnUntrackedSourceFile: a new file the commit does not
// track is built into the race's binaries as surely as an edited one, and
// marks the tree dirty; one the repository ignores does not.
func TestCommitCountsAnUntrackedSourceFile(t *testing.T) {
	dir, git, write := newWorkTree(t)
	write("producer.go", "package producer\n")
	write("bench/go.mod", "module bench\n")
	write(".gitignore", "*.prof\n")
	git("add", ".")
	git("commit", "-q", "-m", "one")
	ctx := context.Background()
	clean := commitOf(ctx, filepath.Join(dir, "bench"))
	write("bench/cpu.prof", "ignored")
	if got := commitOf(ctx, filepath.Join(dir, "bench")); got != clean {
		t.Errorf("with an ignored file: %q, want %q", got, clean)
	}
	write("internal/fastpath/fastpath.go", "package fastpath\n")
	if got := commitOf(ctx, filepath.Join(dir, "bench")); got != clean+"-dirty" {
		t.Errorf("with an untracked fastpath.go in the library: %q, want %q", got, clean+"-dirty")
	}
}

// newWorkTree is an empty git repository in a temporary directory, with
// git running a git command in it and write writing a file into it.
func newWorkTree(t *testing.T) (dir string, git func(args ...string), write func(name, text string)) {
	t.Helper()
	dir = t.TempDir()
	git = func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.email=race@example.com", "-c", "user.name=race"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write = func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	return dir, git, write
}

// legacy is a race written before results said how peak RSS was read and
// in what order the clients ran: read from its file, it has neither field
// (the races of bench/results from before 2026-12-05 are such).
func legacy() []*Results { return []*Results{{Broker: "embedded-instructions"}} }

// intro is the introduction RESULTS.md gives races all.
func intro(all []*Results) string {
	var md strings.Builder
	writeIntro(&md, all)
	return md.String()
}

// TestIntroSaysHowPeakRSSWasMeasured: the results of races before the
// race read each client's own peak took the rusage maxrss, and say so; a
// race since says it read VmHWM, and a mix names each race's.
func TestIntroSaysHowPeakRSSWasMeasured(t *testing.T) {
	if got := intro(legacy()); !strings.Contains(got, "Peak RSS is the client process's rusage maxrss") || strings.Contains(got, "VmHWM") {
		t.Errorf("an older race's intro does not say its peak RSS is the maxrss:\n%s", got)
	}
	fresh := &Results{Broker: "kafka", PeakRSSFrom: PeakRSSOwn}
	if got := intro([]*Results{fresh}); !strings.Contains(got, "Peak RSS is the client process's own high-water resident set, Linux's VmHWM") {
		t.Errorf("a new race's intro does not say its peak RSS is VmHWM:\n%s", got)
	}
	mixed := intro([]*Results{{Broker: "embedded"}, fresh})
	for _, want := range []string{"In the race of embedded: Peak RSS is the client process's rusage maxrss", "In the race of kafka: Peak RSS is the client process's own"} {
		if !strings.Contains(mixed, want) {
			t.Errorf("a mixed intro does not say %q:\n%s", want, mixed)
		}
	}
}

// TestIntroSaysInWhatOrderTheClientsRan: the results of races before
// the order was counterbalanced, which ran the clients in a fixed order and
// do not say so, are not described as shuffled; a race since says its
// order was counterbalanced.
func TestIntroSaysInWhatOrderTheClientsRan(t *testing.T) {
	if got := intro(legacy()); !strings.Contains(got, "The clients ran in a fixed order") || strings.Contains(got, "shuffle") {
		t.Errorf("an older race's intro does not say it ran in a fixed order:\n%s", got)
	}
	fresh := &Results{Broker: "kafka", Order: OrderCounterbalanced}
	if got := intro([]*Results{fresh}); !strings.Contains(got, "an order counterbalanced over pairs of rounds") || strings.Contains(got, "fixed order") {
		t.Errorf("a new race's intro does not say its order was counterbalanced:\n%s", got)
	}
	mixed := intro([]*Results{{Broker: "embedded"}, fresh})
	for _, want := range []string{"In the race of embedded: The clients ran in a fixed order", "In the race of kafka: Each workload's clients ran in an order counterbalanced"} {
		if !strings.Contains(mixed, want) {
			t.Errorf("a mixed intro does not say %q:\n%s", want, mixed)
		}
	}
}

// TestJavaStartupIsStated: a broker's section with the Java producer says
// what its start-up costs, as the race measured it or, in a race that did
// not, as measured apart; RESULTS.md said only "JVM start-up and JIT".
func TestJavaStartupIsStated(t *testing.T) {
	section := func(r *Results) string {
		var md strings.Builder
		writeBroker(&md, r, "chart.svg")
		return md.String()
	}
	measured := &Results{Broker: "embedded", Records: 1_000_000, Clients: []string{"gokafka", "java"},
		JavaStartup: &Startup{Workload: "nokey", Records: 1000, CPU: 1500 * time.Millisecond}}
	if got := section(measured); !strings.Contains(got, "start-up: 1.50 s of CPU, for ProducerPerformance sending 1000 records of the no key, no compression workload (measured once in this race") ||
		!strings.Contains(got, "Over a throughput run of 1000000 records that is 1.50 µs a record") {
		t.Errorf("the measured start-up is not stated:\n%s", got)
	}
	old := &Results{Broker: "embedded", Records: 1_000_000, Clients: []string{"gokafka", "java"}}
	if got := section(old); !strings.Contains(got, "start-up: 1.28 s of CPU") || !strings.Contains(got, "measured apart from this race") {
		t.Errorf("a race that did not measure the start-up does not state its size:\n%s", got)
	}
	if got := section(&Results{Broker: "embedded", Records: 1000, Clients: []string{"gokafka"}}); strings.Contains(got, "start-up") {
		t.Errorf("a race without the Java producer speaks of its start-up:\n%s", got)
	}
	if st := (harness{}).measureJavaStartup(context.Background(), []Contender{{Name: "gokafka"}}); st != nil {
		t.Errorf("measured a start-up without the Java producer: %+v", st)
	}
}
