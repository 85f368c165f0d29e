package race

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

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

// WriteResults writes one race's runs to dir/BROKER.json, or
// dir/BROKER-instructions.json for a race that counted instructions, or
// dir/BROKER-cache-SIZE.json for one that also simulated a cache,
// replacing an earlier race of the same kind on the same broker.
func WriteResults(dir string, r *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, r.name()+".json"), append(b, '\n'), 0o644)
}

// name tells r's results apart from another kind of race's on the same
// broker: "embedded", "embedded-instructions" for a race that counted, or
// "embedded-cache-16MiB" for one that also simulated a 16 MiB cache, so
// that races with different caches keep their results side by side.
func (r *Results) name() string {
	switch {
	case r.CacheSize != 0:
		return r.Broker + "-cache-" + strings.ReplaceAll(FormatCacheSize(r.CacheSize), " ", "")
	case r.Instructions:
		return r.Broker + "-instructions"
	}
	return r.Broker
}

// ReadResults reads every results file in dir, embedded first, and the
// races that timed before those that counted instructions, those before
// the ones that simulated a cache, smallest cache first.
func ReadResults(dir string) ([]*Results, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var all []*Results
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, &r)
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.Instructions != b.Instructions {
			return !a.Instructions
		}
		if a.CacheSize != b.CacheSize {
			return a.CacheSize < b.CacheSize
		}
		return a.Broker == "embedded" && b.Broker != "embedded"
	})
	return all, nil
}
