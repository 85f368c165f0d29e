package race

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"
)

// Options is one race.
type Options struct {
	Clients   []Contender
	Workloads []Workload
	Rounds    int
	// Records is the measured records of each throughput run, and
	// LatencyRecords of each run at a fixed rate.
	Records        int
	LatencyRecords int

	// Brokers is a running broker to race on; empty starts a fresh
	// embedded broker process (cmd/racebroker) for every run.
	Brokers []string
	// ProduceRequests, if set, reads how many Produce requests the running
	// broker has served so far, from every client. A run's requests are
	// the difference across it: the race produces nothing else meanwhile.
	// The embedded broker counts its own.
	ProduceRequests func(context.Context) (int64, error)
	// BrokerName labels the broker in the report.
	BrokerName string

	// ModuleDir is the bench module's directory, where the Go contenders
	// are built.
	ModuleDir string
	// WorkDir holds the binaries and the Java payload file.
	WorkDir string
	// Java and JavaClasspath run the Java producer; the classpath comes
	// from `integration/kafka/broker.sh tools-classpath`.
	Java          string
	JavaClasspath string

	// Instructions counts each Go client's instructions per record under
	// callgrind instead of timing it (instructions.go); the Java producer
	// is not counted.
	Instructions bool
	// CacheSize, with Instructions, also has callgrind simulate a
	// last-level data cache of this many bytes and count its misses per
	// record (cachesim.go): how much memory a record's path touches that
	// the cache no longer holds. 0 simulates no cache.
	CacheSize int64

	// RunTimeout bounds one client process.
	RunTimeout time.Duration
	// Log receives progress, one line per run.
	Log io.Writer
}

// Run is one client process's run, as the report reads it.
type Run struct {
	Round    int    `json:"round"`
	Workload string `json:"workload"`
	Client   string `json:"client"`
	Topic    string `json:"topic"`

	Records  int           `json:"records"` // measured records
	CPU      time.Duration `json:"cpu"`     // the process's user+sys
	MaxRSS   int64         `json:"max_rss"` // peak RSS in bytes, as Results.PeakRSSFrom says
	Elapsed  time.Duration `json:"elapsed"`
	P50      time.Duration `json:"p50,omitempty"`
	P99      time.Duration `json:"p99,omitempty"`
	Requests int64         `json:"requests"` // Produce requests, -1 if unknown
	// LatencyFrom is where P50 and P99 start, as the client reported it
	// (driver.Result.LatencyFrom); empty in results made before it was
	// reported (latencyOrigin).
	LatencyFrom string `json:"latency_from,omitempty"`
	// Instructions is what a record cost in a race that counts them
	// (Options.Instructions): the instructions the client process
	// executed per record in steady state. CPU, RSS, elapsed time and
	// latency are then those of the full run under callgrind, and
	// Requests those of both runs.
	Instructions float64 `json:"instructions,omitempty"`
	// CacheReadMisses and CacheWriteMisses are a record's misses in the
	// simulated last-level cache of a race with a CacheSize, in steady
	// state as Instructions is.
	CacheReadMisses  float64 `json:"cache_read_misses,omitempty"`
	CacheWriteMisses float64 `json:"cache_write_misses,omitempty"`
	// SenderStack is a Go client's peak goroutine stack memory per
	// sender, in bytes, on the workloads with synchronous senders.
	SenderStack int64 `json:"sender_stack,omitempty"`
	// Produced is what the client says it sent, Counted what the topic's
	// high watermarks add up to.
	Produced int   `json:"produced"`
	Counted  int64 `json:"counted"`

	Version string   `json:"version"`
	Config  []string `json:"config"`
	// Err is why the run does not count; empty for a good run.
	Err string `json:"error,omitempty"`
}

// Results is one race on one broker.
type Results struct {
	Broker    string        `json:"broker"`
	Commit    string        `json:"commit,omitempty"` // this repository's, for gokafka
	Started   time.Time     `json:"started"`
	Finished  time.Time     `json:"finished"`
	Rounds    int           `json:"rounds"`
	Records   int           `json:"records"`
	Latency   int           `json:"latency_records"`
	Machine   Machine       `json:"machine"`
	Skipped   []string      `json:"skipped,omitempty"` // clients that could not run, and why
	Runs      []Run         `json:"runs"`
	Clients   []string      `json:"clients"`
	Workloads []string      `json:"workloads"`
	Duration  time.Duration `json:"duration"`
	// BrokerCountsRequests: a real broker counted the runs' Produce
	// requests (Options.ProduceRequests), not the clients themselves.
	BrokerCountsRequests bool `json:"broker_counts_requests,omitempty"`
	// Instructions: the race counted instructions (Options.Instructions)
	// and timed nothing worth reporting.
	Instructions bool `json:"instructions,omitempty"`
	// CacheSize is the simulated last-level cache's size in bytes, in a
	// race that counted instructions with one (Options.CacheSize).
	CacheSize int64 `json:"cache_size,omitempty"`
	// ValuesChecked: each Go client's run counted only if its topic, read
	// back, held each value as many times as the client sent it; races
	// before it was set counted the topic's records alone.
	ValuesChecked bool `json:"values_checked,omitempty"`
	// PeakRSSFrom says how the runs' peak RSS was measured: PeakRSSOwn,
	// or, empty in races before it, the rusage maxrss, which on Linux
	// starts at the harness's own peak (driver.PeakRSS says why).
	PeakRSSFrom string `json:"peak_rss_from,omitempty"`
	// Order is how each round ordered the clients: OrderCounterbalanced,
	// or OrderFixed, which a results file without it ran in.
	Order string `json:"order,omitempty"`
	// JavaStartup is what the Java producer spent on a run too short to
	// be more than its start-up (measureJavaStartup); nil where the race
	// did not measure it.
	JavaStartup *Startup `json:"java_startup,omitempty"`
}

// Startup is a client's CPU on a run of a few records: its fixed cost,
// which every run of it pays once, whatever its length.
type Startup struct {
	Workload string        `json:"workload"`
	Records  int           `json:"records"`
	CPU      time.Duration `json:"cpu"`
}

// Results.Order's values.
const (
	// OrderFixed: every round and workload ran the clients in the order
	// of Results.Clients.
	OrderFixed = "fixed"
	// OrderCounterbalanced: each workload's clients ran in the order of
	// inTurn.
	OrderCounterbalanced = "counterbalanced"
)

// order is how r's rounds ordered the clients: races from before Results
// said so ran them in a fixed order.
func (r *Results) order() string {
	if r.Order == "" {
		return OrderFixed
	}
	return r.Order
}

// PeakRSSOwn is Results.PeakRSSFrom for a race that took each client's own
// peak where it could read one (peakOf): a Go client's VmHWM as it
// reported it, the JVM's as the harness sampled it.
const PeakRSSOwn = "own"

// Race runs every workload through every client, Rounds times,
// interleaved: round 1 runs each client once on each workload, then round
// 2, and so on, each workload's clients in an order of its own,
// counterbalanced round by round (inTurn). A run that fails is kept with
// its error and left out of the medians; Race fails only when it cannot
// race at all or is interrupted, and then returns no Results: a race cut
// short must not replace a whole one's results file (its runs so far are
// in the log).
func Race(ctx context.Context, o Options) (*Results, error) {
	if err := o.prepare(); err != nil {
		return nil, err
	}
	res := newResults(ctx, o)
	files, err := buildHarness(ctx, o)
	if err != nil {
		return nil, err
	}
	clients, binaries := buildClients(ctx, o, res)
	if files.payloads, err = writePayloads(o.WorkDir); err != nil {
		return nil, err
	}

	h := harness{o: o, files: files, binaries: binaries}
	res.JavaStartup = h.measureJavaStartup(ctx, clients)
	if err := h.runRounds(ctx, res, clients); err != nil {
		return nil, err
	}
	res.Finished = time.Now().UTC()
	res.Duration = res.Finished.Sub(res.Started).Round(time.Second)
	return res, nil
}

// prepare refuses Options the race cannot run, and fills in the defaults
// of those left at zero.
func (o *Options) prepare() error {
	if o.Rounds < 1 || o.Records < 1 || o.LatencyRecords < 1 {
		return fmt.Errorf("rounds, records and latency records must be at least 1")
	}
	if o.RunTimeout == 0 {
		o.RunTimeout = 10 * time.Minute
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.CacheSize != 0 {
		if !o.Instructions {
			return fmt.Errorf("a simulated cache needs the instruction count (Instructions)")
		}
		if err := checkCacheSize(o.CacheSize); err != nil {
			return err
		}
	}
	if o.Instructions {
		if err := checkCountTool(); err != nil {
			return err
		}
	}
	return nil
}

// newResults is the Results of a race on o, begun now, without its clients
// or runs.
func newResults(ctx context.Context, o Options) *Results {
	res := &Results{Broker: o.BrokerName, Started: time.Now().UTC(), Rounds: o.Rounds, Records: o.Records, Latency: o.LatencyRecords,
		Instructions: o.Instructions, CacheSize: o.CacheSize, ValuesChecked: true, PeakRSSFrom: PeakRSSOwn, Order: OrderCounterbalanced}
	res.Machine = describeMachine(o.Java)
	res.BrokerCountsRequests = len(o.Brokers) > 0 && o.ProduceRequests != nil
	res.Commit = commitOf(ctx, o.ModuleDir)
	for _, w := range o.Workloads {
		res.Workloads = append(res.Workloads, w.Name)
	}
	return res
}

// buildHarness builds the embedded broker, where the race owns it, and
// the binary that reads a run's topic back.
func buildHarness(ctx context.Context, o Options) (harnessFiles, error) {
	var files harnessFiles
	if len(o.Brokers) == 0 {
		bin, err := Contender{Name: "racebroker", Package: "./cmd/racebroker"}.build(ctx, o.ModuleDir, o.WorkDir)
		if err != nil {
			return files, err
		}
		files.broker = bin
	}
	readBack, err := Contender{Name: "racereadback", Package: "./cmd/racereadback"}.build(ctx, o.ModuleDir, o.WorkDir)
	if err != nil {
		return files, err
	}
	files.readBack = readBack
	return files, nil
}

// buildClients is the clients that can race, with each Go client's binary
// by name. It notes in res those that cannot, and why, and names the
// others.
func buildClients(ctx context.Context, o Options, res *Results) (clients []Contender, binaries map[string]string) {
	binaries = map[string]string{}
	for _, c := range o.Clients {
		switch {
		case c.Java && o.Instructions:
			res.Skipped = append(res.Skipped, c.Name+": instructions are counted for the Go clients only")
			continue
		case c.Java && (o.Java == "" || o.JavaClasspath == ""):
			res.Skipped = append(res.Skipped, c.Name+": no Java classpath (run with -java)")
			continue
		case !c.Java:
			if c.Ref != "" {
				pinned, err := c.pinned(ctx, o.ModuleDir)
				if err != nil {
					res.Skipped = append(res.Skipped, c.Name+": "+firstLine(err.Error()))
					fmt.Fprintf(o.Log, "skipping %v\n", err)
					continue
				}
				c = pinned
			}
			bin, err := c.build(ctx, o.ModuleDir, o.WorkDir)
			if err != nil {
				res.Skipped = append(res.Skipped, c.Name+": "+firstLine(err.Error()))
				fmt.Fprintf(o.Log, "skipping %v\n", err)
				continue
			}
			binaries[c.Name] = bin
		}
		clients = append(clients, c)
		res.Clients = append(res.Clients, c.Name)
	}
	return clients, binaries
}

// runRounds runs the rounds, adding each run to res and logging it as it
// ends; it stops at the first run that finds ctx done.
func (h harness) runRounds(ctx context.Context, res *Results, clients []Contender) error {
	o := h.o
	for round := 1; round <= o.Rounds; round++ {
		for wi, w := range o.Workloads {
			for _, c := range inTurn(clients, round, wi) {
				if !c.supports(w) {
					continue
				}
				run := h.oneRun(ctx, round, w, c)
				res.Runs = append(res.Runs, run)
				logRun(o.Log, run, o.CacheSize != 0)
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// inTurn is the order the clients run in a round (from 1) on its workload
// (by index). In a fixed order, or one rotated each round, which keeps each
// client's neighbours and runs the workloads back to back, a client meets
// the broker in the same state each time (right after the same other
// client's run, its log and page cache as that run left them): a bias in
// its per-round ratios that no number of rounds removes. So the rounds go
// in pairs, counterbalanced: the first of a pair is a shuffle, the second
// runs it backwards, so that over a pair every client holds mirrored
// places (first and last, second and second to last) and follows, in the
// second, the client it preceded in the first. A new pair that would begin
// in the order the last one ended in begins reversed instead, so that no
// two rounds in a row run alike and two clients simply alternate. Over an
// even number of rounds every client's places balance; an odd number
// leaves the last pair's first round unmatched.
//
// Each pair's shuffle is seeded by the pair and the workload, mixed
// (splitmix64), so that a race run again runs in the same order (the log
// shows it). Seeded with the raw numbers, PCG's first outputs agree in
// their low bits for small seeds, and a shuffle of two clients, which
// uses that bit, ran them in the same order in rounds 1 to 5.
func inTurn[T any](clients []T, round, workload int) []T {
	pair := (round - 1) / 2
	order := pairStart(len(clients), pair, workload)
	if round%2 == 0 {
		slices.Reverse(order)
	}
	turn := make([]T, len(clients))
	for i, c := range order {
		turn[i] = clients[c]
	}
	return turn
}

// pairStart is the order, as indexes into n clients, of the first round
// of pair (from 0) on workload: pair's shuffle, or its reverse where the
// shuffle is the order the pair before ended in.
func pairStart(n, pair, workload int) []int {
	var start []int
	for p := 0; p <= pair; p++ {
		next := shuffled(n, p, workload)
		if p > 0 && slices.Equal(next, reversed(start)) {
			slices.Reverse(next)
		}
		start = next
	}
	return start
}

// shuffled is a shuffle of 0..n-1 seeded by pair and workload, each mixed
// into a seed of its own.
func shuffled(n, pair, workload int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	seed := splitmix64(uint64(pair)<<32 | uint64(uint32(workload)))
	rng := rand.New(rand.NewPCG(seed, splitmix64(seed)))
	rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func reversed(order []int) []int {
	r := slices.Clone(order)
	slices.Reverse(r)
	return r
}

// splitmix64 is SplitMix64's step: consecutive inputs give outputs that
// share no bit pattern, as a PCG seed needs.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// javaStartupRecords is how many records the run that measures the Java
// producer's start-up sends: enough for a batch or two, few enough that
// sending them costs next to nothing beside starting a JVM.
const javaStartupRecords = 1000

// measureJavaStartup runs the Java producer once, before the rounds, on
// the first throughput workload it runs, with javaStartupRecords records,
// and returns its CPU: what each of its runs pays before it sends at
// speed (JVM start-up, class loading, JIT), which its CPU per record
// includes and a Go client's hardly has (about 1.3 s against a few ms). It
// is reported beside the ratios, which it does not change. Nil without the
// Java producer, or if the run failed (the log says why).
func (h harness) measureJavaStartup(ctx context.Context, clients []Contender) *Startup {
	o := h.o
	i := slices.IndexFunc(clients, func(c Contender) bool { return c.Java })
	if i < 0 {
		return nil
	}
	for _, w := range o.Workloads {
		if w.Rate > 0 || !clients[i].supports(w) {
			continue
		}
		short := h
		short.o.Records = javaStartupRecords
		fmt.Fprintf(o.Log, "measuring the Java producer's start-up on %d records (round 0, not counted):\n", javaStartupRecords)
		run := short.oneRun(ctx, 0, w, clients[i])
		logRun(o.Log, run, false)
		if run.Err != "" {
			return nil
		}
		return &Startup{Workload: w.Name, Records: run.Records, CPU: run.CPU}
	}
	return nil
}
