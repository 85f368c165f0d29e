package race

import (
	"context"
	"fmt"
	"io"
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
